// The space guard: whether a write may go in, by the WAL's size (warn once
// per crossing of WAL_WARN_BYTES, refuse past WAL_MAX_BYTES) and by the
// file system's free space (refuse below WAL_MIN_FREE_BYTES until it is back
// at WAL_RESUME_FREE_BYTES: hysteresis, so writes do not flap at the edge).
//
// Contract: not thread-safe (the owner calls it under its own lock). Free
// space is asked through the given function at most once per
// kFreeCheckInterval of the given clock while it is plentiful, and on every
// check while it is low (writes are refused then anyway, and the guard must
// see space come back). The size warning is reported once when a write
// crosses WAL_WARN_BYTES and re-armed only once the log is below it again.
// It never throws: the owner turns a verdict into its error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "strata/error.h"

namespace strata::wal {

struct SpaceLimits {
  uint64_t warn_bytes = 0;
  uint64_t max_bytes = 0;
  uint64_t stop_free_bytes = 0;
  uint64_t resume_free_bytes = 0;
};

struct SpaceVerdict {
  bool too_big = false;       // the write would pass max_bytes: refuse it
  bool warn_crossed = false;  // this write crosses warn_bytes (reported once)
  bool low_free = false;      // free space is low: refuse it
};

class SpaceGuard {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::chrono::milliseconds kFreeCheckInterval{100};

  // `dir` names the log in messages.
  SpaceGuard(
      SpaceLimits limits, std::function<uint64_t()> free_bytes, std::string dir,
      Clock clock = [] { return std::chrono::steady_clock::now(); });

  // For a write of `bytes` onto a log that holds `total` bytes.
  SpaceVerdict check(uint64_t total, uint64_t bytes);
  // The low-space state as of the last check, and the reading it used.
  bool low_free() const { return low_free_; }
  uint64_t free_bytes() const { return free_bytes_; }
  // What a free-space reading taken outside the owner's lock says, by the
  // same hysteresis, without changing the guard's state (status()).
  bool low_with(uint64_t free) const {
    return free < limits_.stop_free_bytes || (low_free_ && free < limits_.resume_free_bytes);
  }
  // kDiskFull naming the free space and both limits.
  Error low_free_error() const;
  // kDiskPressureCritical for a write refused because the log holds `total`
  // bytes, naming the retention floor and a command that frees space.
  Error too_big_error(uint64_t total, uint64_t retention_floor) const;

 private:
  const SpaceLimits limits_;
  const std::function<uint64_t()> free_bytes_fn_;
  const std::string name_;
  const Clock clock_;
  bool low_free_ = false;
  uint64_t free_bytes_ = 0;
  bool checked_ = false;
  std::chrono::steady_clock::time_point next_free_check_{};
  bool warned_ = false;
};

}  // namespace strata::wal
