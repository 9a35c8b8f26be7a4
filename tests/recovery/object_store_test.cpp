// The cascade with the object store as it is really written: the sync tier
// ships the WAL to s3rver (behind the signature-checking proxy), the Git
// tier pushes to a bare repository, and recovery brings a deleted data
// directory back from them, or refuses what is broken or hostile.
#include <gtest/gtest.h>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "git/git_test_support.h"
#include "recovery/recovery_test_support.h"
#include "storage/servers.h"
#include "strata/error.h"
#include "strata/git_sync.h"
#include "strata/hash.h"
#include "strata/object_sync.h"
#include "strata/recovery.h"
#include "strata/storage.h"
#include "sync/sync_test_support.h"

namespace strata::testing {
namespace {

namespace sfs = std::filesystem;

constexpr const char* kLineage = "01J0ABCDEFGHJKMNPQRSTVWXYZ";

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    sfs::create_directories(tmp / "srv");
    git_init_bare(tmp / "srv/remote.git");
    servers = std::make_unique<S3Servers>();
    store = std::make_unique<S3CheckpointStorage>(servers->config());
    sfs::create_directories(data);
    write_file(data + "/lineage-id", std::string(kLineage) + "\n");
  }
  std::string url() const { return "file://" + (tmp / "srv/remote.git"); }

  std::unique_ptr<Wal> open_wal() { return Wal::open(quick_wal(data + "/wal")); }
  ObjectSyncOptions options() {
    ObjectSyncOptions o;
    o.data_dir = data;
    o.lineage_id = kLineage;
    o.manifest_min_interval_ms = 0;
    o.object_bytes = 64 * 1024;
    return o;
  }
  SyncResult sync(Wal& wal, bool snapshot = false) {
    Materializer(data).run(wal);
    ObjectStoreSync s(wal, *store, options());
    SyncRequest req;
    req.force_snapshot = snapshot;
    return s.sync(req);
  }
  void append(Wal& wal, int n, unsigned seed) { append_workload(wal, work, n, seed); }
  uint64_t archive() {
    GitSyncConfig c = test_config(data, url());
    c.lineage_id = kLineage;
    GitSync git(c);
    const uint64_t seq = Materializer(data).applied_seq();
    git.snapshot(seq);
    git.push();
    return seq;
  }
  // A data directory like a running strata leaves: 3000 entries synced (a
  // snapshot at 1500), archived to Git at 2000.
  void build_history() {
    auto wal = open_wal();
    append(*wal, 1500, 1);
    sync(*wal, /*snapshot=*/true);
    append(*wal, 500, 2);
    sync(*wal);
    Materializer(data).run(*wal);
    git_seq = archive();
    append(*wal, 1000, 3);
    sync(*wal);
    manifest = *ObjectStoreSync(*wal, *store, options()).read_manifest();
  }
  RecoveryResult recover(const RecoveryConfig& c, bool with_git = true) {
    return recover_with(c, url(), with_git, store.get());
  }
  std::vector<Entry> entries_of(const std::string& dir) {
    auto wal = Wal::open(quick_wal(dir + "/wal"));
    std::vector<Entry> out;
    wal->replay(0, 0, [&](const Entry& e) {
      out.push_back(e);
      return true;
    });
    return out;
  }
  void expect_state(const std::string& dir, uint64_t seq) {
    EXPECT_EQ(state_files(dir + "/state"), work.state_at(seq));
    EXPECT_TRUE(Wal::verify(dir + "/wal").ok);
    EXPECT_EQ(Materializer(dir).applied_seq(), seq);
  }
  // Replaces the manifest with m (re-encoded, so its self-checksum is right).
  void put_manifest(Manifest m) {
    m.manifest_version++;
    store->write_file(std::string(kManifestKey), encode_manifest(m));
  }

  TempDir tmp;
  std::string data = tmp / "data";
  std::unique_ptr<S3Servers> servers;
  std::unique_ptr<S3CheckpointStorage> store;
  Workload work;
  uint64_t git_seq = 0;
  Manifest manifest;
};

