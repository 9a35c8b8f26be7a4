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

}  // namespace strata
