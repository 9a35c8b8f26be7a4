// ObjectStoreSync against the filesystem store: incremental shipping, the
// nothing-new path, fencing, adoption, failures, orphans, remote verify and
// waiting for the remote.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/object_sync.h"
#include "sync/sync_test_support.h"
#include "wal/record_format.h"

namespace strata {
namespace {

using testing::append_sessions;
using testing::CountingStore;
using testing::sync_options;
using testing::TempDir;

// One data directory (WAL + sync state) syncing to a store.
struct Node {
  explicit Node(const std::string& dir, const std::string& lineage = "lineage-test-a")
      : data_dir(dir) {
    WalOptions o = testing::test_options(dir + "/wal");
    o.tiers = {"object"};
    o.sync = SyncMode::kNone;
    wal = Wal::open(o);
    this->lineage = lineage;
  }
  ObjectStoreSync& sync_to(CheckpointStorage& store, ObjectSyncOptions o) {
    tier = std::make_unique<ObjectStoreSync>(*wal, store, std::move(o));
    return *tier;
  }
  ObjectStoreSync& sync_to(CheckpointStorage& store) {
    return sync_to(store, sync_options(data_dir, lineage));
  }
  std::string data_dir;
  std::string lineage;
  std::unique_ptr<Wal> wal;
  std::unique_ptr<ObjectStoreSync> tier;
};

// Every record of the WAL in (after, upto], framed as the WAL frames them.
std::string local_records(Wal& wal, uint64_t after = 0) {
  std::string out;
  wal.replay_view(after, 0, [&](const EntryView& e) {
    size_t off = out.size();
    out.resize(off + wal::record_size(e.path.size(), e.data.size()));
    wal::encode_record(e.seq, e.timestamp_ms, e.to_entry(), out.data() + off);
    return true;
  });
  return out;
}

// What the remote holds, decoded from the objects the manifest lists.
std::string remote_records(CheckpointStorage& store, const Manifest& m) {
  std::string out;
  for (const auto& o : m.log) {
    auto bytes = store.read_file(o.key);
    EXPECT_TRUE(bytes) << o.key;
    if (bytes) out += decode_log_object(*bytes, o);
  }
  return out;
}

std::string error_of(const std::function<void()>& fn, ErrorCode code) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::vector<std::string> keys(CheckpointStorage& store) {
  return store.list_files("");
}

TEST(SyncFs, ShipsIncrementallyAndTheRemoteHoldsExactlyTheLog) {
  TempDir tmp;
  FsCheckpointStorage fs_store(tmp / "remote");
  CountingStore store(fs_store);
  Node a(tmp / "a");
  append_sessions(*a.wal, 1000);
  auto& tier = a.sync_to(store);

  SyncResult r1 = tier.sync();
  EXPECT_TRUE(r1.wrote_manifest);
  EXPECT_EQ(r1.manifest_version, 1u);
  EXPECT_EQ(r1.previous_confirmed_seq, 0u);
  EXPECT_EQ(r1.confirmed_seq, 1000u);
  EXPECT_GT(r1.objects_uploaded, 4u);  // ~600 KB of records in 64 KiB objects
  EXPECT_EQ(r1.raw_bytes, local_records(*a.wal).size());
  EXPECT_LT(r1.stored_bytes, r1.raw_bytes / 2);
  auto m1 = tier.read_manifest();
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->head_seq, 1000u);
  EXPECT_EQ(m1->lineage_id, "lineage-test-a");
  EXPECT_EQ(m1->log.front().first_seq, 1u);
  EXPECT_EQ(remote_records(store, *m1), local_records(*a.wal));
  for (const auto& o : m1->log) EXPECT_LE(o.raw_bytes, 64u * 1024 + 1024);
  EXPECT_TRUE(std::filesystem::exists(tmp / "a/sync/state.json"));
  // The intent is gone once the manifest is written.
  EXPECT_TRUE(fs_store.list_files("_intents/").empty());