TEST_F(ObjectStoreTest, ADeletedDataDirectoryComesBackWholeAndSyncContinuesTheSameManifest) {
  build_history();
  ASSERT_EQ(manifest.head_seq, 3000u);
  ASSERT_FALSE(manifest.snapshots.empty());
  const std::vector<Entry> before = entries_of(data);
  const Files state_before = state_files(data + "/state");
  sfs::remove_all(data);

  RecoveryResult r = recover(recovery_config(data));
  ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kObjectStore);
  EXPECT_EQ(r.seq_reached, 3000u);
  EXPECT_TRUE(r.verified);
  EXPECT_FALSE(r.new_lineage);
  EXPECT_EQ(r.lineage_id, kLineage);
  EXPECT_GT(r.files_restored, 0u);
  EXPECT_EQ(r.entries_restored, 3000u - manifest.snapshots.back().seq);
  EXPECT_GT(r.objects_downloaded, 2u);
  EXPECT_EQ(state_files(data + "/state"), state_before);
  EXPECT_EQ(state_before, work.state_at(3000));
  // The log holds the same entries after the snapshot, seqs and timestamps
  // included.
  const std::vector<Entry> after = entries_of(data);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.front().seq, manifest.snapshots.back().seq + 1);
  EXPECT_TRUE(std::equal(after.begin(), after.end(), before.end() - after.size()));

  // The next append gets the next seq and the next sync continues the
  // manifest: version + 1, only the new entry uploaded.
  auto wal = open_wal();
  EXPECT_EQ(wal->append(make_entry("sessions/after")), 3001u);
  SyncResult s = sync(*wal);
  EXPECT_TRUE(s.wrote_manifest);
  EXPECT_EQ(s.manifest_version, manifest.manifest_version + 1);
  EXPECT_EQ(s.objects_uploaded, 1u);
  EXPECT_EQ(s.confirmed_seq, 3001u);
}

TEST_F(ObjectStoreTest, WithTheObjectStoreDownGitAndTheReportOfWhatIsMissing) {
  build_history();
  sfs::remove_all(data);
  servers->s3rver->kill_now();
  RecoveryConfig c = recovery_config(data);
  RecoveryResult r = recover(c);
  ASSERT_EQ(r.state, RecoveryState::kDegraded) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kGit);
  EXPECT_EQ(r.seq_reached, git_seq);
  EXPECT_TRUE(r.new_lineage) << "r2 may hold newer entries of the lineage: it must be left alone";
  ASSERT_FALSE(r.missing.empty());
  EXPECT_NE(r.missing.front().find("r2 could not be read"), std::string::npos) << r.missing.front();
  expect_state(data, git_seq);

  sfs::remove_all(data);
  c.mode = RecoveryMode::kStrict;
  r = recover(c);
  EXPECT_EQ(r.state, RecoveryState::kFailed);
  EXPECT_FALSE(sfs::exists(data + "/wal"));
}

// Issue #14, the crash harness's long run (seed 2894179131 in `none`): a log pruned to no entries
// whose head the object store holds, with the Git remote unreachable at that boot. The local log
// continues in place; before, the object store won the tie, and since a tier could not be read
// the restore started a new lineage, which the object tier then refused at every later sync
// (LINEAGE_CONFLICT) while Git went on.
TEST_F(ObjectStoreTest, ALogPrunedToNoEntriesKeepsItsLineageWithGitDownAndTheStoreAtItsHead) {
  build_history();
  ASSERT_EQ(manifest.head_seq, 3000u);
  {
    WalOptions o = quick_wal(data + "/wal");
    o.tiers = {"object"};
    auto wal = Wal::open(o);
    wal->rotate();
    wal->confirm("object", 3000);
    ASSERT_FALSE(wal->delete_sealed_through(3000).empty());
    ASSERT_FALSE(wal->read_entry(3000)) << "every entry should be pruned";
  }
  sfs::remove_all(tmp / "srv/remote.git");
  RecoveryResult r = recover(recovery_config(data));
  ASSERT_NE(r.state, RecoveryState::kFailed) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kLocal) << r.error;
  EXPECT_EQ(r.objects_downloaded, 0u);
  EXPECT_FALSE(r.new_lineage);
  EXPECT_EQ(r.lineage_id, kLineage);
  EXPECT_EQ(read_file(data + "/lineage-id"), std::string(kLineage) + "\n");
  expect_state(data, 3000);
  // The object tier goes on with the same manifest.
  auto wal = open_wal();
  EXPECT_EQ(wal->append(make_entry("sessions/after")), 3001u);
  SyncResult s = sync(*wal);
  EXPECT_EQ(s.manifest_version, manifest.manifest_version + 1);
  EXPECT_EQ(s.confirmed_seq, 3001u);
}

