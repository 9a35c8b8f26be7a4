// The size of the power-loss tests: each runs `n` rounds (seeds, cut
// points) by default, times STRATA_POWER_LOSS_SCALE for a long run
// (scripts/power-loss-figures.sh).
#pragma once

#include <cstdlib>
#include <string>

namespace strata::testing {

inline int power_loss_rounds(int n) {
  const char* v = std::getenv("STRATA_POWER_LOSS_SCALE");
  if (v == nullptr || *v == '\0') return n;
  const long scale = std::strtol(v, nullptr, 10);
  return scale > 0 ? static_cast<int>(n * scale) : n;
}

}  // namespace strata::testing