  // Fifty more entries: only they are shipped; the old objects are kept.
  append_sessions(*a.wal, 50, 1000);
  store.reset();
  SyncResult r2 = tier.sync();
  EXPECT_EQ(r2.previous_confirmed_seq, 1000u);
  EXPECT_EQ(r2.confirmed_seq, 1050u);
  EXPECT_EQ(r2.manifest_version, 2u);
  EXPECT_EQ(r2.raw_bytes, local_records(*a.wal, 1000).size());
  EXPECT_EQ(r2.objects_uploaded, 1u);
  // intent + one object + manifest
  EXPECT_EQ(store.count("put"), 3u);
  auto m2 = tier.read_manifest();
  ASSERT_EQ(m2->log.size(), m1->log.size() + 1);
  for (size_t i = 0; i < m1->log.size(); ++i) EXPECT_EQ(m2->log[i], m1->log[i]);
  EXPECT_EQ(m2->log.back().first_seq, 1001u);
  EXPECT_EQ(remote_records(store, *m2), local_records(*a.wal));

  RemoteVerifyResult v = tier.verify_remote();
  EXPECT_TRUE(v.ok) << (v.problems.empty() ? "" : v.problems[0].problem);
  EXPECT_EQ(v.objects_checked, m2->log.size());
}

TEST(SyncFs, ASyncWithNothingNewReadsTheManifestOnceAndWritesNothing) {
  TempDir tmp;
  FsCheckpointStorage fs_store(tmp / "remote");
  CountingStore store(fs_store);
  Node a(tmp / "a");
  append_sessions(*a.wal, 100);
  auto& tier = a.sync_to(store);
  tier.sync();
  auto before = testing::dir_bytes(tmp / "remote");
  store.reset();
  SyncResult r = tier.sync();
  EXPECT_FALSE(r.wrote_manifest);
  EXPECT_EQ(r.objects_uploaded, 0u);
  EXPECT_EQ(store.count("get"), 1u);
  EXPECT_EQ(store.count("put"), 0u);
  EXPECT_EQ(store.count("delete"), 0u);
  EXPECT_EQ(store.count("list"), 0u);
  EXPECT_EQ(store.count("head"), 0u);
  EXPECT_EQ(testing::dir_bytes(tmp / "remote"), before);
  EXPECT_EQ(tier.metrics().empty_syncs, 1u);
}

TEST(SyncFs, ASecondLineageIsRefusedAndTheManifestStaysByteIdentical) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a", "lineage-aaaa");
  append_sessions(*a.wal, 200);
  a.sync_to(store).sync();
  auto before = testing::dir_bytes(tmp / "remote");

  Node b(tmp / "b", "lineage-bbbb");
  append_sessions(*b.wal, 30);
  auto& tb = b.sync_to(store);
  std::string why = error_of([&] { tb.sync(); }, ErrorCode::kLineageConflict);
  EXPECT_NE(why.find("lineage-aaaa"), std::string::npos) << why;
  EXPECT_NE(why.find("lineage-bbbb"), std::string::npos) << why;
  EXPECT_NE(why.find("--adopt"), std::string::npos) << why;
  EXPECT_EQ(testing::dir_bytes(tmp / "remote"), before);  // not a byte written
  EXPECT_EQ(tb.status().confirmed_seq, 0u);
  EXPECT_EQ(tb.metrics().lineage_conflicts, 1u);
  EXPECT_NE(tb.status().last_error.find("LINEAGE_CONFLICT"), std::string::npos);
}

TEST(SyncFs, ACopyOfTheDataDirectoryIsRefusedOnceTheOriginalMovesOn) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  {
    Node a(tmp / "a");
    append_sessions(*a.wal, 100);
    a.sync_to(store).sync();
  }
  std::filesystem::copy(tmp / "a", tmp / "copy", std::filesystem::copy_options::recursive);
  Node a(tmp / "a");
  append_sessions(*a.wal, 10, 100);
  a.sync_to(store).sync();  // version 2, written by the original
  auto before = testing::dir_bytes(tmp / "remote");

  Node copy(tmp / "copy");
  append_sessions(*copy.wal, 20, 500);
  auto& tc = copy.sync_to(store);
  std::string why = error_of([&] { tc.sync(); }, ErrorCode::kLineageConflict);
  EXPECT_NE(why.find("manifest version 2"), std::string::npos) << why;
  EXPECT_NE(why.find("last wrote version 1"), std::string::npos) << why;
  EXPECT_EQ(testing::dir_bytes(tmp / "remote"), before);
}

