#include "wal/space_guard.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace strata::wal {

SpaceGuard::SpaceGuard(SpaceLimits limits, std::function<uint64_t()> free_bytes, std::string dir,
                       Clock clock)
    : limits_(limits),
      free_bytes_fn_(std::move(free_bytes)),
      name_(std::move(dir)),
      clock_(std::move(clock)) {}

SpaceVerdict SpaceGuard::check(uint64_t total, uint64_t bytes) {
  SpaceVerdict v;
  // Re-armed only below the mark: a compaction that drops nothing does not
  // make the warning print again.
  if (total < limits_.warn_bytes) warned_ = false;
  if (total + bytes > limits_.max_bytes) {
    v.too_big = true;
    return v;
  }
  if (total + bytes >= limits_.warn_bytes && !warned_) {
    warned_ = true;
    v.warn_crossed = true;
    // The size this write brings it to: the size before it may still be
    // below the mark.
    spdlog::warn("WAL {} reaches {} bytes, past WAL_WARN_BYTES ({}): compaction requested", name_,
                 total + bytes, limits_.warn_bytes);
  }
  const auto now = clock_();
  if (low_free_ || !checked_ || now >= next_free_check_) {
    checked_ = true;
    next_free_check_ = now + kFreeCheckInterval;
    free_bytes_ = free_bytes_fn_();
    if (low_free_ && free_bytes_ >= limits_.resume_free_bytes) {
      low_free_ = false;
      spdlog::info("WAL {}: free space {} bytes, writes resume", name_, free_bytes_);
    } else if (!low_free_ && free_bytes_ < limits_.stop_free_bytes) {
      low_free_ = true;
      spdlog::error("WAL {}: free space {} bytes below WAL_MIN_FREE_BYTES ({}): refusing writes",
                    name_, free_bytes_, limits_.stop_free_bytes);
    }
  }
  v.low_free = low_free_;
  return v;
}

Error SpaceGuard::low_free_error() const {
  return Error(ErrorCode::kDiskFull,
               fmt::format("only {} bytes free on the file system of {}: writes stop below "
                           "WAL_MIN_FREE_BYTES ({}) and resume above WAL_RESUME_FREE_BYTES ({})",
                           free_bytes_, name_, limits_.stop_free_bytes, limits_.resume_free_bytes));
}

Error SpaceGuard::too_big_error(uint64_t total, uint64_t retention_floor) const {
  // The WAL directory is DATA_DIR/wal for the command line.
  std::string cmd = "strata compact --force";
  if (name_.ends_with("/wal") && name_.size() > 4) {
    cmd = fmt::format("strata --data-dir '{}' compact --force", name_.substr(0, name_.size() - 4));
  }
  return Error(
      ErrorCode::kDiskPressureCritical,
      fmt::format("WAL {} holds {} bytes; this write would pass WAL_MAX_BYTES ({}). Entries are "
                  "dropped only once every registered remote tier has confirmed them (retention "
                  "floor {}); `{}` drops superseded entries of sealed segments even if no remote "
                  "holds them; or raise WAL_MAX_BYTES",
                  name_, total, limits_.max_bytes, retention_floor, cmd));
}

}  // namespace strata::wal
