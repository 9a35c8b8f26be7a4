// Random identifiers, all from OpenSSL's CSPRNG (RAND_bytes): ids name
// snapshots, data directories, temporary files and probes, and two of them
// must never collide, across processes and machines, whatever the seeding of
// a process-local generator would have been.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace strata {

// Fills buf with n random bytes; throws Error(kInternal) if OpenSSL cannot.
void random_bytes(void* buf, size_t n);

// 2 * bytes lowercase hex digits of fresh random bytes.
std::string random_hex(size_t bytes);

// A ULID (https://github.com/ulid/spec): the time in milliseconds since the
// Unix epoch (48 bits) then 80 random bits, as 26 Crockford base32 digits
// (0-9, A-Z without I, L, O, U). Ids made in later milliseconds sort after
// earlier ones as plain strings; ids made in the same millisecond are in
// random order. Throws Error(kInvalidArgument) for a time before the epoch
// or past the year 10889 (48 bits of milliseconds).
std::string new_ulid(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Whether s is 26 Crockford base32 digits (upper case) whose first digit is
// at most 7, i.e. a value of 128 bits.
bool is_ulid(std::string_view s);

}  // namespace strata
