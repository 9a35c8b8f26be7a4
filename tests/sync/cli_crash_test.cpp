// `strata sync`, `checkpoint show`, `prune`, `remote verify` and `status` as
// real processes; a real `strata sync` SIGKILLed at every failpoint of the
// protocol, against the filesystem store and against s3rver.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "storage/servers.h"
#include "strata/object_sync.h"
#include "sync/sync_test_support.h"

namespace strata {
namespace {

using testing::TempDir;

struct CliRun {
  int rc = 0;
  std::string out;  // stdout and stderr
};

// A data directory driven through the CLI, on the filesystem store or s3rver.
struct Cli {
  explicit Cli(bool s3) {
    if (s3) servers = std::make_unique<testing::S3Servers>();
  }
  std::string env() const {
    std::string e = "env -u R2_ENDPOINT -u R2_PREFIX -u STRATA_SYNC_FAILPOINT DATA_DIR='" +
                    tmp.path() + "/data' SYNC_OBJECT_BYTES=64KiB SYNC_MANIFEST_MIN_INTERVAL_MS=0 ";
    if (servers) {
      e += "R2_ENDPOINT=" + servers->endpoint() + " R2_BUCKET=" + testing::kBucket +
           " R2_ACCESS_KEY_ID=" + testing::kAccessKey + " R2_SECRET_ACCESS_KEY='" +
           testing::kSecretKey + "' R2_BACKOFF_BASE_MS=10 R2_BACKOFF_CAP_MS=50 ";
    }
    return e;
  }
  CliRun run(const std::string& args, const std::string& extra_env = "") const {
    CliRun r;
    r.rc = testing::run_command(env() + extra_env + " '" + STRATA_BINARY + "' " + args + " 2>&1",
                                &r.out);
    return r;
  }
  nlohmann::json json(const std::string& args, int want_rc = 0) const {
    CliRun r = run(args + " 2>/dev/null");
    EXPECT_EQ(r.rc, want_rc) << args << ": " << r.out;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << args << ": not JSON: " << r.out;
      return {};
    }
  }
  // Appends n entries through the library (the CLI holds no lock meanwhile).
  uint64_t append(uint64_t n, uint64_t first_index) const {
    std::filesystem::create_directories(tmp.path() + "/data");
    WalOptions o = testing::test_options(tmp.path() + "/data/wal");
    o.tiers = {"object"};
    auto wal = Wal::open(o);
    uint64_t last = testing::append_sessions(*wal, n, first_index);
    wal->close();
    return last;
  }
  TempDir tmp;
  std::unique_ptr<testing::S3Servers> servers;
};

class SyncCli : public ::testing::TestWithParam<bool> {};

TEST_P(SyncCli, SyncShowVerifyPruneAndStatus) {
  Cli cli(GetParam());
  uint64_t head = cli.append(1500, 0);
  CliRun first = cli.run("sync");
  ASSERT_EQ(first.rc, 0) << first.out;
  EXPECT_NE(first.out.find("confirmed seq 1500 (was 0), manifest version 1"), std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("of records stored as"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.find("ETA"), std::string::npos) << "no progress without a terminal";

  CliRun again = cli.run("sync");
  EXPECT_EQ(again.rc, 0);
  EXPECT_NE(again.out.find("nothing new: confirmed seq 1500"), std::string::npos) << again.out;

  head = cli.append(30, 1500);
  nlohmann::json j = cli.json("sync --json");
  EXPECT_EQ(j["confirmed_seq"], head);
  EXPECT_EQ(j["previous_confirmed_seq"], 1500);
  EXPECT_EQ(j["objects_uploaded"], 1);
  EXPECT_EQ(j["manifest_version"], 2);
  EXPECT_GT(j["raw_bytes"].get<uint64_t>(), j["stored_bytes"].get<uint64_t>());

  nlohmann::json m = cli.json("checkpoint show --json");
  EXPECT_EQ(m["head_seq"], head);
  EXPECT_EQ(m["manifest_version"], 2);
  EXPECT_EQ(m["log"][0]["first_seq"], 1);
  CliRun show = cli.run("checkpoint show");
  EXPECT_NE(show.out.find("verified"), std::string::npos) << show.out;

  CliRun verify = cli.run("remote verify");
  EXPECT_EQ(verify.rc, 0) << verify.out;
  EXPECT_NE(verify.out.find("ok: manifest version 2"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("seqs 1..1530 contiguous"), std::string::npos) << verify.out;
  EXPECT_EQ(cli.json("remote verify --json")["ok"], true);

  nlohmann::json st = cli.json("status --json");
  EXPECT_EQ(st["object_sync"]["confirmed_seq"], head);
  EXPECT_EQ(st["object_sync"]["lag_entries"], 0);
  EXPECT_FALSE(st["object_sync"]["last_success_ms"].is_null());
  CliRun status = cli.run("status");
  EXPECT_NE(status.out.find("object store:"), std::string::npos) << status.out;

  CliRun dry = cli.run("prune --dry-run");
  EXPECT_EQ(dry.rc, 0) << dry.out;
  EXPECT_NE(dry.out.find("confirmed by every configured tier: seq 1530"), std::string::npos)
      << dry.out;

  // A secret never reaches the output.
  for (const CliRun& r : {first, again, show, verify, status, dry}) {
    EXPECT_EQ(r.out.find(testing::kSecretKey), std::string::npos) << r.out;
  }
}

TEST_P(SyncCli, RemoteVerifyNamesTheFirstBadObjectAndExitsOne) {
  Cli cli(GetParam());
  cli.append(1200, 0);
  ASSERT_EQ(cli.run("sync").rc, 0);
  nlohmann::json m = cli.json("checkpoint show --json");
  ASSERT_GE(m["log"].size(), 3u);
  std::string key = m["log"][1]["key"];
  // Replace the object with other bytes of the same length (a rogue writer or
  // a broken disk), through the store's own interface.
  std::string other(m["log"][1]["stored_bytes"].get<size_t>(), 'x');
  std::string path = cli.tmp.path() + "/other";
  testing::write_file(path, other);
  ASSERT_EQ(cli.run("remote put '" + key + "' '" + path + "'").rc, 0);
  CliRun v = cli.run("remote verify");
  EXPECT_EQ(v.rc, 1) << v.out;
  EXPECT_NE(v.out.find("FAIL " + key + ": its bytes do not hash"), std::string::npos) << v.out;

  // Truncated: shorter bytes under the next key.
  std::string key2 = m["log"][2]["key"];
  testing::write_file(path, "short");
  ASSERT_EQ(cli.run("remote put '" + key2 + "' '" + path + "'").rc, 0);
  nlohmann::json jv = cli.json("remote verify --json", 1);
  EXPECT_EQ(jv["ok"], false);
  ASSERT_EQ(jv["problems"].size(), 2u);
  EXPECT_EQ(jv["problems"][1]["key"], key2);
  EXPECT_NE(jv["problems"][1]["problem"].get<std::string>().find("truncated"), std::string::npos);
}

TEST_P(SyncCli, AnotherLineageIsRefusedWithBothNamesAndExitThree) {
  Cli cli(GetParam());
  cli.append(100, 0);
  ASSERT_EQ(cli.run("sync").rc, 0);
  std::string before = cli.run("remote get checkpoint.json").out;
  std::string lineage = testing::read_file(cli.tmp.path() + "/data/lineage-id");
  lineage.pop_back();
  // Another data directory pointed at the same prefix.
  std::string other_env = "DATA_DIR='" + cli.tmp.path() + "/other'";
  std::filesystem::create_directories(cli.tmp.path() + "/other");
  {
    WalOptions o = testing::test_options(cli.tmp.path() + "/other/wal");
    o.tiers = {"object"};
    auto wal = Wal::open(o);
    testing::append_sessions(*wal, 10);
  }
  if (!GetParam()) {
    // The filesystem store lives in DATA_DIR/remote: share it.
    std::filesystem::create_directory_symlink(cli.tmp.path() + "/data/remote",
                                              cli.tmp.path() + "/other/remote");
  }
  CliRun r = cli.run("sync", other_env);
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("strata: LINEAGE_CONFLICT:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(lineage), std::string::npos) << r.out;
  std::string other_lineage = testing::read_file(cli.tmp.path() + "/other/lineage-id");
  other_lineage.pop_back();
  EXPECT_NE(r.out.find(other_lineage), std::string::npos) << r.out;
  EXPECT_EQ(cli.run("remote get checkpoint.json").out, before);  // byte-identical

  CliRun adopt = cli.run("sync --adopt --json", other_env);
  EXPECT_EQ(adopt.rc, 0) << adopt.out;
  CliRun mine = cli.run("sync");
  EXPECT_EQ(mine.rc, 3) << mine.out;
  EXPECT_NE(mine.out.find("belongs to lineage " + other_lineage), std::string::npos) << mine.out;
}

INSTANTIATE_TEST_SUITE_P(Stores, SyncCli, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "S3" : "Filesystem"; });

struct CrashCase {
  const char* failpoint;
  bool s3;
};

class SyncCrash : public ::testing::TestWithParam<CrashCase> {};

// A sync killed at the failpoint leaves a store that verifies (old or new
// manifest, complete), and the next sync completes with the whole log.
TEST_P(SyncCrash, KilledAtTheFailpointTheStoreVerifiesAndTheNextSyncCompletes) {
  const CrashCase c = GetParam();
  Cli cli(c.s3);
  cli.append(800, 0);
  ASSERT_EQ(cli.run("sync").rc, 0);  // a previous manifest to replace
  uint64_t head = cli.append(1200, 800);
  CliRun killed = cli.run("sync", std::string("STRATA_SYNC_FAILPOINT=") + c.failpoint);
  ASSERT_EQ(killed.rc, 137) << "not killed at " << c.failpoint << ": " << killed.out;

  CliRun v = cli.run("remote verify");
  EXPECT_EQ(v.rc, 0) << c.failpoint << ": " << v.out;
  nlohmann::json m = cli.json("checkpoint show --json");
  uint64_t remote_head = m["head_seq"];
  nlohmann::json st = cli.json("status --json");
  // The local mark is never ahead of the remote.
  EXPECT_LE(st["object_sync"]["confirmed_seq"].get<uint64_t>(), remote_head);

  nlohmann::json r = cli.json("sync --json");
  EXPECT_EQ(r["confirmed_seq"], head) << c.failpoint;
  std::string fp = c.failpoint;
  if (fp == "after-manifest" || fp == "before-intent-delete" || fp == "before-retention-delete") {
    // The manifest was written: the next sync only confirms it.
    EXPECT_EQ(remote_head, head);
    EXPECT_EQ(r["wrote_manifest"], false);
    EXPECT_EQ(r["objects_uploaded"], 0);
  } else {
    // Objects uploaded before the kill are reused, not sent again.
    EXPECT_EQ(remote_head, 800u);
    EXPECT_GT(r["objects_reused"].get<uint64_t>(), 0u) << fp;
  }
  EXPECT_EQ(cli.run("remote verify").rc, 0);
  EXPECT_EQ(cli.json("checkpoint show --json")["head_seq"], head);
  EXPECT_EQ(cli.json("sync --json")["wrote_manifest"], false);
}

INSTANTIATE_TEST_SUITE_P(
    Failpoints, SyncCrash,
    ::testing::Values(CrashCase{"after-upload-object:3", false}, CrashCase{"after-upload", false},
                      CrashCase{"after-verify", false}, CrashCase{"after-manifest", false},
                      CrashCase{"before-intent-delete", false},
                      CrashCase{"after-upload-object:3", true}, CrashCase{"after-verify", true},
                      CrashCase{"after-manifest", true}, CrashCase{"before-intent-delete", true}),
    [](const auto& info) {
      std::string n = info.param.failpoint;
      std::string out;
      for (char ch : n) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return out + (info.param.s3 ? "_S3" : "_Filesystem");
    });

}  // namespace
}  // namespace strata
