// Snapshots and retention against the filesystem store, on a clock the test
// moves: what is uploaded, what a restore from the remote needs, and exactly
// which objects retention deletes.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "strata/materializer.h"
#include "strata/object_sync.h"
#include "sync/snapshot_archive.h"
#include "sync/sync_test_support.h"

namespace strata {
namespace {

using testing::TempDir;

struct Fixture {
  Fixture() : store(tmp / "remote") {
    WalOptions o = testing::test_options(tmp / "data/wal");
    o.tiers = {"object"};
    o.sync = SyncMode::kNone;
    wal = Wal::open(o);
    opt = testing::sync_options(tmp / "data");
    opt.snapshot_every_bytes = 1ull << 40;
    opt.snapshot_interval_ms = 1ull << 50;
    opt.retention_ms = 1000;
    opt.object_bytes = 1 << 20;
  }
  ObjectStoreSync& tier() {
    if (!sync) {
      sync = std::make_unique<ObjectStoreSync>(*wal, store, opt, [this] {
        return std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms));
      });
    }
    return *sync;
  }
  // n entries stamped with the test's clock.
  uint64_t append(uint64_t n, uint64_t first) {
    std::vector<Entry> batch;
    for (uint64_t i = first; i < first + n; ++i) {
      Entry e = testing::make_entry("sessions/s" + std::to_string(i % 7) + ".json",
                                    testing::session_json(i, 300), EntryOp::kUpdate);
      e.timestamp_ms = now_ms;
      batch.push_back(std::move(e));
    }
    return wal->append_batch(batch);
  }
  SyncResult sync_now(bool snapshot = false) {
    SyncRequest r;
    r.force_snapshot = snapshot;
    return tier().sync(r);
  }
  std::set<std::string> remote_keys() {
    auto v = store.list_files("");
    return {v.begin(), v.end()};
  }
  TempDir tmp;
  FsCheckpointStorage store;
  std::unique_ptr<Wal> wal;
  ObjectSyncOptions opt;
  std::unique_ptr<ObjectStoreSync> sync;
  int64_t now_ms = 1'000'000;
};

TEST(Snapshots, AForcedSnapshotIsTheStateAtItsSeqAndRestores) {
  Fixture f;
  uint64_t head = f.append(500, 0);
  SyncResult r = f.sync_now(true);
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->seq, head);
  EXPECT_EQ(r.confirmed_seq, head);
  auto m = f.tier().read_manifest();
  ASSERT_EQ(m->snapshots.size(), 1u);
  EXPECT_EQ(m->snapshots[0], *r.snapshot);
  EXPECT_EQ(m->snapshots[0].timestamp_ms, static_cast<uint64_t>(f.now_ms));
  EXPECT_TRUE(f.tier().verify_remote().ok);
  EXPECT_EQ(f.tier().metrics().snapshots_uploaded, 1u);
  // The local upload file is gone.
  EXPECT_FALSE(std::filesystem::exists(f.tmp / "data/sync/upload-snapshot.tar.zst"));

  // What recovery would do: extract it and compare with the state.
  ASSERT_TRUE(f.store.read_file_to(r.snapshot->key, f.tmp / "snap.tar.zst"));
  sync::SnapshotReadOptions ro;
  ro.expect_sha256 = r.snapshot->sha256;
  ro.expect_seq = head;
  ro.expect_lineage = f.opt.lineage_id;
  auto read = sync::read_snapshot_archive(f.tmp / "snap.tar.zst", f.tmp / "restored", ro);
  EXPECT_EQ(read.meta.seq, head);
  EXPECT_EQ(testing::dir_bytes(f.tmp / "restored"), testing::dir_bytes(f.tmp / "data/state"));
  EXPECT_EQ(testing::dir_bytes(f.tmp / "restored").size(), 8u);  // sessions/ and 7 files

  // No new entry: a second forced snapshot adds nothing to the manifest.
  SyncResult again = f.sync_now(true);
  EXPECT_FALSE(again.snapshot);
  EXPECT_EQ(f.tier().read_manifest()->snapshots.size(), 1u);
}

TEST(Snapshots, TakenOnceEnoughLogWasShipped) {
  Fixture f;
  f.opt.snapshot_every_bytes = 200 * 1024;
  f.append(400, 0);  // ~140 KB of records
  EXPECT_FALSE(f.sync_now().snapshot);
  f.append(400, 400);                   // now ~280 KB shipped since the start
  EXPECT_FALSE(f.sync_now().snapshot);  // decided from what the manifest held before
  f.append(10, 800);
  SyncResult r = f.sync_now();
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->seq, 810u);
  f.append(10, 810);
  EXPECT_FALSE(f.sync_now().snapshot);  // 10 entries since: not due
  EXPECT_TRUE(f.tier().verify_remote().ok);
}

