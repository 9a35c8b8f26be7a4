// ObjectSyncOptions from the environment, and the ranges each setting must
// stay in.
#include <fmt/format.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/object_sync.h"

namespace strata {

namespace {

[[noreturn]] void bad(std::string msg) {
  throw Error(ErrorCode::kConfigInvalid, std::move(msg));
}

}  // namespace

ObjectSyncOptions ObjectSyncOptions::from_env(std::string data_dir, std::string lineage_id,
                                              bool store_applies_prefix) {
  ObjectSyncOptions o;
  o.data_dir = std::move(data_dir);
  o.lineage_id = std::move(lineage_id);
  if (!store_applies_prefix) {
    o.key_prefix = config::env_or("R2_PREFIX", "");
    if (!o.key_prefix.empty() && o.key_prefix.back() != '/') o.key_prefix.push_back('/');
  }
  o.interval_ms = config::env_u64("SYNC_INTERVAL_MS", o.interval_ms);
  o.object_bytes = config::env_bytes("SYNC_OBJECT_BYTES", o.object_bytes);
  o.parallelism = static_cast<uint32_t>(
      std::min<uint64_t>(config::env_u64("SYNC_PARALLELISM", o.parallelism), 1u << 20));
  if (auto c = config::env("SYNC_COMPRESSION")) {
    if (*c == "zstd") {
      o.compression = SyncCompression::kZstd;
    } else if (*c == "none") {
      o.compression = SyncCompression::kNone;
    } else {
      bad(fmt::format("SYNC_COMPRESSION={}: expected zstd or none", *c));
    }
  }
  o.zstd_level = static_cast<int>(std::min<uint64_t>(config::env_u64("SYNC_ZSTD_LEVEL", 3), 1000));
  o.orphan_ms = config::env_u64("SYNC_ORPHAN_MS", o.orphan_ms);
  if (auto v = config::env("SYNC_VERIFY")) {
    if (*v == "read") {
      o.verify_read_back = true;
    } else if (*v == "metadata") {
      o.verify_read_back = false;
    } else {
      bad(fmt::format("SYNC_VERIFY={}: expected metadata or read", *v));
    }
  }
  o.manifest_min_interval_ms =
      config::env_u64("SYNC_MANIFEST_MIN_INTERVAL_MS", o.manifest_min_interval_ms);
  o.snapshot_interval_ms = config::env_u64("SNAPSHOT_INTERVAL_MS", o.snapshot_interval_ms);
  o.snapshot_every_bytes = config::env_bytes("SNAPSHOT_EVERY_BYTES", o.snapshot_every_bytes);
  o.retention_ms = config::env_u64("RETENTION_MS", o.retention_ms);
  o.prune_keep_segments = static_cast<uint32_t>(
      std::min<uint64_t>(config::env_u64("PRUNE_KEEP_SEGMENTS", o.prune_keep_segments), 1u << 20));
  o.git_tier = config::env("GIT_REMOTE").has_value();
  o.validate();
  return o;
}

void ObjectSyncOptions::validate() const {
  if (lineage_id.empty()) bad("the sync tier needs the data directory's lineage id");
  if (!key_prefix.empty()) {
    if (key_prefix.back() != '/') bad("R2_PREFIX must end with '/'");
    try {
      validate_key(std::string_view(key_prefix).substr(0, key_prefix.size() - 1));
    } catch (const Error& e) {
      bad(fmt::format("R2_PREFIX: {}", e.what()));
    }
  }
  if (interval_ms == 0) bad("SYNC_INTERVAL_MS must be at least 1");
  // An object holds at least one record, so the bound is a target, but one
  // below a KiB would only make objects of single small records.
  if (object_bytes < 4096 || object_bytes > (4ull << 30)) {
    bad(fmt::format("SYNC_OBJECT_BYTES={}: must be between 4KiB and 4GiB", object_bytes));
  }
  if (parallelism < 1 || parallelism > 64) {
    bad(fmt::format("SYNC_PARALLELISM={}: must be 1..64", parallelism));
  }
  if (zstd_level < 1 || zstd_level > 19) {
    bad(fmt::format("SYNC_ZSTD_LEVEL={}: must be 1..19", zstd_level));
  }
  if (snapshot_interval_ms == 0) bad("SNAPSHOT_INTERVAL_MS must be at least 1");
  if (snapshot_every_bytes == 0) bad("SNAPSHOT_EVERY_BYTES must be at least 1");
  if (retention_ms == 0) bad("RETENTION_MS must be at least 1");
}

}  // namespace strata
