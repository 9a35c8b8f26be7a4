// S3CheckpointStorage against a real s3rver. Unless a test says otherwise the
// requests pass through tests/js/proxy.js in verifying mode, which re-signs
// each one with the official AWS SDK signer and refuses a mismatch: s3rver
// itself checks no signature, so without the proxy these tests would prove
// nothing about signing.
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "storage/servers.h"
#include "strata/error.h"
#include "strata/hash.h"
#include "strata/storage.h"
#include "support/error_helpers.h"

namespace strata {
namespace {

using testing::S3Servers;

using testing::code_of;

std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

TEST(S3Store, EveryOperationAgainstS3rver) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  EXPECT_TRUE(s.is_available());
  EXPECT_EQ(s.read_file("wal/none"), std::nullopt);
  EXPECT_EQ(s.stat("wal/none"), std::nullopt);
  EXPECT_FALSE(s.verify_checksum("wal/none", sha256_hex("")));

  WriteOptions opts;
  opts.metadata = {{"seq", "42"}, {"boot-epoch", "01HZX"}};
  s.write_file("wal/batch-1.jsonl", "line one\nline two\n", opts);
  s.write_file("empty", "");
  EXPECT_EQ(s.read_file("wal/batch-1.jsonl"), "line one\nline two\n");
  EXPECT_EQ(s.read_file("empty"), "");

  auto st = s.stat("wal/batch-1.jsonl");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 18u);
  EXPECT_FALSE(st->etag.empty());
  EXPECT_EQ(st->metadata.at("sha256"), sha256_hex("line one\nline two\n"));
  EXPECT_EQ(st->metadata.at("seq"), "42");
  EXPECT_EQ(st->metadata.at("boot-epoch"), "01HZX");
  EXPECT_LE(std::chrono::system_clock::now() - st->mtime, std::chrono::minutes(2));

  EXPECT_TRUE(s.verify_checksum("wal/batch-1.jsonl", sha256_hex("line one\nline two\n")));
  EXPECT_FALSE(s.verify_checksum("wal/batch-1.jsonl", sha256_hex("tampered")));
  EXPECT_EQ(s.list_files(""), (std::vector<std::string>{"empty", "wal/batch-1.jsonl"}));
  EXPECT_EQ(s.list_files("wal/"), std::vector<std::string>{"wal/batch-1.jsonl"});

  s.delete_file("wal/batch-1.jsonl");
  s.delete_file("wal/batch-1.jsonl");  // deleting a missing object is fine
  EXPECT_EQ(s.read_file("wal/batch-1.jsonl"), std::nullopt);
  EXPECT_EQ(s.list_files(""), std::vector<std::string>{"empty"});
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 0u);
}

TEST(S3Store, AwkwardKeysRoundTripAndAreSignedCorrectly) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  std::vector<std::string> keys = {
      "with space/and+plus", "tilde~and*star", "unicode/é日本😀", "reserved!$&'()=;:@,",
      "percent%20literal",   "q?mark#hash",    ".dotfile",       "a..b/c"};
  for (const auto& k : keys) s.write_file(k, "v:" + k);
  for (const auto& k : keys) EXPECT_EQ(s.read_file(k), "v:" + k) << k;
  auto listed = s.list_files("");
  auto sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(listed, sorted);
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 0u);
}

TEST(S3Store, ListingPagesThroughMoreThan1000Keys) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  constexpr int kKeys = 1234;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kKeys; i += 4) s.write_file(fmt::format("many/{:05d}", i), "x");
    });
  }
  for (auto& w : writers) w.join();
  s.write_file("other/one", "x");
  auto keys = s.list_files("many/");
  ASSERT_EQ(keys.size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(keys[i], fmt::format("many/{:05d}", i));
  EXPECT_EQ(s.list_files("").size(), static_cast<size_t>(kKeys + 1));
  // At least two ListObjectsV2 pages went through the verifying proxy.
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 0u);
}

TEST(S3Store, PrefixIsolatesTwoStoresInOneBucket) {
  S3Servers servers;
  S3Config a = servers.config();
  a.prefix = "node-a/";
  S3Config b = servers.config();
  b.prefix = "node-b/";
  S3CheckpointStorage sa(a), sb(b), root(servers.config());
  sa.write_file("checkpoint.json", "A");
  sb.write_file("checkpoint.json", "B");
  EXPECT_EQ(sa.read_file("checkpoint.json"), "A");
  EXPECT_EQ(sb.read_file("checkpoint.json"), "B");
  EXPECT_EQ(sa.list_files(""), std::vector<std::string>{"checkpoint.json"});
  EXPECT_EQ(root.list_files(""),
            (std::vector<std::string>{"node-a/checkpoint.json", "node-b/checkpoint.json"}));
}

