#include <fmt/format.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/wal.h"

namespace strata {

std::string_view sync_mode_name(SyncMode m) {
  switch (m) {
    case SyncMode::kAlways:
      return "always";
    case SyncMode::kInterval:
      return "interval";
    case SyncMode::kNone:
      return "none";
  }
  return "?";
}

SyncMode parse_sync_mode(std::string_view s) {
  if (s == "always") return SyncMode::kAlways;
  if (s == "interval") return SyncMode::kInterval;
  if (s == "none") return SyncMode::kNone;
  throw Error(ErrorCode::kConfigInvalid,
              fmt::format("WAL_SYNC: expected always, interval or none, got '{}'", s));
}

std::string_view disk_pressure_name(DiskPressure p) {
  switch (p) {
    case DiskPressure::kNormal:
      return "normal";
    case DiskPressure::kWarning:
      return "warning";
    case DiskPressure::kCritical:
      return "critical";
  }
  return "?";
}

WalOptions WalOptions::from_env(std::string dir) {
  WalOptions o;
  o.dir = std::move(dir);
  if (auto v = config::env("WAL_SYNC")) o.sync = parse_sync_mode(*v);
  o.sync_interval_ms = config::env_u64("WAL_SYNC_INTERVAL_MS", o.sync_interval_ms);
  o.segment_bytes = config::env_bytes("WAL_SEGMENT_BYTES", o.segment_bytes);
  o.max_entry_bytes = config::env_bytes("WAL_MAX_ENTRY_BYTES", o.max_entry_bytes);
  o.warn_bytes = config::env_bytes("WAL_WARN_BYTES", o.warn_bytes);
  o.max_bytes = config::env_bytes("WAL_MAX_BYTES", o.max_bytes);
  o.stop_free_bytes = config::env_bytes("WAL_MIN_FREE_BYTES", o.stop_free_bytes);
  o.resume_free_bytes = config::env_bytes("WAL_RESUME_FREE_BYTES", o.resume_free_bytes);
  o.lock_timeout_ms = config::env_u64("WAL_LOCK_TIMEOUT_MS", o.lock_timeout_ms);
  o.syncs_in_flight =
      static_cast<uint32_t>(config::env_u64_in("WAL_SYNCS_IN_FLIGHT", o.syncs_in_flight, 1, 16));
  if (o.sync_interval_ms == 0) {
    throw Error(ErrorCode::kConfigInvalid, "WAL_SYNC_INTERVAL_MS: must be at least 1");
  }
  if (o.segment_bytes < 4096) {
    throw Error(ErrorCode::kConfigInvalid, "WAL_SEGMENT_BYTES: must be at least 4096");
  }
  if (o.max_entry_bytes == 0 || o.max_entry_bytes > (1ull << 30)) {
    throw Error(ErrorCode::kConfigInvalid, "WAL_MAX_ENTRY_BYTES: must be between 1 and 1GiB");
  }
  if (o.warn_bytes > o.max_bytes) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("WAL_WARN_BYTES ({}) must not exceed WAL_MAX_BYTES ({})", o.warn_bytes,
                            o.max_bytes));
  }
  if (o.resume_free_bytes < o.stop_free_bytes) {
    throw Error(ErrorCode::kConfigInvalid,
                "WAL_RESUME_FREE_BYTES must be at least WAL_MIN_FREE_BYTES (hysteresis)");
  }
  return o;
}

}  // namespace strata
