// The Git tier as a recovery source: the snapshots on the archive branch
// (the remote's when GIT_REMOTE is set), and restoring one's state/ through
// GitSync's hostile-safe restore.
#pragma once

#include <string>
#include <vector>

#include "recovery/run_context.h"
#include "strata/git_sync.h"

namespace strata::recovery {

struct GitOffer {
  Offer offer;
  std::vector<SnapshotInfo> snapshots;  // strata snapshots, newest first
};

// Lists the branch within RECOVERY_PROBE_TIMEOUT_MS. Never throws: an
// unreachable or broken tier is an offer with an error.
GitOffer probe_git(RunContext& ctx);

// Restores snapshot s and moves its state/ to staging_dir/state. Returns the
// number of files restored.
uint64_t restore_git_state(RunContext& ctx, const SnapshotInfo& s, const std::string& staging_dir);

// The newest snapshot of `lineage` ("" = any) at or before `max_seq`, or nullptr.
const SnapshotInfo* pick_git_snapshot(const GitOffer& g, const std::string& lineage,
                                      uint64_t max_seq);

}  // namespace strata::recovery