TEST(SyncFs, AdoptTakesThePrefixOverAndTheOldWriterIsRefused) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a", "lineage-aaaa");
  append_sessions(*a.wal, 300);
  auto& ta = a.sync_to(store);
  ta.sync();
  auto old_manifest = *ta.read_manifest();

  Node b(tmp / "b", "lineage-bbbb");
  append_sessions(*b.wal, 40);
  auto& tb = b.sync_to(store);
  SyncRequest adopt;
  adopt.adopt = true;
  SyncResult r = tb.sync(adopt);
  EXPECT_TRUE(r.wrote_manifest);
  auto m = tb.read_manifest();
  EXPECT_EQ(m->lineage_id, "lineage-bbbb");
  EXPECT_EQ(m->manifest_version, old_manifest.manifest_version + 1);
  EXPECT_EQ(m->head_seq, 40u);
  EXPECT_EQ(remote_records(store, *m), local_records(*b.wal));
  // The old lineage's objects are deleted after the new manifest.
  for (const auto& o : old_manifest.log) EXPECT_FALSE(store.stat(o.key)) << o.key;
  EXPECT_EQ(r.retention_deleted, old_manifest.log.size());
  EXPECT_TRUE(tb.verify_remote().ok);

  append_sessions(*a.wal, 5, 300);
  std::string why = error_of([&] { ta.sync(); }, ErrorCode::kLineageConflict);
  EXPECT_NE(why.find("belongs to lineage lineage-bbbb"), std::string::npos) << why;
}

TEST(SyncFs, AnInvalidManifestIsRefusedAndLeftAlone) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a");
  append_sessions(*a.wal, 10);
  store.write_file("checkpoint.json", "{\"format\":\"strata-checkpoint\",\"format_version\":9}\n");
  auto before = testing::dir_bytes(tmp / "remote");
  auto& tier = a.sync_to(store);
  std::string why = error_of([&] { tier.sync(); }, ErrorCode::kManifestInvalid);
  EXPECT_NE(why.find("checkpoint.json"), std::string::npos) << why;
  EXPECT_NE(why.find("from the future"), std::string::npos) << why;
  EXPECT_EQ(testing::dir_bytes(tmp / "remote"), before);
  // Even --adopt does not write over a manifest it cannot read.
  SyncRequest adopt;
  adopt.adopt = true;
  error_of([&] { tier.sync(adopt); }, ErrorCode::kManifestInvalid);
  EXPECT_EQ(testing::dir_bytes(tmp / "remote"), before);
}

TEST(SyncFs, AFailedUploadConfirmsNothingAndTheRetryReusesWhatLanded) {
  TempDir tmp;
  FsCheckpointStorage fs_store(tmp / "remote");
  CountingStore store(fs_store);
  Node a(tmp / "a");
  append_sessions(*a.wal, 1000);
  ObjectSyncOptions o = sync_options(a.data_dir);
  o.parallelism = 1;
  auto& tier = a.sync_to(store, o);
  int log_puts = 0;
  store.before = [&](const std::string& op, std::string_view key) {
    if (op == "put" && key.starts_with("log/") && ++log_puts == 4) {
      throw Error(ErrorCode::kStorageServerError, "injected: 503 after retries");
    }
  };
  error_of([&] { tier.sync(); }, ErrorCode::kStorageServerError);
  EXPECT_EQ(tier.status().confirmed_seq, 0u);
  EXPECT_FALSE(fs_store.stat("checkpoint.json"));
  EXPECT_TRUE(tier.status().last_attempt_failed);
  EXPECT_NE(tier.status().last_error.find("injected"), std::string::npos);
  EXPECT_EQ(fs_store.list_files("log/").size(), 3u);  // what landed before the failure

  store.before = nullptr;
  SyncResult r = tier.sync();
  EXPECT_EQ(r.confirmed_seq, 1000u);
  EXPECT_EQ(r.objects_reused, 3u);
  EXPECT_TRUE(tier.verify_remote().ok);
  EXPECT_FALSE(tier.status().last_attempt_failed);
  // The failed sync's intent is still there (young); it goes once stale.
  EXPECT_EQ(fs_store.list_files("_intents/").size(), 1u);
}

