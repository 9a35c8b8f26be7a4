#include "git/path_rules.h"

namespace strata::git {

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