TEST(S3Store, HundredMiBObjectStreamsBothWays) {
  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.call_timeout = std::chrono::milliseconds(120000);
  S3CheckpointStorage s(cfg);
  testing::TempDir tmp;
  std::string big = pattern(100u << 20, 7);
  std::string sha = sha256_hex(big);
  testing::write_file(tmp / "big.in", big);

  // Above the default 64 MiB threshold: multipart (s3rver supports Create,
  // UploadPart and Complete).
  auto t0 = std::chrono::steady_clock::now();
  s.write_file_from("big/object.bin", tmp / "big.in");
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.read_file_to("big/object.bin", tmp / "big.out"));
  auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(sha256_hex(testing::read_file(tmp / "big.out")), sha);
  auto st = s.stat("big/object.bin");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 100u << 20);
  EXPECT_EQ(st->metadata.at("sha256"), sha);
  EXPECT_TRUE(s.verify_checksum("big/object.bin", sha));
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf(
      "100 MiB via verifying proxy: PUT (multipart, 7 parts) %lld ms = %.1f MiB/s, "
      "GET to file %lld ms = %.1f MiB/s\n",
      static_cast<long long>(ms(t1 - t0)), 100e3 / static_cast<double>(ms(t1 - t0)),
      static_cast<long long>(ms(t2 - t1)), 100e3 / static_cast<double>(ms(t2 - t1)));
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 0u);
}

TEST(S3Store, SinglePutOfAHundredMiBFromMemory) {
  S3Servers servers(/*with_proxy=*/false);
  S3Config cfg = servers.config();
  cfg.multipart_threshold = 1ull << 30;  // force one PUT
  cfg.call_timeout = std::chrono::milliseconds(120000);
  S3CheckpointStorage s(cfg);
  std::string big = pattern(100u << 20, 11);
  auto t0 = std::chrono::steady_clock::now();
  s.write_file("big.bin", big);
  auto t1 = std::chrono::steady_clock::now();
  auto back = s.read_file("big.bin");
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == big);
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf(
      "100 MiB direct to s3rver: single PUT %lld ms = %.1f MiB/s, GET to memory %lld ms "
      "= %.1f MiB/s\n",
      static_cast<long long>(ms(t1 - t0)), 100e3 / static_cast<double>(ms(t1 - t0)),
      static_cast<long long>(ms(t2 - t1)), 100e3 / static_cast<double>(ms(t2 - t1)));
}

TEST(S3Store, MultipartWithSmallPartsFromMemory) {
  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.part_size = 5u << 20;
  cfg.multipart_threshold = 5u << 20;
  S3CheckpointStorage s(cfg);
  std::string data = pattern((12u << 20) + 3, 3);  // 3 parts, the last one short
  WriteOptions o;
  o.metadata = {{"kind", "snapshot"}};
  s.write_file("mp.bin", data, o);
  EXPECT_EQ(s.read_file("mp.bin"), data);
  auto st = s.stat("mp.bin");
  EXPECT_EQ(st->metadata.at("kind"), "snapshot");
  EXPECT_EQ(st->metadata.at("sha256"), sha256_hex(data));
}

TEST(S3Store, ConcurrentWritersToDistinctAndSharedKeys) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        s.write_file(fmt::format("w{}/{}", t, i), pattern(1000 + i, t * 100 + i));
        s.write_file("shared", pattern(50000, t));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 15; ++i) {
      EXPECT_EQ(s.read_file(fmt::format("w{}/{}", t, i)), pattern(1000 + i, t * 100 + i));
    }
  }
  // The shared key holds exactly one writer's complete object, never a mix.
  int complete = 0;
  for (int t = 0; t < 8; ++t)
    complete += s.verify_checksum("shared", sha256_hex(pattern(50000, t)));
  EXPECT_EQ(complete, 1);
  // s3rver writes an object's bytes and its metadata as two files, so racing
  // PUTs of one key can pair one writer's bytes with another's x-amz-meta-sha256
  // (S3 and R2 replace objects atomically). strata must then report it, not
  // return the bytes as verified.
  try {
    auto shared = s.read_file("shared");
    ASSERT_TRUE(shared);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorageIntegrity) << e.what();
  }
  EXPECT_EQ(s.list_files("").size(), 8u * 15 + 1);
}

TEST(S3Store, IntegrityMismatchIsReported) {
  // Another writer (here: the SDK-free raw path of a second store with a
  // different object) leaves metadata that does not match the bytes.
  S3Servers servers(/*with_proxy=*/false);
  S3CheckpointStorage s(servers.config());
  s.write_file("k", "original");
  // Overwrite the stored bytes under s3rver's data directory, as corruption
  // on the server would.
  std::string found;
  for (auto& e : std::filesystem::recursive_directory_iterator(servers.dir.path() + "/s3rver")) {
    if (e.is_regular_file() && e.path().filename() == "k._S3rver_object") found = e.path();
  }
  ASSERT_FALSE(found.empty()) << "s3rver's object file layout changed";
  testing::write_file(found, "tampered");
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }), ErrorCode::kStorageIntegrity);
  testing::TempDir tmp;
  EXPECT_EQ(code_of([&] { (void)s.read_file_to("k", tmp / "out"); }), ErrorCode::kStorageIntegrity);
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));
  EXPECT_FALSE(s.verify_checksum("k", sha256_hex("original")));
}

