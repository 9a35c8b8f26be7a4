// Which failures are worth another attempt, and how long to wait before it.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace strata::storage {

struct BackoffPolicy {
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds cap{5000};
};

// Exponential backoff with "equal jitter": the ceiling doubles per retry
// (base * 2^retry, capped), and the delay is drawn uniformly from its upper
// half. Jitter spreads out clients that failed together; keeping half the
// ceiling guarantees the store actually gets time to recover.
// retry counts from 0 for the first retry.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int retry,
                                        std::mt19937_64& rng);

// HTTP statuses that mean "try again": 5xx other than 501 (not implemented
// does not get better) and 429.
bool retryable_status(long status);

}  // namespace strata::storage