TEST_F(ObjectStoreTest, ACorruptedObjectFailsStrictUntouchedAndDegradedFallsBack) {
  build_history();
  // Damage the newest log object (the store recomputes its own metadata, so
  // only the manifest's SHA-256 tells).
  const LogObjectInfo& victim = manifest.log.back();
  std::string bytes = *store->read_file(victim.key);
  bytes[bytes.size() / 2] ^= 0x20;
  store->write_file(victim.key, bytes);
  // A data directory that needs the remote: its WAL is gone, state is old.
  sfs::remove_all(data + "/wal");
  const auto before = data_bytes(data);

  RecoveryConfig c = recovery_config(data);
  c.mode = RecoveryMode::kStrict;
  RecoveryResult r = recover(c);
  EXPECT_EQ(r.state, RecoveryState::kFailed);
  EXPECT_EQ(r.error_code, "STORAGE_INTEGRITY") << r.error;
  EXPECT_NE(r.error.find(victim.key), std::string::npos) << r.error;
  auto after = data_bytes(data);
  after.erase(".recovery/");
  after.erase(".recovery/failures.json");
  EXPECT_EQ(after, before);

  c.mode = RecoveryMode::kDegraded;
  r = recover(c);
  ASSERT_EQ(r.state, RecoveryState::kDegraded) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kGit);
  bool reported = false;
  for (const auto& m : r.missing) reported |= m.find(victim.key) != std::string::npos;
  EXPECT_TRUE(reported);
  expect_state(data, git_seq);
  // The remote lost nothing: the manifest and every object are still there.
  EXPECT_EQ(*ObjectStoreSync(*open_wal(), *store, options()).read_manifest(), manifest);
}

TEST_F(ObjectStoreTest, AManifestListingAMissingObjectIsReportedByName) {
  build_history();
  const std::string gone = manifest.log[manifest.log.size() - 2].key;
  store->delete_file(gone);
  sfs::remove_all(data);
  RecoveryResult r = recover(recovery_config(data));
  ASSERT_EQ(r.state, RecoveryState::kDegraded) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kGit);
  bool named = false;
  for (const auto& m : r.missing)
    named |= m.find(gone) != std::string::npos && m.find("missing") != std::string::npos;
  EXPECT_TRUE(named);
}

