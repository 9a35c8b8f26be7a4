#include "git/path_rules.h"

#include <strings.h>

namespace strata::git {

bool is_dot_git(std::string_view name) {
  return name.size() == 4 && strncasecmp(name.data(), ".git", 4) == 0;
}

std::optional<std::string> bad_component(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name == "." || name == "..") return "a '.' or '..' component";
  if (name.find('/') != std::string_view::npos) return "a '/' inside a name";
  if (name.find('\0') != std::string_view::npos) return "a NUL byte inside a name";
  if (is_dot_git(name)) return "a .git entry";
  return std::nullopt;
}

bool symlink_target_inside(std::string_view link_dir, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  long depth = 0;
  auto walk = [&depth](std::string_view path) {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string_view::npos) end = path.size();
      std::string_view part = path.substr(start, end - start);
      if (part == "..") {
        if (--depth < 0) return false;
      } else if (!part.empty() && part != ".") {
        ++depth;
      }
      start = end + 1;
    }
    return true;
  };
  return walk(link_dir) && walk(target);
}

}  // namespace strata::git
