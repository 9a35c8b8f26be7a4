#include "strata/entry.h"

#include <fmt/format.h>

#include "strata/error.h"

namespace strata {

std::string_view entry_type_name(EntryType t) {
  switch (t) {
    case EntryType::kSession:
      return "session";
    case EntryType::kBead:
      return "bead";
    case EntryType::kMemory:
      return "memory";
    case EntryType::kConfig:
      return "config";
  }
  return "?";
}

std::string_view entry_op_name(EntryOp op) {
  switch (op) {
    case EntryOp::kCreate:
      return "create";
    case EntryOp::kUpdate:
      return "update";
    case EntryOp::kDelete:
      return "delete";
  }
  return "?";
}

EntryType parse_entry_type(std::string_view s) {
  if (s == "session") return EntryType::kSession;
  if (s == "bead") return EntryType::kBead;
  if (s == "memory") return EntryType::kMemory;
  if (s == "config") return EntryType::kConfig;
  throw Error(ErrorCode::kInvalidArgument,
              fmt::format("unknown entry type '{}': expected session, bead, memory or config", s));
}

EntryOp parse_entry_op(std::string_view s) {
  if (s == "create") return EntryOp::kCreate;
  if (s == "update") return EntryOp::kUpdate;
  if (s == "delete") return EntryOp::kDelete;
  throw Error(ErrorCode::kInvalidArgument,
              fmt::format("unknown entry op '{}': expected create, update or delete", s));
}

void validate_entry_path(std::string_view path) {
  auto bad = [&](std::string_view why) {
    // The path may hold control bytes; show it escaped.
    std::string shown;
    for (char c : path.substr(0, 80)) {
      auto u = static_cast<unsigned char>(c);
      shown += (u < 0x20 || u >= 0x7f) ? fmt::format("\\x{:02x}", u) : std::string(1, c);
    }
    return Error(ErrorCode::kInvalidPath, fmt::format("invalid path '{}': {}", shown, why));
  };
  if (path.empty()) throw bad("it is empty");
  if (path.size() > kMaxEntryPathBytes) {
    throw bad(fmt::format("it is {} bytes, the limit is {}", path.size(), kMaxEntryPathBytes));
  }
  if (path.front() == '/') throw bad("it must be relative (no leading '/')");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty()) throw bad("it has an empty segment ('//' or a trailing '/')");
    if (seg == "..") throw bad("it has a '..' segment");
    if (seg == ".") throw bad("it has a '.' segment");
    for (char c : seg) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) {
        throw bad(c == '\0' ? std::string("it contains a NUL byte")
                            : fmt::format("segment '{}' has a character outside [A-Za-z0-9._-]",
                                          seg.size() > 40 ? std::string(seg.substr(0, 40)) + "..."
                                                          : std::string(seg)));
      }
    }
    start = end + 1;
  }
}

}  // namespace strata
