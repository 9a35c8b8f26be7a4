#include "common/random_id.h"

#include <openssl/rand.h>

#include <climits>
#include <cstdint>

#include "strata/error.h"

namespace strata {

namespace {
constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}  // namespace

void random_bytes(void* buf, size_t n) {
  auto* p = static_cast<unsigned char*>(buf);
  while (n > 0) {
    const int chunk = static_cast<int>(std::min<size_t>(n, INT_MAX));
    if (RAND_bytes(p, chunk) != 1) {
      throw Error(ErrorCode::kInternal, "OpenSSL RAND_bytes could not produce random bytes");
    }
    p += chunk;
    n -= static_cast<size_t>(chunk);
  }
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  random_bytes(raw.data(), raw.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string new_ulid(std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  if (ms.count() < 0 || static_cast<uint64_t>(ms.count()) >= (uint64_t{1} << 48)) {
    throw Error(ErrorCode::kInvalidArgument, "a ULID holds times from 1970 to 10889 only");
  }
  // 128 bits, big-endian: 6 bytes of time, then 10 random bytes.
  unsigned char v[16];
  const auto t = static_cast<uint64_t>(ms.count());
  for (int i = 0; i < 6; ++i) v[i] = static_cast<unsigned char>(t >> (8 * (5 - i)));
  random_bytes(v + 6, 10);
  // 26 digits of 5 bits cover 130 bits; the first digit takes the top 3.
  std::string out(26, '0');
  for (int digit = 25, bit = 0; digit >= 0; --digit, bit += 5) {
    // Bits [bit, bit + 5) counted from the least significant end.
    unsigned value = 0;
    for (int k = 0; k < 5 && bit + k < 128; ++k) {
      const int b = bit + k;
      const unsigned byte = v[15 - b / 8];
      value |= ((byte >> (b % 8)) & 1u) << k;
    }
    out[static_cast<size_t>(digit)] = kCrockford[value];
  }
  return out;
}

bool is_ulid(std::string_view s) {
  if (s.size() != 26 || s[0] > '7') return false;
  for (char c : s) {
    if (kCrockford.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace strata
