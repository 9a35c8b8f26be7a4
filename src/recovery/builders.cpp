#include "recovery/builders.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/random_id.h"
#include "recovery/template_source.h"
#include "strata/error.h"
#include "strata/materializer.h"

namespace strata::recovery {

StagedBuild::StagedBuild(RunContext& ctx, Staging& staging) : ctx_(ctx), staging_(staging) {}

void StagedBuild::set_base(uint64_t base_seq, std::string history) {
  base_seq_ = base_seq;
  log_ = std::make_unique<ImportedLog>(ctx_.fs, staging_.dir() + "/wal", base_seq + 1,
                                       std::move(history), ctx_.config.wal);
}

uint64_t StagedBuild::extend_with_local(LocalWal& local, std::string_view why) {
  if (!local.exists) return 0;
  const uint64_t after = log_->head_seq();
  if (local.base_seq > after + 1) return 0;  // pruned past the base: a gap
  uint64_t added = 0;
  std::string batch;
  auto flush = [&] {
    if (batch.empty()) return;
    log_->append(batch, why);
    batch.clear();
  };
  std::string stopped;
  uint64_t expect = after + 1;
  read_local_records(
      ctx_.fs, ctx_.dest + "/wal", after, ctx_.config.wal.max_entry_bytes,
      [&](const EntryView& e, std::string_view raw) {
        if (ctx_.target.past(e.seq, e.timestamp_ms)) return false;
        // Local compaction may have dropped superseded entries; the remote
        // history is only continued by a log without holes.
        if (e.seq != expect) return false;
        batch.append(raw);
        expect++;
        added++;
        if (batch.size() >= (8u << 20)) flush();
        return true;
      },
      &stopped);
  flush();
  return added;
}

void StagedBuild::finish(Built& built) {
  // The base is read here, not in set_base: the object store's snapshot is
  // extracted after its log was imported (it skips what the log replaces).
  create_directories(ctx_.fs, staging_.dir() + "/state");
  const StateDigest base_digest = digest_tree(ctx_.fs, staging_.dir() + "/state");
  Wal& wal = log_->wal();
  for (const auto& [tier, seq] : marks_) wal.confirm(tier, std::min(seq, log_->head_seq()));
  Materializer m(staging_.dir(), &ctx_.fs);
  // Nobody reads the staging directory; the commit moves it into place whole.
  m.set_write_in_place(true);
  m.commit(base_seq_, log_->history_id());
  // What the state must be, from the same read of the log as the replay but
  // computed apart from the materializer's batches. The staged log has
  // every seq after the base (the import checks the chain), so the replay
  // must show each of them once, in order.
  ExpectedState expected_state(base_digest);
  uint64_t next_seq = base_seq_ + 1;
  m.set_observer([&](const EntryView& e) {
    if (e.seq != next_seq)
      throw Error(ErrorCode::kRecoveryFailed,
                  fmt::format("the replay of the rebuilt WAL gave seq {} where {} was due", e.seq,
                              next_seq));
    next_seq++;
    expected_state.apply(e);
  });
  const MaterializeResult r = m.run(wal);
  if (r.rebuilt)
    throw Error(ErrorCode::kInternal, "the staged state was rebuilt instead of extended");
  if (next_seq != log_->head_seq() + 1)
    throw Error(ErrorCode::kRecoveryFailed,
                fmt::format("the replay of the rebuilt WAL ended at seq {}, its head is {}",
                            next_seq - 1, log_->head_seq()));
  const StateDigest expected = expected_state.finish();
  built.seq = wal.status().head_seq;
  log_->close();
  const std::string wal_dir = staging_.dir() + "/wal";
  const VerifyResult v = Wal::verify(wal_dir, &ctx_.fs);
  if (!v.ok) {
    throw Error(ErrorCode::kRecoveryFailed,
                fmt::format("the rebuilt WAL does not verify: {} at offset {}: {}", v.bad_file,
                            v.bad_offset, v.problem));
  }
  const StateDigest actual = digest_tree(ctx_.fs, staging_.dir() + "/state");
  if (auto diff = compare_digests(expected, actual)) {
    throw Error(ErrorCode::kRecoveryFailed,
                fmt::format("the rebuilt state is not the base plus the log: {}", *diff));
  }
  built.entries_restored = log_->entries();
  built.entries_replayed = r.entries_applied;
  built.history = log_->history_id();
}

Built build_local_copy(RunContext& ctx, Staging& staging, LocalWal& local) {
  Built b;
  b.lineage = local.offer.lineage;
  StagedBuild sb(ctx, staging);
  // The same history only when the copy is the whole log.
  const bool whole = local.intact && (!ctx.target.any() || ctx.target.seq == local.head_seq);
  sb.set_base(0, whole && !local.history.empty() ? local.history : random_hex(8));
  sb.extend_with_local(local, "the local WAL");
  sb.finish(b);
  b.complete = b.seq >= local.head_seq;
  return b;
}

Built build_git(RunContext& ctx, Staging& staging, const SnapshotInfo& snapshot, LocalWal& local,
                bool use_local) {
  Built b;
  b.lineage = snapshot.lineage_id;
  b.files_restored = restore_git_state(ctx, snapshot, staging.dir());
  b.objects = 1;
  StagedBuild sb(ctx, staging);
  // The local history id when its entries continue the snapshot: the log is
  // then the same history, merely missing its older part.
  sb.set_base(snapshot.wal_seq,
              use_local && !local.history.empty() ? local.history : random_hex(8));
  sb.set_mark("git", snapshot.wal_seq);
  if (use_local) {
    const uint64_t added = sb.extend_with_local(local, "the local WAL");
    if (added > 0)
      b.notes.push_back(fmt::format("local entries {}-{} replayed on top of Git snapshot {}",
                                    snapshot.wal_seq + 1, snapshot.wal_seq + added,
                                    snapshot.commit.substr(0, 12)));
  }
  sb.finish(b);
  return b;
}

Built build_fresh(RunContext& ctx, Staging& staging, bool from_template) {
  Built b;
  if (from_template) {
    std::vector<std::string> skipped;
    b.files_restored = copy_template(ctx, staging.dir() + "/state", &skipped);
    for (const auto& s : skipped) b.notes.push_back("template: skipped " + s);
  }
  StagedBuild sb(ctx, staging);
  sb.set_base(0, random_hex(8));
  sb.finish(b);
  return b;
}

}  // namespace strata::recovery
