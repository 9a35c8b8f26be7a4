#include "strata/path_rules.h"

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/utf8.h"

namespace strata {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool in_entry_charset(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// At most `max` bytes of s, escaped, with "..." when cut.
std::string shown(std::string_view s, size_t max) {
  std::string out = escape_for_display(s.substr(0, max));
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

bool is_git_reserved_name(std::string_view name) {
  if (name.size() >= 4 && equals_ignoring_case(name.substr(0, 4), ".git")) {
    // ".git" itself, or followed only by what NTFS strips from the end of a
    // name (git's is_ntfs_dotgit).
    return name.find_first_not_of(". ", 4) == std::string_view::npos;
  }
  return equals_ignoring_case(name, "git~1");
}

std::optional<std::string> path_component_problem(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name == "." || name == "..") return "a '.' or '..' component";
  if (name.find('/') != std::string_view::npos) return "a '/' inside a name";
  if (name.find('\0') != std::string_view::npos) return "a NUL byte inside a name";
  if (name.size() > kMaxPathComponentBytes) {
    return fmt::format("a name of {} bytes (the file-system limit is {})", name.size(),
                       kMaxPathComponentBytes);
  }
  if (is_git_reserved_name(name)) {
    return "a name git reserves for its metadata (.git, .git. or git~1 in any letter case)";
  }
  return std::nullopt;
}

void validate_entry_path(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidPath,
                 fmt::format("invalid path '{}': {}", shown(path, 80), why));
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
    if (seg.find('\0') != std::string_view::npos) throw bad("it contains a NUL byte");
    for (char c : seg) {
      if (!in_entry_charset(c)) {
        throw bad(
            fmt::format("segment '{}' has a character outside [A-Za-z0-9._-]", shown(seg, 40)));
      }
    }
    if (auto why = path_component_problem(seg)) {
      throw bad(fmt::format("segment '{}' is {}", shown(seg, 40), *why));
    }
    start = end + 1;
  }
}

}  // namespace strata