// The store's copy is whole, but the proxy damages what one GET carries:
// a flipped byte under the writer's sha256 header (the S3 client refuses
// it), flipped bytes without the header (only the manifest's checksums
// tell), and another object served whole, headers included, under the
// name. Sync (the manifest is read first) refuses before writing anything;
// recovery refuses the object by name, strict changes nothing, degraded
// falls back to Git. One history for all (building it is most of the time).
TEST_F(ObjectStoreTest, ABodyDamagedOnTheWayIsRefusedByNameAndNothingIsWritten) {
  build_history();
  const std::string mkey(kManifestKey);
  const std::vector<std::string> manifest_faults = {
      "mode=corrupt&key=" + mkey,
      "mode=corrupt&strip=1&flips=3&key=" + mkey,
      fmt::format("mode=swap&other=/{}/{}&key={}", kBucket, manifest.log.back().key, mkey),
  };
  {
    auto wal = open_wal();
    append(*wal, 50, 4);
    Materializer(data).run(*wal);
    const std::string remote_before = *store->read_file(mkey);
    const std::vector<std::string> objects_before = store->list_files("");
    for (const auto& fault : manifest_faults) {
      SCOPED_TRACE(fault);
      servers->proxy_control("fault?count=-1&" + fault);
      ObjectStoreSync s(*wal, *store, options());
      try {
        s.sync(SyncRequest{});
        ADD_FAILURE() << "sync went on over a damaged manifest";
      } catch (const Error& e) {
        EXPECT_TRUE(e.code() == ErrorCode::kStorageIntegrity ||
                    e.code() == ErrorCode::kManifestInvalid)
            << e.code_name() << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(mkey), std::string::npos) << e.what();
      }
      EXPECT_NE(s.status().last_error.find(mkey), std::string::npos) << s.status().last_error;
      servers->proxy_control("clear");
      EXPECT_EQ(*store->read_file(mkey), remote_before);
      EXPECT_EQ(store->list_files(""), objects_before);
      EXPECT_EQ(wal->confirmed("object"), 3000u);
    }
    // The next sync continues the manifest.
    const SyncResult done = sync(*wal);
    EXPECT_EQ(done.manifest_version, manifest.manifest_version + 1);
    EXPECT_EQ(done.confirmed_seq, 3050u);
  }
  manifest = *ObjectStoreSync(*open_wal(), *store, options()).read_manifest();
  ASSERT_NE(manifest.latest_snapshot(), nullptr);
  const std::string log_key = manifest.log.back().key;
  const std::string snap_key = manifest.latest_snapshot()->key;
  const std::string other = fmt::format("/{}/{}", kBucket, manifest.log.front().key);
  // Each fault and the key its refusal must name.
  std::vector<std::pair<std::string, std::string>> faults = {
      {"mode=corrupt&key=" + log_key, log_key},
      {"mode=corrupt&strip=1&flips=3&key=" + log_key, log_key},
      {"mode=corrupt&key=" + snap_key, snap_key},
      {"mode=corrupt&strip=1&key=" + snap_key, snap_key},
      {"mode=swap&other=" + other + "&key=" + log_key, log_key},
  };
  for (const auto& f : manifest_faults) faults.emplace_back(f, mkey);
  sfs::remove_all(data + "/wal");
  const auto before = data_bytes(data);
  const std::string pristine = tmp / "pristine";
  sfs::copy(data, pristine, sfs::copy_options::recursive);
  for (const auto& [fault, victim] : faults) {
    SCOPED_TRACE(fault);
    servers->proxy_control("fault?count=-1&" + fault);
    const uint64_t dealt = servers->proxy_stat("faults");
    RecoveryConfig c = recovery_config(data);
    c.mode = RecoveryMode::kStrict;
    c.loop_max = 100;
    const RecoveryResult r = recover(c);
    EXPECT_EQ(r.state, RecoveryState::kFailed);
    if (victim != mkey) EXPECT_EQ(r.error_code, "STORAGE_INTEGRITY") << r.error;
    EXPECT_NE(r.error.find(victim), std::string::npos) << r.error;
    EXPECT_GT(servers->proxy_stat("faults"), dealt) << "the proxy dealt no fault";
    auto after = data_bytes(data);
    after.erase(".recovery/");
    after.erase(".recovery/failures.json");
    EXPECT_EQ(after, before);
    servers->proxy_control("clear");
  }
  // Degraded: Git, with the refused object or the unreadable manifest named.
  for (const auto& [fault, victim] : {faults[1], faults.back()}) {
    SCOPED_TRACE(fault);
    sfs::remove_all(data);
    sfs::copy(pristine, data, sfs::copy_options::recursive);
    servers->proxy_control("fault?count=-1&" + fault);
    RecoveryConfig c = recovery_config(data);
    c.loop_max = 100;
    const RecoveryResult r = recover(c);
    servers->proxy_control("clear");
    ASSERT_EQ(r.state, RecoveryState::kDegraded) << r.error;
    EXPECT_EQ(r.source, RecoverySource::kGit);
    const std::string missing = nlohmann::json(r.missing).dump();
    EXPECT_NE(missing.find(victim), std::string::npos) << missing;
    expect_state(data, git_seq);
  }
  // The remote lost nothing: without the faults the same run restores all
  // 3050 entries from it.
  sfs::remove_all(data);
  const RecoveryResult r = recover(recovery_config(data));
  ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kObjectStore);
  expect_state(data, 3050);
}

