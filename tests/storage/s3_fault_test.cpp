// Retries, timeouts, the circuit breaker and connection reuse, shown against
// tests/js/proxy.js injecting faults in front of a real s3rver (answers
// 500/503/429/4xx, resets connections, closes them unanswered, stalls,
// truncates bodies).
#include <gtest/gtest.h>

#include <filesystem>

#include "storage/servers.h"
#include "strata/error.h"
#include "strata/hash.h"
#include "strata/storage.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/error_helpers.h"

namespace strata {
namespace {

using testing::S3Servers;
using Clock = std::chrono::steady_clock;

using testing::code_of;

TEST(S3Faults, ServerErrorsAreRetriedWithBackoffThenSucceed) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  servers.proxy_control("fault?mode=status&status=503&count=2");
  s.write_file("k", "value");
  EXPECT_EQ(s.stats().retries, 2u);
  EXPECT_EQ(servers.proxy_stat("faults"), 2u);
  servers.proxy_control("fault?mode=status&status=500&count=1");
  EXPECT_EQ(s.read_file("k"), "value");
  EXPECT_EQ(s.breaker_state(), BreakerState::kClosed);
}

TEST(S3Faults, PersistentServerErrorsGiveUpAfterMaxAttempts) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  servers.proxy_control("fault?mode=status&status=500&count=-1");
  std::string msg;
  EXPECT_EQ(code_of([&] { s.write_file("k", "v"); }, &msg), ErrorCode::kStorageServerError);
  EXPECT_NE(msg.find("HTTP 500 InternalError"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after 4 attempts"), std::string::npos) << msg;
  EXPECT_EQ(servers.proxy_stat("requests"), 4u);
}

TEST(S3Faults, ThrottlingIsRetriedAndReportedAsThrottled) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  servers.proxy_control("fault?mode=status&status=429&count=-1");
  EXPECT_EQ(code_of([&] { (void)s.list_files(""); }), ErrorCode::kStorageThrottled);
  EXPECT_EQ(servers.proxy_stat("requests"), 4u);
}

TEST(S3Faults, ClientErrorsAreNeverRetried) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  servers.proxy_control("fault?mode=status&status=403&count=-1");
  EXPECT_EQ(code_of([&] { s.write_file("k", "v"); }), ErrorCode::kStorageAccessDenied);
  EXPECT_EQ(servers.proxy_stat("requests"), 1u);
  servers.proxy_control("fault?mode=status&status=400&count=-1");
  EXPECT_EQ(code_of([&] { s.write_file("k", "v"); }), ErrorCode::kStorageRejected);
  EXPECT_EQ(servers.proxy_stat("requests"), 2u);
  EXPECT_EQ(s.stats().retries, 0u);
  // The store answered each time: no outage, the breaker stays closed.
  EXPECT_EQ(s.breaker_state(), BreakerState::kClosed);
}

TEST(S3Faults, ConnectionResetsAndUnansweredClosesAreRetried) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  servers.proxy_control("fault?mode=reset&count=2");
  s.write_file("k", "v");
  EXPECT_EQ(s.stats().retries, 2u);
  servers.proxy_control("fault?mode=close&count=1");
  EXPECT_EQ(s.read_file("k"), "v");
  servers.proxy_control("fault?mode=reset&count=-1");
  std::string msg;
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }, &msg), ErrorCode::kStorageNetwork);
  EXPECT_NE(msg.find("after 4 attempts"), std::string::npos) << msg;
}

TEST(S3Faults, TruncatedBodiesAreDetectedAndRetried) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  std::string data(300000, 'z');
  s.write_file("k", data);
  testing::TempDir tmp;
  servers.proxy_control("fault?mode=truncate&count=1&method=GET");
  EXPECT_EQ(s.read_file("k"), data);
  servers.proxy_control("fault?mode=truncate&count=1&method=GET");
  ASSERT_TRUE(s.read_file_to("k", tmp / "out"));
  EXPECT_EQ(testing::read_file(tmp / "out"), data);  // the first, cut attempt is discarded
  EXPECT_EQ(s.stats().retries, 2u);
  servers.proxy_control("fault?mode=truncate&count=-1&method=GET");
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }), ErrorCode::kStorageNetwork);
}

TEST(S3Faults, StreamFileStreamsAndIsNotRetriedOnceBytesWerePassedOn) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  std::string data(300000, 'z');
  s.write_file("k", data);
  std::string got;
  EXPECT_TRUE(s.stream_file("k", [&](const char* p, size_t n) { got.append(p, n); }));
  EXPECT_EQ(got, data);
  EXPECT_FALSE(s.stream_file("missing", [](const char*, size_t) { ADD_FAILURE(); }));
  // A cut body: what the sink saw cannot be taken back, so no retry.
  servers.proxy_control("fault?mode=truncate&count=1&method=GET");
  got.clear();
  std::string msg;
  EXPECT_EQ(code_of([&] { s.stream_file("k", [&](const char* p, size_t n) { got.append(p, n); }); },
                    &msg),
            ErrorCode::kStorageNetwork);
  EXPECT_NE(msg.find("not retried"), std::string::npos) << msg;
  EXPECT_LT(got.size(), data.size());
  // A sink that throws stops the read with its own error.
  EXPECT_EQ(code_of([&] {
              s.stream_file("k", [](const char*, size_t) {
                throw Error(ErrorCode::kIoError, "write stdout: Broken pipe");
              });
            }),
            ErrorCode::kIoError);
}

