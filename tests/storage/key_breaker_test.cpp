// Key rules, the circuit breaker's state machine (with a fake clock) and the
// backoff schedule.
#include <gtest/gtest.h>

#include "storage/circuit_breaker.h"
#include "storage/retry.h"
#include "strata/error.h"
#include "strata/storage.h"

namespace strata {
namespace {

void expect_invalid(std::string_view key) {
  try {
    validate_key(key);
    ADD_FAILURE() << "accepted \"" << key << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPath) << key;
  }
}

TEST(StorageKey, AcceptsOrdinaryAndUnicodeKeys) {
  for (std::string_view k : {"a", "wal/batch-0001.jsonl", "dir/sub dir/f+1~x.txt", "é/日本/😀",
                             ".hidden", "a..b", "..a", "checkpoint.json"}) {
    EXPECT_NO_THROW(validate_key(k)) << k;
  }
}

TEST(StorageKey, RefusesTraversalEmptySegmentsLeadingSlashAndControlCharacters) {
  expect_invalid("");
  expect_invalid("/abs");
  expect_invalid("trailing/");
  expect_invalid("a//b");
  expect_invalid("..");
  expect_invalid("a/../b");
  expect_invalid("./a");
  expect_invalid("a/.");
  expect_invalid(std::string_view("a\0b", 3));
  expect_invalid("a\nb");
  expect_invalid("a\x7f");
  expect_invalid("\xff\xfe");      // not UTF-8
  expect_invalid("\xc0\xaf");      // overlong '/'
  expect_invalid("\xed\xa0\x80");  // surrogate
  expect_invalid(std::string(1025, 'a'));
}

TEST(StorageKey, ErrorMessageShowsControlCharactersEscaped) {
  try {
    validate_key("a\x01z");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a\\x01z"), std::string::npos) << e.what();
  }
}

struct FakeClock {
  storage::CircuitBreaker::Clock::time_point now{};
  void advance(std::chrono::milliseconds d) { now += d; }
};

TEST(CircuitBreaker, OpensAfterThresholdConsecutiveFailures) {
  FakeClock clock;
  storage::CircuitBreaker b(3, std::chrono::minutes(5), [&] { return clock.now; });
  for (int i = 0; i < 2; ++i) {
    b.acquire("op");
    b.on_failure();
  }
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  b.acquire("op");
  b.on_success();  // a success in between resets the count
  for (int i = 0; i < 2; ++i) {
    b.acquire("op");
    b.on_failure();
  }
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  b.acquire("op");
  b.on_failure();
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  try {
    b.acquire("GET s3://b/k");
    FAIL() << "open breaker let a call through";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorageUnavailable);
    EXPECT_NE(std::string(e.what()).find("GET s3://b/k"), std::string::npos);
  }
}

TEST(CircuitBreaker, HalfOpenLetsOneProbeThroughAndClosesOnSuccess) {
  FakeClock clock;
  storage::CircuitBreaker b(3, std::chrono::minutes(5), [&] { return clock.now; });
  for (int i = 0; i < 3; ++i) {
    b.acquire("op");
    b.on_failure();
  }
  clock.advance(std::chrono::minutes(4));
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(std::chrono::minutes(1));
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  b.acquire("probe");
  EXPECT_THROW(b.acquire("second"), Error);  // only one probe at a time
  b.on_success();
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_NO_THROW(b.acquire("op"));
  b.on_success();
}

TEST(CircuitBreaker, FailedProbeReopensForAnotherFullPeriod) {
  FakeClock clock;
  storage::CircuitBreaker b(3, std::chrono::minutes(5), [&] { return clock.now; });
  for (int i = 0; i < 3; ++i) {
    b.acquire("op");
    b.on_failure();
  }
  clock.advance(std::chrono::minutes(5));
  b.acquire("probe");
  b.on_failure();
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(std::chrono::minutes(4));
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(std::chrono::minutes(1));
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
}

TEST(CircuitBreaker, NeutralOutcomeFreesTheProbeSlot) {
  FakeClock clock;
  storage::CircuitBreaker b(1, std::chrono::seconds(1), [&] { return clock.now; });
  b.acquire("op");
  b.on_failure();
  clock.advance(std::chrono::seconds(1));
  b.acquire("probe");
  b.on_neutral();
  EXPECT_NO_THROW(b.acquire("probe again"));
}

TEST(Backoff, DoublesWithJitterInTheUpperHalfAndIsCapped) {
  storage::BackoffPolicy p{std::chrono::milliseconds(100), std::chrono::milliseconds(1000)};
  std::mt19937_64 rng(1);
  for (int retry = 0; retry < 8; ++retry) {
    int64_t ceiling = std::min<int64_t>(1000, 100LL << retry);
    int64_t lo = ceiling, hi = 0;
    for (int i = 0; i < 200; ++i) {
      int64_t d = storage::backoff_delay(p, retry, rng).count();
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      ASSERT_GE(d, ceiling / 2);
      ASSERT_LE(d, ceiling);
    }
    EXPECT_LT(lo, hi) << "no jitter at retry " << retry;
  }
}

TEST(Backoff, RetryableStatuses) {
  EXPECT_TRUE(storage::retryable_status(500));
  EXPECT_TRUE(storage::retryable_status(503));
  EXPECT_TRUE(storage::retryable_status(429));
  EXPECT_FALSE(storage::retryable_status(501));
  EXPECT_FALSE(storage::retryable_status(400));
  EXPECT_FALSE(storage::retryable_status(403));
  EXPECT_FALSE(storage::retryable_status(404));
}

}  // namespace
}  // namespace strata
