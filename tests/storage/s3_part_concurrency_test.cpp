// Parts of one multipart upload in flight at once (R2_PART_CONCURRENCY): the
// defaults (2 on R2 endpoints, 4 elsewhere), the limits, and uploads against
// s3rver behind the verifying proxy with one and several parts in flight.
#include <cstdlib>

#include <gtest/gtest.h>

#include "storage/servers.h"
#include "strata/error.h"
#include "strata/hash.h"
#include "strata/storage.h"

namespace strata {
namespace {

std::string bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

void base_env(const char* endpoint) {
  for (const char* v : {"R2_PART_CONCURRENCY", "R2_PREFIX", "R2_PART_SIZE", "R2_CA_BUNDLE",
                        "R2_MULTIPART_THRESHOLD", "R2_FORCE_PATH_STYLE"}) {
    unsetenv(v);
  }
  setenv("R2_ENDPOINT", endpoint, 1);
  setenv("R2_ACCESS_KEY_ID", "AKID", 1);
  setenv("R2_SECRET_ACCESS_KEY", "secret", 1);
}

TEST(S3PartConcurrency, SafeDefaultForR2AndALimit) {
  base_env("https://acct.r2.cloudflarestorage.com");
  EXPECT_EQ(S3Config::from_env().part_concurrency, 2u);
  base_env("https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(S3Config::from_env().part_concurrency, 4u);
  base_env("https://notr2.cloudflarestorage.com.example");
  EXPECT_EQ(S3Config::from_env().part_concurrency, 4u);
  base_env("https://acct.r2.cloudflarestorage.com");
  setenv("R2_PART_CONCURRENCY", "1", 1);
  EXPECT_EQ(S3Config::from_env().part_concurrency, 1u);
  for (const char* bad : {"0", "17"}) {
    setenv("R2_PART_CONCURRENCY", bad, 1);
    try {
      S3Config::from_env();
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
      EXPECT_NE(std::string(e.what()).find("R2_PART_CONCURRENCY"), std::string::npos);
    }
  }
  for (const char* v :
       {"R2_ENDPOINT", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_PART_CONCURRENCY"}) {
    unsetenv(v);
  }
}

TEST(S3PartConcurrency, PartsGoOutInParallelAndTheObjectIsIntact) {
  testing::S3Servers servers;
  std::string data = bytes((31u << 20) + 17, 7);  // 7 parts of 5 MiB, the last short
  for (uint32_t n : {1u, 4u}) {
    S3Config cfg = servers.config();
    cfg.part_size = 5u << 20;
    cfg.multipart_threshold = 5u << 20;
    cfg.part_concurrency = n;
    S3CheckpointStorage s(cfg);
    std::string key = "mp-" + std::to_string(n);
    s.write_file(key, data);
    EXPECT_EQ(s.read_file(key), data);
    EXPECT_EQ(s.stat(key)->metadata.at("sha256"), sha256_hex(data));
    // One part at a time reuses one connection; several need several.
    if (n == 1) {
      EXPECT_EQ(s.stats().connections, 1u);
    } else {
      EXPECT_GE(s.stats().connections, 2u);
      EXPECT_LE(s.stats().connections, n + 1);
    }
  }
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 0u);
}

TEST(S3PartConcurrency, AFailedPartIsRetriedAloneAndAPartThatKeepsFailingAborts) {
  testing::S3Servers servers;
  S3Config cfg = servers.config();
  cfg.part_size = 5u << 20;
  cfg.multipart_threshold = 5u << 20;
  cfg.part_concurrency = 3;
  cfg.max_attempts = 3;
  cfg.breaker_threshold = 100;  // parallel failing parts would open it
  S3CheckpointStorage s(cfg);
  std::string data = bytes(20u << 20, 9);
  servers.proxy_control("fault?mode=status&status=503&count=2&method=PUT");
  s.write_file("retried", data);
  EXPECT_EQ(s.read_file("retried"), data);
  EXPECT_GE(s.stats().retries, 2u);

  servers.proxy_control("fault?mode=status&status=503&count=-1&method=PUT");
  EXPECT_THROW(s.write_file("never", data), Error);
  servers.proxy_control("clear");
  EXPECT_FALSE(s.stat("never"));
}

}  // namespace
}  // namespace strata