TEST(Snapshots, TakenAfterTheIntervalWhenThereIsNewLog) {
  Fixture f;
  f.opt.snapshot_interval_ms = 60000;
  f.opt.retention_ms = 1ull << 50;
  f.append(50, 0);
  EXPECT_FALSE(f.sync_now().snapshot);
  f.append(5, 50);
  EXPECT_FALSE(f.sync_now().snapshot);  // log shipped, but the interval has not passed
  f.now_ms += 61000;
  f.append(5, 55);
  SyncResult r = f.sync_now();
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->seq, 60u);
  f.now_ms += 61000;
  // The interval passed but nothing was shipped since the snapshot.
  SyncResult idle = f.sync_now();
  EXPECT_FALSE(idle.snapshot);
  EXPECT_FALSE(idle.wrote_manifest);
}

TEST(Retention, DeletesExactlyWhatANewerSnapshotReplacesAfterTheManifest) {
  Fixture f;
  f.opt.retention_ms = 2500;
  f.now_ms = 1000;
  f.append(100, 0);
  f.sync_now();  // O1: 1..100
  f.now_ms = 2000;
  f.append(100, 100);
  f.sync_now(true);  // O2: 101..200, S1 at 200 (ts 2000)
  f.now_ms = 3000;
  f.append(100, 200);
  f.sync_now();  // O3: 201..300
  f.now_ms = 4000;
  f.append(100, 300);
  f.sync_now(true);  // O4: 301..400, S2 at 400 (ts 4000)
  auto m = *f.tier().read_manifest();
  ASSERT_EQ(m.log.size(), 4u);
  ASSERT_EQ(m.snapshots.size(), 2u);
  std::set<std::string> before = f.remote_keys();

  // Window [2000, 4500]: its oldest point needs S1 and the log after it.
  f.now_ms = 4500;
  f.append(10, 400);
  SyncResult r = f.sync_now();
  EXPECT_EQ(r.retention_deleted, 2u);
  std::set<std::string> after = f.remote_keys();
  std::set<std::string> gone;
  for (const auto& k : before) {
    if (!after.count(k)) gone.insert(k);
  }
  EXPECT_EQ(gone, (std::set<std::string>{m.log[0].key, m.log[1].key}));
  auto m2 = *f.tier().read_manifest();
  EXPECT_EQ(m2.log.front().first_seq, 201u);
  EXPECT_EQ(m2.snapshots.size(), 2u);
  EXPECT_TRUE(f.tier().verify_remote().ok);

  // Window [3000, 5500]: still S1. Window [4000, 6500]: S2 is the base; S1,
  // O3 and O4 go, with no new entry.
  f.now_ms = 5500;
  EXPECT_FALSE(f.sync_now().wrote_manifest);
  f.now_ms = 6500;
  before = after;
  SyncResult idle = f.sync_now();
  EXPECT_TRUE(idle.wrote_manifest);
  EXPECT_EQ(idle.retention_deleted, 3u);
  after = f.remote_keys();
  gone.clear();
  for (const auto& k : before) {
    if (!after.count(k)) gone.insert(k);
  }
  EXPECT_EQ(gone, (std::set<std::string>{m.snapshots[0].key, m.log[2].key, m.log[3].key}));
  auto m3 = *f.tier().read_manifest();
  ASSERT_EQ(m3.snapshots.size(), 1u);  // the newest snapshot stays
  EXPECT_EQ(m3.snapshots[0].seq, 400u);
  EXPECT_EQ(m3.log.front().first_seq, 401u);
  EXPECT_EQ(m3.head_seq, 410u);
  EXPECT_TRUE(f.tier().verify_remote().ok);

  // Long idle: the newest snapshot is never dropped, the log after it stays.
  f.now_ms = 100000;
  f.sync_now();
  auto m4 = *f.tier().read_manifest();
  ASSERT_EQ(m4.snapshots.size(), 1u);
  EXPECT_EQ(m4.log.size(), 1u);
  EXPECT_TRUE(f.tier().verify_remote().ok);
}

TEST(Retention, ADeleteThatFailsLeavesOnlyUnlistedGarbage) {
  Fixture f;
  testing::CountingStore counting(f.store);
  f.now_ms = 1000;
  f.append(50, 0);
  ObjectStoreSync tier(*f.wal, counting, f.opt, [&f] {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(f.now_ms));
  });
  tier.sync();
  f.now_ms = 2000;
  f.append(50, 50);
  SyncRequest snap;
  snap.force_snapshot = true;
  tier.sync(snap);
  auto old_log = tier.read_manifest()->log;
  counting.before = [](const std::string& op, std::string_view key) {
    if (op == "delete" && key.starts_with("log/")) {
      throw Error(ErrorCode::kStorageServerError, "injected");
    }
  };
  f.now_ms = 3500;
  f.append(5, 100);
  EXPECT_NO_THROW(tier.sync());  // the manifest is written; the deletes fail
  auto m = *tier.read_manifest();
  for (const auto& o : m.log) EXPECT_GT(o.last_seq, 100u);
  for (const auto& o : old_log) EXPECT_TRUE(f.store.stat(o.key)) << "still there: " << o.key;
  EXPECT_TRUE(tier.verify_remote().ok);
}

}  // namespace
}  // namespace strata
