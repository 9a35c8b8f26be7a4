// The pruner against a real WAL with many sealed segments: it deletes
// exactly the sealed segments every configured tier confirmed, except the
// newest PRUNE_KEEP_SEGMENTS, and nothing else.
#include <gtest/gtest.h>

#include <set>

#include "strata/object_sync.h"
#include "sync/sync_test_support.h"

namespace strata {
namespace {

using testing::append_sessions;
using testing::sync_options;
using testing::TempDir;

std::unique_ptr<Wal> open_wal(const std::string& dir, std::vector<std::string> tiers) {
  WalOptions o = testing::test_options(dir);
  o.tiers = std::move(tiers);
  o.sync = SyncMode::kNone;
  o.segment_bytes = 64 * 1024;  // a few hundred entries per segment
  return Wal::open(o);
}

// The files the rule names, computed from the listing alone: the oldest
// sealed segments up to the first one that ends above `confirmed`, never
// the newest `keep` of them.
std::set<std::string> expected_deletions(const WalSnapshot& snap, uint64_t confirmed, size_t keep) {
  std::set<std::string> out;
  size_t limit = snap.sealed.size() > keep ? snap.sealed.size() - keep : 0;
  for (size_t i = 0; i < limit && snap.sealed[i].last_seq <= confirmed; ++i) {
    out.insert(snap.sealed[i].file);
  }
  return out;
}

std::set<std::string> sealed_files(Wal& wal) {
  std::set<std::string> out;
  for (const auto& s : wal.snapshot().sealed) out.insert(s.file);
  return out;
}

// Every entry after `after` is still readable, consecutively, up to the head.
void expect_log_intact_after(Wal& wal, uint64_t after) {
  uint64_t next = after + 1;
  wal.replay_view(after, 0, [&](const EntryView& e) {
    EXPECT_EQ(e.seq, next);
    ++next;
    return true;
  });
  EXPECT_EQ(next - 1, wal.status().head_seq);
}

TEST(Pruner, DeletesExactlyTheConfirmedSealedSegmentsAndKeepsTheNewest) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  auto wal = open_wal(tmp / "data/wal", {"object"});
  append_sessions(*wal, 1500);
  ObjectSyncOptions o = sync_options(tmp / "data");
  o.prune_after_sync = false;
  o.prune_keep_segments = 2;
  ObjectStoreSync tier(*wal, store, o);
  SyncResult r = tier.sync();
  ASSERT_EQ(r.confirmed_seq, 1500u);
  // Entries the remote does not hold yet, in sealed segments of their own.
  append_sessions(*wal, 1500, 1500);
  wal->rotate();

  WalSnapshot before = wal->snapshot();
  ASSERT_GT(before.sealed.size(), 8u) << "the test needs many sealed segments";
  std::set<std::string> want = expected_deletions(before, 1500, 2);
  ASSERT_FALSE(want.empty());
  // The segment holding seq 1500 stays unless it ends exactly there.
  for (const auto& s : before.sealed) {
    if (s.last_seq > 1500) {
      EXPECT_EQ(want.count(s.file), 0u) << s.file;
    }
  }

  PruneResult dry = tier.prune(/*dry_run=*/true);
  std::set<std::string> dry_files;
  for (const auto& d : dry.deleted) dry_files.insert(d.file);
  EXPECT_EQ(dry_files, want);
  EXPECT_EQ(sealed_files(*wal).size(), before.sealed.size()) << "a dry run deletes nothing";

  PruneResult p = tier.prune(/*dry_run=*/false);
  std::set<std::string> gone;
  for (const auto& d : p.deleted) gone.insert(d.file);
  EXPECT_EQ(gone, want);
  std::set<std::string> left = sealed_files(*wal);
  for (const auto& s : before.sealed) {
    EXPECT_EQ(left.count(s.file), want.count(s.file) ? 0u : 1u) << s.file;
  }
  uint64_t last_deleted = 0;
  for (const auto& s : before.sealed) {
    if (want.count(s.file)) last_deleted = std::max(last_deleted, s.last_seq);
  }
  EXPECT_LE(last_deleted, 1500u);
  expect_log_intact_after(*wal, last_deleted);

  // Nothing more goes until the remote confirms more.
  EXPECT_TRUE(tier.prune(false).deleted.empty());
  EXPECT_EQ(sealed_files(*wal), left);
}

TEST(Pruner, TheGitTierHoldsPruningBackWhenConfigured) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  auto wal = open_wal(tmp / "data/wal", {"object", "git"});
  append_sessions(*wal, 3000);
  wal->rotate();
  ObjectSyncOptions o = sync_options(tmp / "data");
  o.prune_after_sync = false;
  o.prune_keep_segments = 0;
  o.git_tier = true;
  ObjectStoreSync tier(*wal, store, o);
  ASSERT_EQ(tier.sync().confirmed_seq, 3000u);

  // Git confirmed nothing: nothing is deleted although the object store holds all.
  PruneResult none = tier.prune(false);
  EXPECT_TRUE(none.deleted.empty());
  ASSERT_TRUE(none.git_confirmed.has_value());
  EXPECT_EQ(*none.git_confirmed, 0u);
  EXPECT_EQ(none.confirmed_seq, 0u);

  wal->confirm("git", 1000);
  WalSnapshot before = wal->snapshot();
  std::set<std::string> want = expected_deletions(before, 1000, 0);
  ASSERT_FALSE(want.empty());
  PruneResult p = tier.prune(false);
  EXPECT_EQ(p.confirmed_seq, 1000u);
  std::set<std::string> gone;
  for (const auto& d : p.deleted) {
    gone.insert(d.file);
    EXPECT_LE(d.last_seq, 1000u);
  }
  EXPECT_EQ(gone, want);
  uint64_t last_deleted = 0;
  for (const auto& s : before.sealed) {
    if (want.count(s.file)) last_deleted = std::max(last_deleted, s.last_seq);
  }
  expect_log_intact_after(*wal, last_deleted);
}

TEST(Pruner, RunsAfterAConfirmedSync) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  auto wal = open_wal(tmp / "data/wal", {"object"});
  append_sessions(*wal, 2000);
  wal->rotate();
  ObjectSyncOptions o = sync_options(tmp / "data");
  o.prune_keep_segments = 1;
  ObjectStoreSync tier(*wal, store, o);
  WalSnapshot before = wal->snapshot();
  std::set<std::string> want = expected_deletions(before, 2000, 1);
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(tier.sync().confirmed_seq, 2000u);
  std::set<std::string> left = sealed_files(*wal);
  for (const auto& s : before.sealed) {
    EXPECT_EQ(left.count(s.file), want.count(s.file) ? 0u : 1u) << s.file;
  }
}

}  // namespace
}  // namespace strata
