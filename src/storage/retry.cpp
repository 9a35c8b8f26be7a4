#include "storage/retry.h"

#include <algorithm>

namespace strata::storage {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int retry,
                                        std::mt19937_64& rng) {
  int64_t base = std::max<int64_t>(1, policy.base.count());
  int64_t cap = std::max<int64_t>(base, policy.cap.count());
  int shift = std::clamp(retry, 0, 30);
  int64_t ceiling = std::min<int64_t>(cap, base << shift);
  std::uniform_int_distribution<int64_t> dist(ceiling / 2, ceiling);
  return std::chrono::milliseconds(dist(rng));
}

bool retryable_status(long status) {
  return status == 429 || (status >= 500 && status != 501 && status <= 599);
}

}  // namespace strata::storage
