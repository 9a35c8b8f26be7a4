#include "server/routes.h"

namespace strata::server {

std::string_view route_label(std::string_view path) {
  for (const Route& r : kRoutes) {
    const size_t brace = r.path.find('{');
    if (brace == std::string_view::npos) {
      if (path == r.path) return r.path;
    } else if (path.size() >= brace && path.substr(0, brace) == r.path.substr(0, brace)) {
      return r.path;
    }
  }
  return "other";
}

bool method_allowed(std::string_view route, std::string_view method) {
  for (const Route& r : kRoutes) {
    if (r.path != route) continue;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) return true;
  }
  return false;
}

std::string allowed_methods(std::string_view route) {
  std::string out;
  for (std::string_view m : {"GET", "HEAD", "POST"}) {
    if (!method_allowed(route, m)) continue;
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace strata::server
