// Which remote objects and local segments may go (pure planning; the callers
// delete, and only in the order the guarantees need).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/object_sync.h"
#include "strata/wal.h"

namespace strata::sync {

// Retention: every point in time inside [now - retention, now] must stay
// restorable from one snapshot plus the log after it. The base is the newest
// snapshot whose state is at or before the window's start (its entry
// timestamp <= now - retention); everything the base makes unnecessary goes:
// older snapshots and log objects ending at or before the base's seq. With no
// such snapshot nothing goes. The newest snapshot is never dropped.
struct RetentionPlan {
  std::vector<LogObjectInfo> log;             // kept
  std::vector<SnapshotObjectInfo> snapshots;  // kept
  std::vector<std::string> drop;              // keys no longer listed
};
RetentionPlan plan_retention(const std::vector<LogObjectInfo>& log,
                             const std::vector<SnapshotObjectInfo>& snapshots, uint64_t now_ms,
                             uint64_t retention_ms);

// The sealed segments (oldest first) the pruner deletes: the longest run from
// the oldest whose last seq is at or below `confirmed`, leaving the newest
// `keep` sealed segments alone.
std::vector<SegmentInfo> plan_prune(const std::vector<SegmentInfo>& sealed, uint64_t confirmed,
                                    uint32_t keep);

}  // namespace strata::sync
