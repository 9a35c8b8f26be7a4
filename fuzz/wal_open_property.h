// The property both the libFuzzer target and the CI mutation test check:
// whatever bytes an unsealed segment holds, opening the WAL either refuses
// with WAL_CORRUPT or yields only entries that were really written, in order,
// and never loses a record that lies wholly before the first damaged byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace strata::fuzz {

// A valid segment holding entries 1..count (data from entry_data).
std::string make_segment(uint64_t count);
std::string entry_data(uint64_t seq);

// Writes `segment` as the only segment of a WAL in dir, opens it (with and
// without skip_corrupt) and checks the property. `damage_from` is the first
// byte that differs from a valid segment. Returns "" or a description of the
// violation.
std::string check_open(const std::string& dir, const std::string& segment, size_t damage_from,
                       uint64_t written);

}  // namespace strata::fuzz