// Downloads land through the seam's atomic replace: a failed fsync or
// rename of the local file leaves what was there and no temporary file.
TEST(S3Faults, ReadFileToUnderInjectedLocalFailuresLeavesTheLocalFile) {
  S3Servers servers;
  for (FsOp op : {FsOp::kWrite, FsOp::kSync, FsOp::kRename}) {
    FaultInjectionFileSystem fi;
    S3CheckpointStorage s(servers.config(), fi);
    s.write_file("k", "remote content");
    testing::TempDir tmp;
    testing::write_file(tmp / "out", "local content");
    fi.add_rule(testing::fault(op, tmp.path()));
    EXPECT_EQ(code_of([&] { (void)s.read_file_to("k", tmp / "out"); }), ErrorCode::kIoError)
        << static_cast<int>(op);
    EXPECT_EQ(testing::read_file(tmp / "out"), "local content") << static_cast<int>(op);
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(tmp.path()))
      ++entries;
    EXPECT_EQ(entries, 1u) << static_cast<int>(op);
    EXPECT_EQ(s.breaker_state(), BreakerState::kClosed);  // a local failure is not an outage
  }
}

TEST(S3Faults, StalledServerTimesOutWithinTheCallBudget) {
  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.stall_timeout = std::chrono::milliseconds(1000);
  cfg.call_timeout = std::chrono::milliseconds(4000);
  S3CheckpointStorage s(cfg);
  servers.proxy_control("fault?mode=stall&count=-1");
  auto t0 = Clock::now();
  std::string msg;
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }, &msg), ErrorCode::kTimeout);
  auto elapsed = Clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::milliseconds(5500)) << msg;
  EXPECT_GE(elapsed, std::chrono::milliseconds(1000)) << msg;
  EXPECT_GE(s.stats().requests, 2u) << "a stall is retried while the budget allows";
}

TEST(S3Faults, DefaultTimeoutsBoundANeverAnsweringServerToOneMinute) {
  S3Servers servers;
  S3Config cfg;  // every timeout, retry and breaker setting at its default
  cfg.endpoint = servers.endpoint();
  cfg.bucket = testing::kBucket;
  cfg.access_key_id = testing::kAccessKey;
  cfg.secret_access_key = testing::kSecretKey;
  S3CheckpointStorage s(cfg);
  servers.proxy_control("fault?mode=stall&count=-1");
  auto t0 = Clock::now();
  std::string msg;
  EXPECT_EQ(code_of([&] { (void)s.stat("k"); }, &msg), ErrorCode::kTimeout);
  auto elapsed = Clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::seconds(60)) << msg;
  std::printf("never-answering server, default settings: failed after %lld ms with: %s\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()),
              msg.c_str());
}

TEST(S3Faults, BreakerOpensFailsFastAndClosesAfterASuccessfulProbe) {
  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.max_attempts = 2;
  cfg.breaker_threshold = 3;
  cfg.breaker_reset = std::chrono::milliseconds(700);
  S3CheckpointStorage s(cfg);
  s.write_file("k", "v");
  uint64_t before = servers.proxy_stat("requests");
  servers.proxy_control("fault?mode=status&status=503&count=-1");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.breaker_state(), BreakerState::kClosed);
    EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }), ErrorCode::kStorageServerError);
  }
  EXPECT_EQ(s.breaker_state(), BreakerState::kOpen);
  uint64_t reached = servers.proxy_stat("requests");
  EXPECT_EQ(reached - before, 6u);  // 3 calls x 2 attempts
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }), ErrorCode::kStorageUnavailable);
  }
  EXPECT_EQ(servers.proxy_stat("requests"), reached) << "calls went out while open";

  // Still failing when the probe goes: open again for another period.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(s.breaker_state(), BreakerState::kHalfOpen);
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }), ErrorCode::kStorageServerError);
  EXPECT_EQ(s.breaker_state(), BreakerState::kOpen);

  servers.proxy_control("clear");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(s.breaker_state(), BreakerState::kHalfOpen);
  EXPECT_EQ(s.read_file("k"), "v");  // the probe
  EXPECT_EQ(s.breaker_state(), BreakerState::kClosed);
}

TEST(S3Faults, ConnectionsAreReusedAcrossCalls) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  for (int i = 0; i < 30; ++i) {
    s.write_file("k" + std::to_string(i), "v");
    (void)s.read_file("k" + std::to_string(i));
  }
  (void)s.list_files("");
  EXPECT_EQ(servers.proxy_stat("connections"), 1u);
  EXPECT_EQ(s.stats().connections, 1u);
  EXPECT_EQ(s.stats().requests, 61u);
}

TEST(S3Faults, PreconditionFailedFromTheProviderIsTyped) {
  // s3rver ignores If-None-Match / If-Match on PUT (it overwrites); the proxy
  // answers 412 the way S3 and R2 do, to show the client's side of it.
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  servers.proxy_control("fault?mode=status&status=412&count=1&method=PUT");
  WriteOptions o;
  o.if_absent = true;
  std::string msg;
  EXPECT_EQ(code_of([&] { s.write_file("lease", "me", o); }, &msg),
            ErrorCode::kStoragePreconditionFailed);
  EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  EXPECT_EQ(s.stats().retries, 0u);
}

TEST(S3Faults, MultipartPartFailuresAreRetriedPerPart) {
  S3Servers servers;
  S3Config cfg = servers.config();
  cfg.part_size = 5u << 20;
  cfg.multipart_threshold = 5u << 20;
  S3CheckpointStorage s(cfg);
  std::string data((11u << 20), 'm');
  servers.proxy_control("fault?mode=reset&count=2&method=PUT");
  s.write_file("mp", data);
  EXPECT_EQ(s.stats().retries, 2u);
  EXPECT_TRUE(s.verify_checksum("mp", sha256_hex(data)));
}

}  // namespace
}  // namespace strata
