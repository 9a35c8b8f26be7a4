// Checksums used across the tiers: CRC32C frames WAL records, SHA-256 names
// the content of segments and objects. Both are hardware-accelerated
// (ISA-L for CRC32C, OpenSSL for SHA-256) where the CPU allows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace strata {

using Sha256Digest = std::array<uint8_t, 32>;

// Standard CRC32C (Castagnoli, as in iSCSI and ext4): crc32c("123456789") == 0xE3069283.
// `crc` continues a previous value: crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(const void* data, size_t len, uint32_t crc = 0);

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);
  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Returns the digest of everything so far; the object stays usable and
  // keeps accumulating (finish works on a copy).
  Sha256Digest finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

Sha256Digest sha256(const void* data, size_t len);
inline Sha256Digest sha256(std::string_view s) {
  return sha256(s.data(), s.size());
}

std::string to_hex(std::span<const uint8_t> bytes);
inline std::string to_hex(const Sha256Digest& d) {
  return to_hex(std::span<const uint8_t>(d));
}
std::string sha256_hex(std::string_view data);

std::string base64_encode(std::string_view data);
// Throws Error(kInvalidArgument) on malformed input.
std::string base64_decode(std::string_view text);

}  // namespace strata
