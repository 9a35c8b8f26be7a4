// Parsing R2_ENDPOINT and choosing between path-style and virtual-host
// addressing.
#pragma once

#include <string>
#include <string_view>

namespace strata::storage {

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case; IPv6 literals keep their brackets
  std::string port;    // "" when not given
  // host[:port] exactly as sent in the Host header.
  std::string authority() const { return port.empty() ? host : host + ":" + port; }
};

// "https://host[:port]" with an optional trailing '/'. Throws
// Error(kConfigInvalid) naming `what` on anything else (user info, a path, a
// query or an unknown scheme).
Endpoint parse_endpoint(std::string_view url, std::string_view what);

bool is_ip_literal(std::string_view host);
// Bucket names usable as a DNS label under TLS (no dots, S3 naming rules).
bool dns_compatible_bucket(std::string_view bucket);
// A Cloudflare R2 endpoint (*.r2.cloudflarestorage.com), for its safe defaults.
bool is_r2_endpoint(std::string_view url);

}  // namespace strata::storage
