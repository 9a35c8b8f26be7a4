// The jobs the daemon schedules (server/scheduler.h) for the tiers that exist
// today: the Git archive and compaction. The object-store sync tier joins the
// same way, through make_tiers in daemon.cpp.
#pragma once

#include <memory>

#include "server/scheduler.h"
#include "server/state_view.h"
#include "strata/git_sync.h"
#include "strata/wal.h"

namespace strata::server {

// Snapshots DATA_DIR/state/ (caught up to the WAL head) to the archive branch
// and pushes it when GIT_REMOTE is set; without GIT_REMOTE the local bare
// repository DATA_DIR/archive.git is the archive (a stand-in on the same disk).
std::unique_ptr<Job> make_git_tier(GitSyncConfig config, Wal& wal, StateView& state);

// Compacts the WAL when it asks for it (disk pressure warning: WAL_WARN_BYTES
// reached); compaction drops only entries every remote tier has confirmed.
std::unique_ptr<Job> make_compaction_job(Wal& wal);

}  // namespace strata::server
