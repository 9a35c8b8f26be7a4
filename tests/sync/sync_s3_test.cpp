// ObjectStoreSync against s3rver behind the suite's proxy, which checks every
// signature with the official SDK signer, decides conditional writes as S3
// does (--conditional; s3rver ignores them) and injects faults.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "storage/servers.h"
#include "strata/error.h"
#include "strata/object_sync.h"
#include "sync/sync_test_support.h"

namespace strata {
namespace {

using testing::append_sessions;
using testing::CountingStore;
using testing::S3Servers;
using testing::sync_options;
using testing::TempDir;

// s3rver with a verifying, S3-conditional proxy in front.
struct Servers {
  Servers() : s3(/*with_proxy=*/false) {
    std::vector<std::string> args = {
        "--upstream", "127.0.0.1:" + std::to_string(s3.s3rver->port()), "--verify",
        std::string(testing::kAccessKey) + ":" + testing::kSecretKey, "--conditional"};
    s3.proxy = std::make_unique<testing::NodeProcess>(std::vector<std::string>{},
                                                      testing::js_dir() + "/proxy.js", args);
  }
  uint64_t method(const std::string& m) const {
    auto j = nlohmann::json::parse(s3.proxy_control("stats"));
    return j["methods"].value(m, uint64_t{0});
  }
  uint64_t stat(const std::string& name) const { return s3.proxy_stat(name); }
  S3Servers s3;
};

struct S3Node {
  S3Node(const std::string& dir, const std::string& lineage = "lineage-s3-a") : data_dir(dir) {
    WalOptions o = testing::test_options(dir + "/wal");
    o.tiers = {"object"};
    o.sync = SyncMode::kNone;
    wal = Wal::open(o);
    this->lineage = lineage;
  }
  std::string data_dir, lineage;
  std::unique_ptr<Wal> wal;
};

TEST(SyncS3, IncrementalShippingAndNoPutWhenNothingIsNew) {
  Servers sv;
  TempDir tmp;
  S3CheckpointStorage store(sv.s3.config());
  S3Node a(tmp / "a");
  append_sessions(*a.wal, 2000);
  ObjectStoreSync tier(*a.wal, store, sync_options(a.data_dir));

  SyncResult r1 = tier.sync();
  EXPECT_EQ(r1.confirmed_seq, 2000u);
  uint64_t puts = sv.method("PUT");
  EXPECT_EQ(puts, r1.objects_uploaded + 2);  // objects, the intent, the manifest

  append_sessions(*a.wal, 40, 2000);
  SyncResult r2 = tier.sync();
  EXPECT_EQ(r2.objects_uploaded, 1u);
  EXPECT_EQ(sv.method("PUT") - puts, 3u);

  uint64_t get = sv.method("GET"), put = sv.method("PUT"), head = sv.method("HEAD"),
           del = sv.method("DELETE"), all = sv.stat("requests");
  SyncResult r3 = tier.sync();
  EXPECT_FALSE(r3.wrote_manifest);
  EXPECT_EQ(sv.method("GET") - get, 1u);  // the manifest
  EXPECT_EQ(sv.method("PUT") - put, 0u);
  EXPECT_EQ(sv.method("HEAD") - head, 0u);
  EXPECT_EQ(sv.method("DELETE") - del, 0u);
  EXPECT_EQ(sv.stat("requests") - all, 1u);

  RemoteVerifyResult v = tier.verify_remote();
  EXPECT_TRUE(v.ok) << (v.problems.empty() ? "" : v.problems[0].problem);
  EXPECT_EQ(sv.stat("signature_failures"), 0u);
}

TEST(SyncS3, IfMatchStopsAWriterWhoseManifestWasReplacedMidSync) {
  Servers sv;
  TempDir tmp;
  S3CheckpointStorage base(sv.s3.config());
  {
    S3Node a(tmp / "a");
    append_sessions(*a.wal, 100);
    ObjectStoreSync(*a.wal, base, sync_options(a.data_dir)).sync();
  }
  // A copy of the data directory: same lineage, same record of version 1.
  std::filesystem::copy(tmp / "a", tmp / "b", std::filesystem::copy_options::recursive);
  S3Node a(tmp / "a"), b(tmp / "b");
  append_sessions(*a.wal, 10, 100);
  append_sessions(*b.wal, 20, 700);
  CountingStore store(base);
  ObjectStoreSync ta(*a.wal, store, sync_options(a.data_dir));
  ObjectStoreSync tb(*b.wal, base, sync_options(b.data_dir));
  bool raced = false;
  store.before = [&](const std::string& op, std::string_view key) {
    if (op == "put" && key == "checkpoint.json" && !raced) {
      raced = true;
      tb.sync();  // replaces version 1 while a is about to
    }
  };
  try {
    ta.sync();
    ADD_FAILURE() << "a overwrote b's manifest";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLineageConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find("changed while this sync ran"), std::string::npos);
  }
  EXPECT_GE(sv.stat("precondition_failures"), 1u);
  auto m = tb.read_manifest();
  EXPECT_EQ(m->manifest_version, 2u);
  EXPECT_EQ(m->head_seq, 120u);  // b's log
  EXPECT_EQ(ta.status().confirmed_seq, 100u);
  EXPECT_TRUE(tb.verify_remote().ok);
  // a's next sync is refused by the fence before it writes anything.
  store.before = nullptr;
  EXPECT_THROW(ta.sync(), Error);
}

TEST(SyncS3, FaultsNeverLeaveAManifestListingAMissingOrWrongObject) {
  Servers sv;
  TempDir tmp;
  S3Config cfg = sv.s3.config();
  cfg.max_attempts = 3;
  cfg.breaker_threshold = 1000;  // this test is about retries, not the breaker
  cfg.stall_timeout = std::chrono::milliseconds(500);
  S3CheckpointStorage store(cfg);
  S3Node a(tmp / "a");
  ObjectSyncOptions o = sync_options(a.data_dir);
  o.object_bytes = 16 * 1024;
  o.orphan_ms = 1;
  ObjectStoreSync tier(*a.wal, store, o);
  std::mt19937 rng(20261201);
  const char* modes[] = {"status&status=503",
                         "status&status=500",
                         "status&status=429",
                         "reset",
                         "close",
                         "truncate",
                         "stall"};
  uint64_t index = 0, failures = 0;
  for (int round = 0; round < 24; ++round) {
    append_sessions(*a.wal, 30 + rng() % 60, index);
    index += 100;
    std::string mode = modes[rng() % 7];
    int count = round % 4 == 3 ? -1 : static_cast<int>(1 + rng() % 3);
    std::string method = rng() % 2 ? "&method=PUT" : "";
    sv.s3.proxy_control("fault?mode=" + mode + "&count=" + std::to_string(count) + method);
    uint64_t before = tier.status().confirmed_seq;
    try {
      SyncResult r = tier.sync();
      EXPECT_GE(r.confirmed_seq, before);
    } catch (const Error& e) {
      failures++;
      EXPECT_EQ(tier.status().confirmed_seq, before) << e.what();
    }
    sv.s3.proxy_control("clear");
    // Whatever happened, the manifest on the store is complete and true, and
    // the local mark is never ahead of it.
    auto m = tier.read_manifest();
    if (m) {
      RemoteVerifyResult v = tier.verify_remote();
      ASSERT_TRUE(v.ok) << "round " << round << " " << mode << ": " << v.problems[0].key << " "
                        << v.problems[0].problem;
      EXPECT_LE(tier.status().confirmed_seq, m->head_seq);
    }
  }
  EXPECT_GT(failures, 0u);  // the -1 rounds fail after their retries
  EXPECT_GT(sv.stat("faults"), 24u);
  SyncResult last = tier.sync();
  EXPECT_EQ(last.confirmed_seq, a.wal->status().head_seq);
  EXPECT_TRUE(tier.verify_remote().ok);
  EXPECT_GT(tier.metrics().storage_retries, 0u);
  EXPECT_EQ(sv.stat("signature_failures"), 0u);
}

TEST(SyncS3, AStoppedServerFailsTheSyncAndOpensTheBreakerWithNothingConfirmed) {
  Servers sv;
  TempDir tmp;
  S3Config cfg = sv.s3.config();
  cfg.breaker_threshold = 2;
  cfg.breaker_reset = std::chrono::milliseconds(600000);
  S3CheckpointStorage store(cfg);
  S3Node a(tmp / "a");
  append_sessions(*a.wal, 50);
  ObjectStoreSync tier(*a.wal, store, sync_options(a.data_dir));
  tier.sync();
  append_sessions(*a.wal, 50, 50);
  sv.s3.s3rver->kill_now();
  std::vector<ErrorCode> codes;
  for (int i = 0; i < 3; ++i) {
    try {
      tier.sync();
    } catch (const Error& e) {
      codes.push_back(e.code());
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
      EXPECT_EQ(std::string(e.what()).find(testing::kSecretKey), std::string::npos);
    }
  }
  ASSERT_EQ(codes.size(), 3u);
  EXPECT_EQ(codes.back(), ErrorCode::kStorageUnavailable);  // the breaker is open
  EXPECT_EQ(store.breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(tier.status().confirmed_seq, 50u);
  EXPECT_EQ(tier.status().lag_entries, 50u);
  EXPECT_EQ(tier.status().last_error.find(testing::kSecretKey), std::string::npos);
  EXPECT_EQ(a.wal->status().head_seq, 100u);  // nothing local lost
}

TEST(SyncS3, R2PrefixKeepsTwoNodesApartInOneBucket) {
  Servers sv;
  TempDir tmp;
  S3Config c1 = sv.s3.config();
  c1.prefix = "node-1/";
  S3Config c2 = sv.s3.config();
  c2.prefix = "node-2/";
  S3CheckpointStorage s1(c1), s2(c2), all(sv.s3.config());
  S3Node a(tmp / "a", "lineage-one"), b(tmp / "b", "lineage-two");
  append_sessions(*a.wal, 30);
  append_sessions(*b.wal, 40);
  ObjectStoreSync(*a.wal, s1, sync_options(a.data_dir, "lineage-one")).sync();
  ObjectStoreSync(*b.wal, s2, sync_options(b.data_dir, "lineage-two")).sync();
  EXPECT_TRUE(all.stat("node-1/checkpoint.json"));
  EXPECT_TRUE(all.stat("node-2/checkpoint.json"));
  EXPECT_FALSE(all.stat("checkpoint.json"));
}

}  // namespace
}  // namespace strata