// The store took the manifest but its reply was lost; the next sync failed
// before its own manifest write. The third must still know the remote
// manifest as its own.
TEST(SyncFs, AManifestWhoseReplyWasLostIsOwnedAfterTheNextSyncFailsToo) {
  TempDir tmp;
  FsCheckpointStorage fs_store(tmp / "remote");
  CountingStore store(fs_store);
  Node a(tmp / "a");
  append_sessions(*a.wal, 100);
  auto& tier = a.sync_to(store);
  EXPECT_EQ(tier.sync().confirmed_seq, 100u);

  append_sessions(*a.wal, 100, 100);
  store.after_write = [&](const std::string& op, std::string_view key) {
    if (op == "put" && key == "checkpoint.json") {
      throw Error(ErrorCode::kStorageNetwork, "injected: connection reset after the PUT landed");
    }
  };
  error_of([&] { tier.sync(); }, ErrorCode::kStorageNetwork);
  store.after_write = nullptr;
  EXPECT_EQ(tier.status().confirmed_seq, 100u);

  append_sessions(*a.wal, 100, 200);
  store.before = [&](const std::string& op, std::string_view key) {
    if (op == "put" && key == "checkpoint.json") {
      throw Error(ErrorCode::kStorageServerError, "injected: 503 after retries");
    }
  };
  error_of([&] { tier.sync(); }, ErrorCode::kStorageServerError);
  store.before = nullptr;

  SyncResult r = tier.sync();
  EXPECT_EQ(r.confirmed_seq, 300u);
  EXPECT_TRUE(tier.verify_remote().ok);
}

TEST(SyncFs, StaleIntentsAndUnlistedObjectsAreSweptAfterTheOrphanAge) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a");
  append_sessions(*a.wal, 100);
  ObjectSyncOptions o = sync_options(a.data_dir);
  o.orphan_ms = 1;
  auto& tier = a.sync_to(store, o);
  tier.sync();
  // What a crashed sync leaves: an intent and an object no manifest lists.
  store.write_file("_intents/00000000000000000002-00000000000000aa.json", "{}");
  std::string stray = log_object_key(101, 150, "00000000000000cc", SyncCompression::kZstd);
  store.write_file(stray, "junk");
  store.write_file("log/not-ours.txt", "left alone");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  append_sessions(*a.wal, 10, 100);
  ObjectStoreSync fresh(*a.wal, store, o);  // a new process: the first sync sweeps
  SyncResult r = fresh.sync();
  EXPECT_EQ(r.orphans_deleted, 2u);  // the intent, then the stray object
  EXPECT_FALSE(store.stat(stray));
  EXPECT_TRUE(store.stat("log/not-ours.txt"));
  EXPECT_TRUE(store.list_files("_intents/").empty());
  EXPECT_TRUE(fresh.verify_remote().ok);
}

TEST(SyncFs, RemoteVerifyNamesAReplacedAndATruncatedObject) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a");
  append_sessions(*a.wal, 800);
  auto& tier = a.sync_to(store);
  tier.sync();
  auto m = *tier.read_manifest();
  ASSERT_GE(m.log.size(), 3u);
  // Replace object 1 by hand (same size, other bytes) and truncate object 2.
  std::string p1 = tmp / ("remote/" + m.log[1].key);
  std::string bytes = testing::read_file(p1);
  bytes[10] ^= 0x40;
  testing::write_file(p1, bytes);
  std::filesystem::resize_file(tmp / ("remote/" + m.log[2].key), m.log[2].stored_bytes - 7);
  RemoteVerifyResult v = tier.verify_remote();
  EXPECT_FALSE(v.ok);
  ASSERT_EQ(v.problems.size(), 2u);
  EXPECT_EQ(v.problems[0].key, m.log[1].key);
  EXPECT_NE(v.problems[0].problem.find("do not hash"), std::string::npos);
  EXPECT_EQ(v.problems[1].key, m.log[2].key);
  EXPECT_NE(v.problems[1].problem.find("truncated"), std::string::npos);
  std::filesystem::remove(tmp / ("remote/" + m.log[0].key));
  v = tier.verify_remote();
  EXPECT_EQ(v.problems[0].key, m.log[0].key);
  EXPECT_EQ(v.problems[0].problem, "missing");
}

