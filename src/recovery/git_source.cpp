#include "recovery/git_source.h"

#include <fmt/format.h>

#include "strata/error.h"

namespace strata::recovery {

GitOffer probe_git(RunContext& ctx) {
  GitOffer g;
  GitSync* git = ctx.tiers.git;
  if (!begin_offer(g.offer, RecoverySource::kGit, git != nullptr)) return g;
  const bool remote = !git->status().remote.empty();
  try {
    std::vector<SnapshotInfo> all = ctx.bounded<std::vector<SnapshotInfo>>(
        ctx.config.probe_timeout, "RECOVERY_PROBE_TIMEOUT_MS",
        remote ? "listing the Git remote's archive branch" : "listing the local archive branch",
        [git, remote] { return git->log(0, remote); });
    for (auto& s : all)
      if (s.has_manifest) g.snapshots.push_back(std::move(s));
    g.offer.reachable = true;
  } catch (const Error& e) {
    // A branch that does not exist yet is an empty archive, not an outage.
    if (e.code() == ErrorCode::kNotFound) {
      g.offer.reachable = true;
    } else {
      g.offer.error = e;
      g.offer.line = fmt::format("unreachable: {}", describe(e));
      return g;
    }
  }
  if (g.snapshots.empty()) {
    g.offer.line = "no snapshots on the branch";
    return g;
  }
  const SnapshotInfo& newest = g.snapshots.front();
  g.offer.has_data = true;
  g.offer.lineage = newest.lineage_id;
  g.offer.head_seq = newest.wal_seq;
  g.offer.line = fmt::format("{} snapshots, newest {} at seq {} ({} files)", g.snapshots.size(),
                             newest.commit.substr(0, 12), newest.wal_seq, newest.file_count);
  return g;
}

const SnapshotInfo* pick_git_snapshot(const GitOffer& g, const std::string& lineage,
                                      uint64_t max_seq) {
  for (const auto& s : g.snapshots) {
    if (s.wal_seq <= max_seq && (lineage.empty() || s.lineage_id == lineage)) return &s;
  }
  return nullptr;
}

uint64_t restore_git_state(RunContext& ctx, const SnapshotInfo& s, const std::string& staging_dir) {
  GitSync* git = ctx.tiers.git;
  const std::string into = staging_dir + "/git-restore";
  RestoreOptions o;
  o.commit = s.commit;
  const RestoreResult r =
      ctx.bounded<RestoreResult>(ctx.remaining(), "RECOVERY_DEADLINE_MS",
                                 fmt::format("restoring Git snapshot {}", s.commit.substr(0, 12)),
                                 [git, into, o] { return git->restore(into, o); });
  if (r.snapshot.wal_seq != s.wal_seq || r.snapshot.lineage_id != s.lineage_id) {
    throw Error(ErrorCode::kGitError,
                fmt::format("Git snapshot {} restored as seq {} of lineage '{}', listed as seq {} "
                            "of '{}'",
                            s.commit.substr(0, 12), r.snapshot.wal_seq, r.snapshot.lineage_id,
                            s.wal_seq, s.lineage_id));
  }
  if (ctx.fs.is_directory(into + "/state")) {
    ctx.fs.rename(into + "/state", staging_dir + "/state");
  } else {
    create_directories(ctx.fs, staging_dir + "/state");
  }
  if (auto d = ctx.fs.open_dir(staging_dir)) remove_tree(*d, "git-restore");
  return r.files_written;
}

}  // namespace strata::recovery
