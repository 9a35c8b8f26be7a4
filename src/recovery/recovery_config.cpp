#include <fmt/format.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/recovery.h"

namespace strata {

std::string_view recovery_mode_name(RecoveryMode m) {
  switch (m) {
    case RecoveryMode::kStrict:
      return "strict";
    case RecoveryMode::kDegraded:
      return "degraded";
    case RecoveryMode::kClean:
      return "clean";
  }
  return "?";
}

RecoveryMode parse_recovery_mode(std::string_view s, std::string_view what) {
  if (s == "strict") return RecoveryMode::kStrict;
  if (s == "degraded") return RecoveryMode::kDegraded;
  if (s == "clean") return RecoveryMode::kClean;
  throw Error(ErrorCode::kConfigInvalid,
              fmt::format("{}: expected strict, degraded or clean, got '{}'", what, s));
}

std::string_view recovery_source_name(RecoverySource s) {
  switch (s) {
    case RecoverySource::kNone:
      return "none";
    case RecoverySource::kLocal:
      return "local";
    case RecoverySource::kObjectStore:
      return "r2";
    case RecoverySource::kGit:
      return "git";
    case RecoverySource::kTemplate:
      return "template";
  }
  return "?";
}

std::string_view recovery_state_name(RecoveryState s) {
  switch (s) {
    case RecoveryState::kRunning:
      return "RUNNING";
    case RecoveryState::kDegraded:
      return "DEGRADED";
    case RecoveryState::kLoopDetected:
      return "LOOP_DETECTED";
    case RecoveryState::kFailed:
      return "FAILED";
  }
  return "?";
}

namespace {
std::chrono::milliseconds env_ms(const char* name, std::chrono::milliseconds fallback) {
  return std::chrono::milliseconds(config::env_u64(name, static_cast<uint64_t>(fallback.count())));
}
}  // namespace

RecoveryConfig RecoveryConfig::from_env(std::string data_dir) {
  RecoveryConfig c;
  c.wal = WalOptions::from_env(data_dir + "/wal");
  c.data_dir = std::move(data_dir);
  if (auto v = config::env("RECOVERY_MODE")) c.mode = parse_recovery_mode(*v);
  c.parallelism =
      static_cast<uint32_t>(config::env_u64_in("RECOVERY_PARALLELISM", c.parallelism, 1, 64));
  c.probe_timeout = env_ms("RECOVERY_PROBE_TIMEOUT_MS", c.probe_timeout);
  c.stall_timeout = env_ms("RECOVERY_STALL_TIMEOUT_MS", c.stall_timeout);
  c.deadline = env_ms("RECOVERY_DEADLINE_MS", c.deadline);
  c.loop_max = static_cast<uint32_t>(config::env_u64_in("RECOVERY_LOOP_MAX", c.loop_max, 1, 1000));
  c.loop_window = env_ms("RECOVERY_LOOP_WINDOW_MS", c.loop_window);
  c.template_dir = config::env_or("RECOVERY_TEMPLATE_DIR", "");
  c.validate();
  return c;
}

void RecoveryConfig::validate() const {
  if (data_dir.empty()) throw Error(ErrorCode::kConfigInvalid, "recovery: no data directory");
  if (to_seq && to_time_ms)
    throw Error(ErrorCode::kConfigInvalid, "recovery: --to-seq and --to-time exclude each other");
  if (to_seq && *to_seq == 0)
    throw Error(ErrorCode::kConfigInvalid, "recovery: --to-seq must be at least 1");
  if (parallelism < 1 || parallelism > 64)
    throw Error(ErrorCode::kConfigInvalid, "RECOVERY_PARALLELISM: must be between 1 and 64");
  if (probe_timeout.count() < 1)
    throw Error(ErrorCode::kConfigInvalid, "RECOVERY_PROBE_TIMEOUT_MS: must be at least 1");
  if (stall_timeout.count() < 1)
    throw Error(ErrorCode::kConfigInvalid, "RECOVERY_STALL_TIMEOUT_MS: must be at least 1");
  if (deadline.count() < 0)
    throw Error(ErrorCode::kConfigInvalid, "RECOVERY_DEADLINE_MS: must not be negative");
  if (loop_window.count() < 1)
    throw Error(ErrorCode::kConfigInvalid, "RECOVERY_LOOP_WINDOW_MS: must be at least 1");
  if (mode == RecoveryMode::kClean && (to_seq || to_time_ms))
    throw Error(ErrorCode::kConfigInvalid,
                "recovery: --mode clean starts empty; it takes no --to-seq or --to-time");
}

}  // namespace strata
