// SHA-256 through OpenSSL directly, independent of strata's wrapper, for
// tests that check a digest strata records.
#pragma once

#include <openssl/evp.h>

#include <string>

#include <fmt/format.h>

namespace strata::testing {

inline std::string openssl_sha256_hex(const std::string& bytes) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned i = 0; i < n; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

}  // namespace strata::testing