TEST_F(ObjectStoreTest, HostileManifestsAreRefusedAndNothingIsWritten) {
  build_history();
  sfs::remove_all(data);
  struct Case {
    const char* what;
    std::function<std::string()> bytes;
    const char* says;
  };
  const std::string good = *store->read_file(std::string(kManifestKey));
  const std::vector<Case> cases = {
      {"bad self-checksum",
       [&] {
         std::string b = good;
         b[20] ^= 1;
         return b;
       },
       "MANIFEST_INVALID"},
      {"not JSON", [] { return std::string("{{{"); }, "MANIFEST_INVALID"},
      {"format from the future",
       [&] {
         std::string b = good;
         const auto at = b.find("\"format_version\":1");
         b.replace(at, 18, "\"format_version\":9");
         b.resize(b.size() - 87);  // recompute the self-checksum
         return b + ",\"manifest_sha256\":\"" + sha256_hex(b) + "\"}\n";
       },
       "future"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    store->write_file(std::string(kManifestKey), c.bytes());
    RecoveryConfig cfg = recovery_config(data);
    cfg.mode = RecoveryMode::kStrict;
    RecoveryResult r = recover(cfg, false);
    EXPECT_EQ(r.state, RecoveryState::kFailed);
    EXPECT_NE((r.error_code + r.error).find(c.says), std::string::npos) << r.error;
    EXPECT_FALSE(sfs::exists(data + "/wal"));
    cfg.mode = RecoveryMode::kDegraded;
    r = recover(cfg, false);
    EXPECT_EQ(r.state, RecoveryState::kDegraded) << r.error;
    EXPECT_EQ(r.source, RecoverySource::kNone);
    sfs::remove_all(data);
  }
  store->write_file(std::string(kManifestKey), good);
}

la_ssize_t append_cb(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

TEST_F(ObjectStoreTest, AHostileSnapshotIsRefusedByMemberAndNothingLeavesTheStaging) {
  build_history();
  // A snapshot whose state holds a symlink out of the data directory and a
  // file through it, listed in a manifest with its true size and SHA-256.
  std::string tar;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_zstd(a);
  // No zero padding after the zstd frame (libarchive pads the last block by
  // default): the sync tier's archives end with the frame too.
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open2(a, &tar, nullptr, append_cb, nullptr, nullptr);
  auto add = [&](const std::string& name, unsigned type, const std::string& body,
                 const std::string& link = "") {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0644);
    if (!link.empty()) archive_entry_set_symlink(e, link.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
    archive_write_header(a, e);
    if (!body.empty()) archive_write_data(a, body.data(), body.size());
    archive_entry_free(e);
  };
  const SnapshotObjectInfo& real = manifest.snapshots.back();
  add("strata-snapshot.json", AE_IFREG,
      nlohmann::json{{"format", "strata-snapshot"},
                     {"version", 1},
                     {"seq", real.seq},
                     {"lineage", kLineage},
                     {"created_ms", 1}}
          .dump());
  add("state/", AE_IFDIR, "");
  add("state/evil", AE_IFLNK, "", tmp / "outside");
  add("state/evil/payload", AE_IFREG, "pwned");
  archive_write_close(a);
  archive_write_free(a);
  sfs::create_directories(tmp / "outside");
  Manifest m = manifest;
  m.snapshots.back().key = snapshot_object_key(real.seq, sha256_hex(tar).substr(0, 16));
  m.snapshots.back().sha256 = sha256_hex(tar);
  m.snapshots.back().stored_bytes = tar.size();
  store->write_file(m.snapshots.back().key, tar);
  put_manifest(m);
  sfs::remove_all(data);

  RecoveryConfig c = recovery_config(data);
  c.mode = RecoveryMode::kStrict;
  RecoveryResult r = recover(c, false);
  EXPECT_EQ(r.state, RecoveryState::kFailed);
  EXPECT_EQ(r.error_code, "INVALID_PATH") << r.error;
  EXPECT_NE(r.error.find("'state/evil' is a symlink"), std::string::npos) << r.error;
  EXPECT_TRUE(sfs::is_empty(tmp / "outside"));
  EXPECT_FALSE(sfs::exists(data + "/wal"));
  EXPECT_FALSE(sfs::exists(data + "/.recovery/staging"));
}

TEST_F(ObjectStoreTest, PointInTimeFromSnapshotsAndLogMatchesTheStatesSeenWhileAppending) {
  build_history();
  const auto live = data_bytes(data);
  const uint64_t snap = manifest.snapshots.back().seq;
  // The sync tier dropped the log objects the snapshot replaced: seqs
  // before it are refused below.
  const uint64_t oldest = manifest.snapshots.front().seq;
  ASSERT_GT(oldest, 1000u);
  ASSERT_GT(manifest.log_start(), 1u);
  for (uint64_t seq :
       {snap, snap + 1, uint64_t{2000}, uint64_t{2345}, uint64_t{2999}, uint64_t{3000}}) {
    SCOPED_TRACE(seq);
    RecoveryConfig c = recovery_config(data);
    c.to_seq = seq;
    c.target_dir = tmp / ("seq-" + std::to_string(seq));
    RecoveryResult r = recover(c, false);
    ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error;
    EXPECT_EQ(r.source, RecoverySource::kObjectStore);
    EXPECT_EQ(r.seq_reached, seq);
    EXPECT_EQ(r.new_lineage, seq != 3000u);
    expect_state(c.target_dir, seq);
  }
  for (uint64_t i : {snap + 100, uint64_t{2500}, uint64_t{2998}}) {
    const uint64_t t = work.entries[i].timestamp_ms + 3;
    SCOPED_TRACE(t);
    RecoveryConfig c = recovery_config(data);
    c.to_time_ms = t;
    c.target_dir = tmp / ("time-" + std::to_string(i));
    RecoveryResult r = recover(c, false);
    ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error;
    EXPECT_EQ(r.seq_reached, work.seq_at_time(t));
    expect_state(c.target_dir, r.seq_reached);
  }
  // Older than the oldest snapshot, newer than the head, before the first
  // restorable time: refused with the range, nothing restored.
  const std::string range = fmt::format("r2: seqs {}-3000", oldest);
  for (uint64_t seq : {uint64_t{1}, oldest - 1, uint64_t{3001}}) {
    SCOPED_TRACE(seq);
    RecoveryConfig c = recovery_config(data);
    c.to_seq = seq;
    c.target_dir = tmp / ("refused-" + std::to_string(seq));
    RecoveryResult r = recover(c, false);
    EXPECT_EQ(r.state, RecoveryState::kFailed);
    EXPECT_EQ(r.error_code, "RECOVERY_OUT_OF_RANGE");
    EXPECT_NE(r.error.find(range), std::string::npos) << r.error;
    EXPECT_FALSE(sfs::exists(c.target_dir + "/wal"));
  }
  RecoveryConfig c = recovery_config(data);
  c.to_time_ms = work.entries[10].timestamp_ms;
  c.target_dir = tmp / "refused-time";
  RecoveryResult r = recover(c, false);
  EXPECT_EQ(r.error_code, "RECOVERY_OUT_OF_RANGE") << r.error;
  EXPECT_NE(r.error.find(range), std::string::npos) << r.error;
  EXPECT_EQ(data_bytes(data), live) << "--target touched the live directory";
}

// The snapshot's files that the log after it writes or deletes are not
// extracted (the replay makes them): the result must be the same for a file
// the log updates or deletes, for a file that becomes a directory, for a
// directory that becomes a file or is deleted whole, and for a target seq
// inside the log (a path replaced only after it keeps the snapshot's file).
TEST_F(ObjectStoreTest, SnapshotFilesTheLogReplacesAreLeftToTheReplay) {
  auto wal = open_wal();
  auto put = [&](std::string path, std::string data) {
    Entry e;
    e.type = EntryType::kMemory;
    e.op = EntryOp::kUpdate;
    e.path = std::move(path);
    e.data = std::move(data);
    wal->append(e);
  };
  auto del = [&](std::string path) {
    Entry e;
    e.type = EntryType::kMemory;
    e.op = EntryOp::kDelete;
    e.path = std::move(path);
    wal->append(e);
  };
  put("keep/a", "snapshot");  // not in the log: extracted
  put("upd/a", "snapshot");
  put("del/a", "snapshot");
  put("grow", "snapshot file, then a directory");
  put("shrink/x", "snapshot");
  put("shrink/y", "snapshot");
  put("gone/x", "snapshot");
  put("gone/deep/y", "snapshot");
  put("late/a", "snapshot");
  put("again/a", "snapshot");
  wal->flush();
  sync(*wal, /*snapshot=*/true);
  const uint64_t snap_seq = wal->status().head_seq;
  put("upd/a", "log");
  del("del/a");
  put("grow/sub", "log");
  put("shrink", "log: a file where a directory was");
  del("gone");
  del("again/a");
  put("again/a", "log, after its delete");
  wal->flush();
  const uint64_t cut = wal->status().head_seq;
  Materializer(data).run(*wal);
  const Files at_cut = state_files(data + "/state");
  put("late/a", "log, after the cut");
  put("upd/a", "log, again");
  wal->flush();
  // One sync: the cut lies inside a log object.
  sync(*wal);
  const Files at_head = state_files(data + "/state");
  ASSERT_EQ(at_head.count("grow/sub"), 1u);
  ASSERT_EQ(at_head.count("shrink"), 1u);
  ASSERT_EQ(at_head.count("del/a") + at_head.count("gone/x") + at_head.count("gone/deep/y"), 0u);
  ASSERT_EQ(at_cut.at("late/a"), "snapshot");
  ASSERT_EQ(at_head.at("late/a"), "log, after the cut");

  for (const bool whole : {true, false}) {
    SCOPED_TRACE(whole ? "to the head" : "to a seq inside the log");
    RecoveryConfig c = recovery_config(data);
    c.target_dir = tmp / (whole ? "head" : "cut");
    if (!whole) c.to_seq = cut;
    RecoveryResult r = recover(c, false);
    ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error;
    EXPECT_EQ(r.source, RecoverySource::kObjectStore);
    EXPECT_TRUE(r.verified);  // the state digest check passed
    EXPECT_EQ(r.files_restored, 10u);
    EXPECT_EQ(r.entries_restored, (whole ? wal->status().head_seq : cut) - snap_seq);
    EXPECT_EQ(state_files(c.target_dir + "/state"), whole ? at_head : at_cut);
    // Left to the log: upd/a, del/a, grow, shrink/x, shrink/y, gone/x,
    // gone/deep/y, again/a, and late/a only when the log reaches it.
    const std::string note =
        fmt::format("{} of the snapshot's 10 files were checked but not extracted", whole ? 9 : 8);
    EXPECT_NE(std::find_if(r.notes.begin(), r.notes.end(),
                           [&](const std::string& n) { return n.starts_with(note); }),
              r.notes.end())
        << fmt::format("{}", fmt::join(r.notes, "; "));
    // No directory left that the log emptied.
    EXPECT_FALSE(sfs::exists(c.target_dir + "/state/del"));
    EXPECT_FALSE(sfs::exists(c.target_dir + "/state/gone"));
    EXPECT_EQ(Materializer(c.target_dir).applied_seq(), whole ? wal->status().head_seq : cut);
  }
}

// Holds back the GETs of the chosen keys for up to `hold` (never answering
// within a short stall timeout), so a recovery sees a store that stops
// sending; every other call goes through to s3rver.
struct HeldBackStore {
  HeldBackStore(CheckpointStorage& inner, std::set<std::string> keys,
                std::chrono::milliseconds hold)
      : store(inner), keys(std::move(keys)) {
    store.before = [this, hold](const std::string& op, std::string_view key) {
      if (op != "get" || !this->keys.contains(std::string(key))) return;
      held++;
      const auto until = std::chrono::steady_clock::now() + hold;
      while (std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    };
  }
  CountingStore store;
  std::set<std::string> keys;
  std::atomic<int> held{0};
};

// One history for both timeouts (building it is most of the time).
TEST_F(ObjectStoreTest, AStalledDownloadIsAbandonedForTheNextSourceAndTheDeadlineEndsARun) {
  build_history();
  sfs::remove_all(data);
  {
    // The newest log object never arrives within the stall timeout. 1.5 s,
    // not less: under AddressSanitizer on a loaded machine an ordinary
    // download went 300 ms without a byte and was the one abandoned.
    HeldBackStore held(*store, {manifest.log.back().key}, std::chrono::milliseconds(5000));
    RecoveryConfig c = recovery_config(data);
    c.stall_timeout = std::chrono::milliseconds(1500);
    const RecoveryResult r = recover_with(c, url(), true, &held.store);
    ASSERT_EQ(r.state, RecoveryState::kDegraded) << r.error;
    EXPECT_GE(held.held, 1);
    EXPECT_EQ(r.source, RecoverySource::kGit);
    EXPECT_EQ(r.seq_reached, git_seq);
    expect_state(data, git_seq);
    const std::string missing = nlohmann::json(r.missing).dump();
    EXPECT_NE(missing.find("RECOVERY_STALL_TIMEOUT_MS"), std::string::npos) << missing;
    EXPECT_NE(missing.find(manifest.log.back().key), std::string::npos) << missing;
  }
  sfs::remove_all(data);
  {
    std::set<std::string> logs;
    for (const auto& l : manifest.log) logs.insert(l.key);
    // Slower than the deadline, never long enough for the stall timeout.
    HeldBackStore held(*store, logs, std::chrono::milliseconds(2000));
    RecoveryConfig c = recovery_config(data);
    c.stall_timeout = std::chrono::milliseconds(30000);
    c.deadline = std::chrono::milliseconds(1000);
    const RecoveryResult r = recover_with(c, url(), true, &held.store);
    ASSERT_EQ(r.state, RecoveryState::kFailed);
    EXPECT_EQ(r.error_code, "TIMEOUT") << r.error;
    EXPECT_NE(r.error.find("RECOVERY_DEADLINE_MS"), std::string::npos) << r.error;
    EXPECT_FALSE(sfs::exists(data + "/wal"));
    EXPECT_FALSE(sfs::exists(data + "/state"));
    EXPECT_FALSE(sfs::exists(data + "/.recovery/staging"));
  }
  // The same run without the holdup completes from the object store.
  const RecoveryResult r = recover_with(recovery_config(data), url(), true, store.get());
  ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kObjectStore);
  expect_state(data, 3000);
}

TEST_F(ObjectStoreTest, ADryRunListsTheObjectsAndBytesAndDownloadsNothing) {
  build_history();
  sfs::remove_all(data);
  RecoveryConfig c = recovery_config(data);
  c.dry_run = true;
  RecoveryResult r = recover(c, false);
  ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kObjectStore);
  EXPECT_EQ(r.seq_reached, 3000u);
  uint64_t listed = 0;
  for (const auto& p : r.plan) listed += p.bytes;
  EXPECT_EQ(listed, r.plan_bytes);
  EXPECT_GT(r.plan_bytes, 0u);
  EXPECT_EQ(r.objects_downloaded, 0u);
  EXPECT_FALSE(sfs::exists(data));
}

}  // namespace
}  // namespace strata::testing
