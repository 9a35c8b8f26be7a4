// The object-store sync tier (strata/object_sync.h) as the daemon schedules
// it: every SYNC_INTERVAL_MS one sync (upload, verify, manifest, confirm
// "object" in the WAL, retention, then the pruner), behind its own breaker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/daemon.h"
#include "strata/object_sync.h"
#include "strata/wal.h"

namespace strata::server {

// To R2/S3 when R2_ENDPOINT is set, else to a filesystem store at
// local_remote_dir (a stand-in on the same disk). materialize brings
// DATA_DIR/state up to the head for snapshots (the daemon's one
// materializer). Reads the SYNC_*, SNAPSHOT_*, RETENTION_MS,
// PRUNE_KEEP_SEGMENTS and R2_* settings; throws kConfigInvalid naming a bad
// one. Sends nothing yet.
std::unique_ptr<ObjectTier> make_object_tier(Wal& wal, const std::string& data_dir,
                                             const std::string& local_remote_dir,
                                             std::function<uint64_t()> materialize);

}  // namespace strata::server
