#include "storage/circuit_breaker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/error.h"

namespace strata::storage {

CircuitBreaker::CircuitBreaker(int failure_threshold, std::chrono::milliseconds reset_after,
                               std::function<Clock::time_point()> now, std::string label)
    : threshold_(failure_threshold < 1 ? 1 : failure_threshold),
      reset_after_(reset_after),
      now_(std::move(now)),
      label_(std::move(label)) {}

BreakerState CircuitBreaker::state_locked(Clock::time_point now) const {
  if (!open_) return BreakerState::kClosed;
  return now - opened_at_ >= reset_after_ ? BreakerState::kHalfOpen : BreakerState::kOpen;
}

void CircuitBreaker::acquire(std::string_view what) {
  std::lock_guard lock(mu_);
  auto now = now_();
  switch (state_locked(now)) {
    case BreakerState::kClosed:
      return;
    case BreakerState::kHalfOpen:
      if (!probe_in_flight_) {
        probe_in_flight_ = true;
        return;
      }
      throw Error(ErrorCode::kStorageUnavailable,
                  fmt::format("{}: circuit breaker half-open, a probe request is in flight; "
                              "not sent",
                              what));
    case BreakerState::kOpen: {
      auto left =
          std::chrono::duration_cast<std::chrono::seconds>(reset_after_ - (now - opened_at_));
      throw Error(ErrorCode::kStorageUnavailable,
                  fmt::format("{}: circuit breaker open after {} consecutive failed calls; "
                              "not sent (next probe in {} s)",
                              what, failures_, left.count() + 1));
    }
  }
}

void CircuitBreaker::on_success() {
  std::lock_guard lock(mu_);
  if (open_) spdlog::info("{} circuit breaker closed: probe succeeded", label_);
  failures_ = 0;
  open_ = false;
  probe_in_flight_ = false;
}

void CircuitBreaker::on_failure() {
  std::lock_guard lock(mu_);
  ++failures_;
  if (probe_in_flight_) {
    // The probe failed: stay open for another full reset period.
    probe_in_flight_ = false;
    opened_at_ = now_();
    spdlog::warn("{} circuit breaker re-opened: probe failed", label_);
    return;
  }
  if (!open_ && failures_ >= threshold_) {
    open_ = true;
    opened_at_ = now_();
    spdlog::warn("{} circuit breaker opened after {} consecutive failures", label_, failures_);
  }
}

void CircuitBreaker::on_neutral() {
  std::lock_guard lock(mu_);
  probe_in_flight_ = false;
}

BreakerState CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_locked(now_());
}

int CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

}  // namespace strata::storage
