#include "server/tiers.h"

#include <fmt/format.h>

namespace strata::server {

namespace {

class GitTier : public Job {
 public:
  GitTier(GitSyncConfig config, Wal& wal, StateView& state)
      : remote_(config.remote),
        repo_dir_(config.repo_dir),
        branch_(config.branch),
        git_(std::move(config)),
        wal_(wal),
        state_(state) {}

  std::string name() const override { return "git"; }
  std::string target() const override {
    if (remote_.empty()) {
      return fmt::format("local repository {} (branch {})", repo_dir_, branch_);
    }
    return fmt::format("{} (branch {})", redact_url(remote_), branch_);
  }
  bool stand_in() const override { return remote_.empty(); }

  std::optional<uint64_t> initial_confirmed_seq() override {
    if (!remote_.empty()) return git_.confirmed_seq();
    auto tip = git_.log(1);
    if (tip.empty() || !tip.front().has_manifest) return std::nullopt;
    return tip.front().wal_seq;
  }

  JobResult run() override {
    const uint64_t seq = state_.catch_up(wal_);
    if (seq == 0) {
      JobResult r;
      r.idle = true;
      r.summary = "nothing to archive yet (the log is empty)";
      r.detail = {{"seq", 0}, {"committed", false}};
      return r;
    }
    SnapshotResult snap = git_.snapshot(seq);
    JobResult r;
    r.detail = {{"seq", seq},
                {"commit", snap.tip.commit},
                {"committed", snap.committed},
                {"files", snap.tip.file_count},
                {"skipped", nlohmann::json::array()}};
    for (const SkippedPath& s : snap.skipped) {
      r.detail["skipped"].push_back({{"path", s.path}, {"reason", s.reason}});
    }
    bool pushed = false;
    if (!remote_.empty()) {
      PushResult push = git_.push();
      pushed = push.pushed;
      r.detail["pushed"] = push.pushed;
    }
    // The archive now holds the state as of seq, whether or not a commit was
    // needed (an unchanged state is the tip's content).
    r.confirmed_seq = seq;
    if (snap.committed) r.bytes = snap.tip.total_bytes;
    r.idle = !snap.committed && !pushed;
    r.summary = fmt::format("{} at seq {} (commit {}){}",
                            snap.committed ? "snapshot committed" : "state unchanged", seq,
                            snap.tip.commit.substr(0, 12),
                            remote_.empty() ? "" : (pushed ? ", pushed" : ", remote up to date"));
    return r;
  }

 private:
  const std::string remote_;
  const std::string repo_dir_;
  const std::string branch_;
  GitSync git_;
  Wal& wal_;
  StateView& state_;
};

class CompactionJob : public Job {
 public:
  explicit CompactionJob(Wal& wal) : wal_(wal) {}
  std::string name() const override { return "compaction"; }
  std::string target() const override { return "the local WAL"; }
  bool remote() const override { return false; }

  JobResult run() override {
    const WalStatus st = wal_.status();
    JobResult r;
    if (st.pressure == DiskPressure::kNormal) {
      r.idle = true;
      r.summary = fmt::format("not needed (WAL {} bytes, below WAL_WARN_BYTES)", st.total_bytes);
      return r;
    }
    const CompactResult c = wal_.compact(false);
    r.summary = fmt::format("compacted: {} entries dropped, {} -> {} bytes, {} -> {} segments",
                            c.entries_dropped, c.bytes_before, c.bytes_after, c.segments_before,
                            c.segments_after);
    r.detail = {{"entries_dropped", c.entries_dropped},
                {"bytes_before", c.bytes_before},
                {"bytes_after", c.bytes_after},
                {"segments_before", c.segments_before},
                {"segments_after", c.segments_after}};
    return r;
  }

 private:
  Wal& wal_;
};

}  // namespace

std::unique_ptr<Job> make_git_tier(GitSyncConfig config, Wal& wal, StateView& state) {
  return std::make_unique<GitTier>(std::move(config), wal, state);
}

std::unique_ptr<Job> make_compaction_job(Wal& wal) {
  return std::make_unique<CompactionJob>(wal);
}

}  // namespace strata::server