TEST(SyncFs, TheKeyPrefixHoldsTheWholeLayout) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a");
  append_sessions(*a.wal, 50);
  ObjectSyncOptions o = sync_options(a.data_dir);
  o.key_prefix = "node-1/";
  auto& tier = a.sync_to(store, o);
  tier.sync();
  for (const auto& k : keys(store)) EXPECT_TRUE(k.starts_with("node-1/")) << k;
  EXPECT_TRUE(store.stat("node-1/checkpoint.json"));
  EXPECT_TRUE(tier.verify_remote().ok);
  // Another prefix in the same store is another history.
  Node b(tmp / "b", "lineage-other");
  append_sessions(*b.wal, 5);
  ObjectSyncOptions ob = sync_options(b.data_dir, "lineage-other");
  ob.key_prefix = "node-2/";
  EXPECT_NO_THROW(b.sync_to(store, ob).sync());
}

TEST(SyncFs, ARewrittenHistoryReplacesWhatTheRemoteHeldAboveTheCut) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a");
  append_sessions(*a.wal, 400);
  auto& tier = a.sync_to(store);
  tier.sync();
  a.wal->truncate_after(150);
  append_sessions(*a.wal, 20, 9000);  // seqs 151..170 with other content
  SyncResult r = tier.sync();
  EXPECT_EQ(r.confirmed_seq, 170u);
  auto m = *tier.read_manifest();
  EXPECT_EQ(m.head_seq, 170u);
  EXPECT_EQ(m.history_id, a.wal->status().history_id);
  EXPECT_EQ(remote_records(store, m), local_records(*a.wal));
  EXPECT_TRUE(tier.verify_remote().ok);
  // Nothing unlisted is left behind.
  std::set<std::string> listed;
  for (const auto& o : m.log) listed.insert(o.key);
  for (const auto& k : store.list_files("log/")) EXPECT_TRUE(listed.count(k)) << k;
}

TEST(SyncFs, WaitConfirmedStartsASyncAndServesManyWaiters) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a");
  ObjectSyncOptions o = sync_options(a.data_dir);
  auto& tier = a.sync_to(store, o);
  uint64_t seq = append_sessions(*a.wal, 100);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      uint64_t mine = append_sessions(*a.wal, 10, 1000 + static_cast<uint64_t>(i) * 10);
      if (tier.wait_confirmed(mine, std::chrono::seconds(20)).confirmed) ok++;
    });
  }
  WaitResult w = tier.wait_confirmed(seq, std::chrono::seconds(20));
  for (auto& t : threads) t.join();
  EXPECT_TRUE(w.confirmed);
  EXPECT_GE(w.confirmed_seq, seq);
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(tier.status().confirmed_seq, 140u);
  EXPECT_EQ(tier.status().lag_entries, 0u);
  // Already confirmed: returns at once without a sync.
  uint64_t syncs = tier.metrics().syncs;
  EXPECT_TRUE(tier.wait_confirmed(50, std::chrono::milliseconds(0)).confirmed);
  EXPECT_EQ(tier.metrics().syncs, syncs);
}

