// A circuit breaker shared by every call to one store, as in the original
// (open after 3 consecutive failures, half-open after 5 minutes, closed after
// one successful probe). While open, calls fail at once with
// kStorageUnavailable instead of each waiting out its own timeouts against a
// store that is down.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "strata/storage.h"

namespace strata::storage {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;

  // label names the breaker in its log lines ("storage", "tier git", ...).
  CircuitBreaker(int failure_threshold, std::chrono::milliseconds reset_after,
                 std::function<Clock::time_point()> now = Clock::now,
                 std::string label = "storage");

  // Lets a call through or throws Error(kStorageUnavailable). In half-open
  // state exactly one call (the probe) is let through until it reports back;
  // the caller must then call exactly one of on_success / on_failure.
  void acquire(std::string_view what);
  // The store answered (any answer that is not an outage, 404 included).
  void on_success();
  // The call failed with an outage-class error (network, timeout, 5xx, 429).
  void on_failure();
  // The call ended without learning anything about the store (e.g. a local
  // file could not be read): counts neither way, frees the probe slot.
  void on_neutral();

  BreakerState state() const;
  int consecutive_failures() const;

 private:
  BreakerState state_locked(Clock::time_point now) const;

  const int threshold_;
  const std::chrono::milliseconds reset_after_;
  const std::function<Clock::time_point()> now_;
  const std::string label_;
  mutable std::mutex mu_;
  int failures_ = 0;
  bool open_ = false;
  Clock::time_point opened_at_{};
  bool probe_in_flight_ = false;
};

}  // namespace strata::storage
