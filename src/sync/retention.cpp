#include "sync/retention.h"

namespace strata::sync {

RetentionPlan plan_retention(const std::vector<LogObjectInfo>& log,
                             const std::vector<SnapshotObjectInfo>& snapshots, uint64_t now_ms,
                             uint64_t retention_ms) {
  RetentionPlan plan;
  const uint64_t cutoff = now_ms > retention_ms ? now_ms - retention_ms : 0;
  const SnapshotObjectInfo* base = nullptr;
  for (const auto& s : snapshots) {
    if (s.timestamp_ms <= cutoff) base = &s;
  }
  if (base == nullptr) {
    plan.log = log;
    plan.snapshots = snapshots;
    return plan;
  }
  for (const auto& s : snapshots) {
    if (s.seq < base->seq) {
      plan.drop.push_back(s.key);
    } else {
      plan.snapshots.push_back(s);
    }
  }
  for (const auto& o : log) {
    if (o.last_seq <= base->seq) {
      plan.drop.push_back(o.key);
    } else {
      plan.log.push_back(o);
    }
  }
  return plan;
}

std::vector<SegmentInfo> plan_prune(const std::vector<SegmentInfo>& sealed, uint64_t confirmed,
                                    uint32_t keep) {
  std::vector<SegmentInfo> out;
  if (sealed.size() <= keep) return out;
  const size_t limit = sealed.size() - keep;
  for (size_t i = 0; i < limit; ++i) {
    if (sealed[i].last_seq > confirmed) break;
    out.push_back(sealed[i]);
  }
  return out;
}

}  // namespace strata::sync