TEST(SyncFs, WaitConfirmedTimesOutWhileTheStoreFails) {
  TempDir tmp;
  FsCheckpointStorage fs_store(tmp / "remote");
  CountingStore store(fs_store);
  store.before = [](const std::string&, std::string_view) {
    throw Error(ErrorCode::kStorageNetwork, "injected: connection refused");
  };
  Node a(tmp / "a");
  auto& tier = a.sync_to(store);
  uint64_t seq = append_sessions(*a.wal, 10);
  auto t0 = std::chrono::steady_clock::now();
  WaitResult w = tier.wait_confirmed(seq, std::chrono::milliseconds(300));
  EXPECT_FALSE(w.confirmed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_NE(w.last_error.find("connection refused"), std::string::npos) << w.last_error;
  SyncStatus s = tier.status();
  EXPECT_EQ(s.confirmed_seq, 0u);
  EXPECT_EQ(s.lag_entries, 10u);
  EXPECT_GE(s.lag_seconds, 0.0);
  EXPECT_GE(tier.metrics().sync_failures, 1u);
}

TEST(SyncFs, StatusAndMetricsCountWhatWasShipped) {
  TempDir tmp;
  FsCheckpointStorage store(tmp / "remote");
  Node a(tmp / "a");
  append_sessions(*a.wal, 500);
  auto& tier = a.sync_to(store);
  SyncResult r = tier.sync();
  SyncMetrics m = tier.metrics();
  EXPECT_EQ(m.syncs, 1u);
  EXPECT_EQ(m.manifests_written, 1u);
  EXPECT_EQ(m.objects_uploaded, r.objects_uploaded);
  EXPECT_EQ(m.raw_bytes_shipped, r.raw_bytes);
  EXPECT_EQ(m.stored_bytes_shipped, r.stored_bytes);
  EXPECT_GT(m.compression_ratio(), 0.0);
  EXPECT_LT(m.compression_ratio(), 0.5);
  append_sessions(*a.wal, 7, 500);
  SyncStatus s = tier.status();
  EXPECT_EQ(s.head_seq, 507u);
  EXPECT_EQ(s.confirmed_seq, 500u);
  EXPECT_EQ(s.lag_entries, 7u);
  EXPECT_EQ(s.manifest_version, 1u);
  EXPECT_TRUE(s.last_success_ms);
  EXPECT_FALSE(s.last_attempt_failed);
  EXPECT_EQ(s.store, store.describe());
}

TEST(SyncOptions, FromEnvironmentAndRefusals) {
  ::setenv("SYNC_OBJECT_BYTES", "1MiB", 1);
  ::setenv("SYNC_COMPRESSION", "none", 1);
  ::setenv("R2_PREFIX", "node-7", 1);
  ObjectSyncOptions o = ObjectSyncOptions::from_env("/d", "lin", false);
  EXPECT_EQ(o.object_bytes, 1u << 20);
  EXPECT_EQ(o.compression, SyncCompression::kNone);
  EXPECT_EQ(o.key_prefix, "node-7/");
  EXPECT_EQ(ObjectSyncOptions::from_env("/d", "lin", true).key_prefix, "");
  ::setenv("SYNC_PARALLELISM", "0", 1);
  EXPECT_NE(
      error_of([] { ObjectSyncOptions::from_env("/d", "lin", false); }, ErrorCode::kConfigInvalid)
          .find("SYNC_PARALLELISM"),
      std::string::npos);
  ::unsetenv("SYNC_PARALLELISM");
  ::setenv("SYNC_COMPRESSION", "lz4", 1);
  EXPECT_NE(
      error_of([] { ObjectSyncOptions::from_env("/d", "lin", false); }, ErrorCode::kConfigInvalid)
          .find("SYNC_COMPRESSION=lz4"),
      std::string::npos);
  ::setenv("SYNC_COMPRESSION", "zstd", 1);
  ::setenv("SYNC_ZSTD_LEVEL", "30", 1);
  EXPECT_NE(
      error_of([] { ObjectSyncOptions::from_env("/d", "lin", false); }, ErrorCode::kConfigInvalid)
          .find("SYNC_ZSTD_LEVEL"),
      std::string::npos);
  for (const char* v : {"SYNC_OBJECT_BYTES", "SYNC_COMPRESSION", "R2_PREFIX", "SYNC_ZSTD_LEVEL"}) {
    ::unsetenv(v);
  }
  EXPECT_NE(
      error_of([] { ObjectSyncOptions::from_env("/d", "", false); }, ErrorCode::kConfigInvalid)
          .find("lineage"),
      std::string::npos);
}

}  // namespace
}  // namespace strata