TEST(S3Store, WrongSecretIsBadCredentials) {
  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.secret_access_key = "the-wrong-secret-value";
  S3CheckpointStorage s(cfg);
  std::string msg;
  EXPECT_EQ(code_of([&] { s.write_file("k", "v"); }, &msg), ErrorCode::kStorageBadCredentials);
  EXPECT_NE(msg.find("SignatureDoesNotMatch"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("the-wrong-secret-value"), std::string::npos) << msg;
  // Refused requests are answers, not outages: the breaker stays closed.
  for (int i = 0; i < 5; ++i) (void)code_of([&] { (void)s.read_file("k"); });
  EXPECT_EQ(s.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(s.stats().retries, 0u);  // 4xx auth errors are never retried
}

TEST(S3Store, UnknownAccessKeyIsBadCredentialsFromS3rverItself) {
  S3Servers servers(/*with_proxy=*/false);
  S3Config cfg = servers.config();
  cfg.access_key_id = "NOSUCHKEY";
  S3CheckpointStorage s(cfg);
  std::string msg;
  EXPECT_EQ(code_of([&] { (void)s.list_files(""); }, &msg), ErrorCode::kStorageBadCredentials);
  EXPECT_NE(msg.find("InvalidAccessKeyId"), std::string::npos) << msg;
}

TEST(S3Store, MissingBucketIsNotFoundNotAMissingObject) {
  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.bucket = "no-such-bucket";
  S3CheckpointStorage s(cfg);
  std::string msg;
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }, &msg), ErrorCode::kStorageNotFound);
  EXPECT_NE(msg.find("NoSuchBucket"), std::string::npos) << msg;
  EXPECT_EQ(code_of([&] { (void)s.list_files(""); }), ErrorCode::kStorageNotFound);
  EXPECT_FALSE(s.is_available());
}

TEST(S3Store, StoppedServerGivesNetworkErrorsThenTheBreakerOpens) {
  S3Servers servers(/*with_proxy=*/false);
  S3Config cfg = servers.config();
  cfg.breaker_reset = std::chrono::milliseconds(600000);
  S3CheckpointStorage s(cfg);
  s.write_file("k", "v");
  servers.s3rver->kill_now();
  std::string msg;
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }, &msg), ErrorCode::kStorageNetwork);
  EXPECT_NE(msg.find("cannot reach 127.0.0.1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after 4 attempts"), std::string::npos) << msg;
  EXPECT_EQ(code_of([&] { s.write_file("k", "v2"); }), ErrorCode::kStorageNetwork);
  EXPECT_EQ(s.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(code_of([&] { (void)s.stat("k"); }), ErrorCode::kStorageNetwork);
  EXPECT_EQ(s.breaker_state(), BreakerState::kOpen);
  uint64_t sent = s.stats().requests;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }, &msg), ErrorCode::kStorageUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  EXPECT_EQ(s.stats().requests, sent) << "an open breaker must not send";
  EXPECT_NE(msg.find("circuit breaker open"), std::string::npos) << msg;
  EXPECT_FALSE(s.is_available());
}

TEST(S3Store, SecretsNeverReachLogsOrErrors) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.session_token = "TOKEN-do-not-leak-7c1f";
  std::string errors;
  {
    // The verifying proxy has no token configured, so it still accepts; the
    // token is sent and signed as x-amz-security-token.
    S3CheckpointStorage s(cfg);
    s.write_file("k", "v");
    errors += s.describe();
    servers.proxy_control("fault?mode=status&status=503&count=2");
    s.write_file("k2", "v");  // retried: logs the retries
    S3Config wrong = cfg;
    wrong.secret_access_key = "another-secret-do-not-leak";
    S3CheckpointStorage w(wrong);
    try {
      w.write_file("k", "v");
    } catch (const Error& e) {
      errors += e.what();
    }
    for (const auto& r : w.check()) errors += r.detail;
    servers.s3rver->kill_now();
    try {
      (void)s.read_file("k");
    } catch (const Error& e) {
      errors += e.what();
    }
  }
  spdlog::set_default_logger(previous);
  std::string all = log.str() + errors;
  EXPECT_NE(log.str().find("retrying"), std::string::npos) << "retries were not logged";
  for (const char* secret :
       {testing::kSecretKey, "TOKEN-do-not-leak-7c1f", "another-secret-do-not-leak"}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << "leaked " << secret << " in:\n" << all;
  }
}

}  // namespace
}  // namespace strata
