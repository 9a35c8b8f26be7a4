// The API's routes, in one table: what the daemon registers, what metrics
// label requests with, what a wrong method is told, and what the tests hold
// docs/openapi.yaml against.
#pragma once

#include <string>
#include <string_view>

namespace strata::server {

struct Route {
  std::string_view method;
  std::string_view path;  // OpenAPI form: "/v1/entries/{seq}"; a {parameter} only at the end
};

inline constexpr Route kRoutes[] = {
    {"POST", "/v1/entries"},     {"GET", "/v1/entries"},   {"GET", "/v1/entries/{seq}"},
    {"GET", "/v1/state/{path}"}, {"GET", "/v1/status"},    {"POST", "/v1/sync"},
    {"POST", "/v1/archive"},     {"POST", "/v1/snapshot"}, {"GET", "/metrics"},
    {"GET", "/healthz"},         {"GET", "/readyz"},
};

// The route pattern a request path belongs to ("/v1/entries/{seq}" for
// "/v1/entries/12"), or "other".
std::string_view route_label(std::string_view path);
// "GET, HEAD, POST": the methods a route pattern takes (GET implies HEAD).
std::string allowed_methods(std::string_view route);
bool method_allowed(std::string_view route, std::string_view method);

}  // namespace strata::server
