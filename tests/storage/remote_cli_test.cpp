// `strata remote` end to end: the built binary, configured through the
// environment, against s3rver behind the verifying proxy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "storage/servers.h"
#include "strata/hash.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::S3Servers;
using testing::TempDir;

struct CliRun {
  int rc;
  std::string out;  // stdout and stderr
};

CliRun strata_cli(const std::string& env, const std::string& args) {
  CliRun r;
  r.rc = testing::run_command(
      "env -u R2_ENDPOINT " + env + " '" + STRATA_BINARY + "' " + args + " 2>&1", &r.out);
  return r;
}

std::string s3_env(const S3Servers& servers, const std::string& secret = testing::kSecretKey) {
  return "R2_ENDPOINT=" + servers.endpoint() + " R2_BUCKET=" + testing::kBucket +
         " R2_ACCESS_KEY_ID=" + testing::kAccessKey + " R2_SECRET_ACCESS_KEY='" + secret +
         "' R2_BACKOFF_BASE_MS=10 R2_BACKOFF_CAP_MS=50";
}

TEST(RemoteCli, CheckPassesEveryStepAgainstS3rver) {
  S3Servers servers;
  CliRun r = strata_cli(s3_env(servers), "-v remote check");
  EXPECT_EQ(r.rc, 0) << r.out;
  for (const char* line : {"ok   reachable", "ok   credentials", "ok   bucket", "ok   write",
                           "ok   read", "ok   delete"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " missing in:\n" << r.out;
  }
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(testing::kSecretKey), std::string::npos) << r.out;
  EXPECT_EQ(strata_cli(s3_env(servers), "remote ls").out, "");  // the probe is gone
}

TEST(RemoteCli, CheckFailsClearlyWithAWrongSecret) {
  S3Servers servers;
  CliRun r = strata_cli(s3_env(servers, "wrong-secret-zz9"), "-v remote check");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("ok   reachable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL credentials  STORAGE_BAD_CREDENTIALS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SignatureDoesNotMatch"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ok   write"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("wrong-secret-zz9"), std::string::npos) << r.out;
}

TEST(RemoteCli, CheckFailsClearlyWhenTheServerIsStopped) {
  S3Servers servers(/*with_proxy=*/false);
  servers.s3rver->kill_now();
  CliRun r = strata_cli(s3_env(servers), "remote check");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL reachable    STORAGE_NETWORK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Couldn't connect"), std::string::npos) << r.out;
}

TEST(RemoteCli, PutLsGetRmRoundTrip) {
  S3Servers servers;
  TempDir tmp;
  std::string data = "checkpoint body\n";
  testing::write_file(tmp / "in", data);
  std::string env = s3_env(servers);
  EXPECT_EQ(strata_cli(env, "remote put 'wal/batch 1.jsonl' '" + (tmp / "in") + "'").rc, 0);
  EXPECT_EQ(strata_cli(env, "remote put other '" + (tmp / "in") + "'").rc, 0);
  EXPECT_EQ(strata_cli(env, "remote ls").out, "other\nwal/batch 1.jsonl\n");
  EXPECT_EQ(strata_cli(env, "remote ls wal/").out, "wal/batch 1.jsonl\n");
  EXPECT_EQ(strata_cli(env, "remote get 'wal/batch 1.jsonl'").out, data);
  EXPECT_EQ(strata_cli(env, "remote get other -o '" + (tmp / "out") + "'").rc, 0);
  EXPECT_EQ(testing::read_file(tmp / "out"), data);
  CliRun missing = strata_cli(env, "remote get nope");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.out.find("STORAGE_NOT_FOUND"), std::string::npos) << missing.out;
  EXPECT_EQ(strata_cli(env, "remote rm other").rc, 0);
  EXPECT_EQ(strata_cli(env, "remote ls").out, "wal/batch 1.jsonl\n");
  CliRun bad = strata_cli(env, "remote get ../etc/passwd");
  EXPECT_NE(bad.rc, 0);
  EXPECT_NE(bad.out.find("INVALID_PATH"), std::string::npos) << bad.out;
}

TEST(RemoteCli, WithoutR2EndpointUsesTheFilesystemStoreUnderDataDir) {
  TempDir tmp;
  testing::write_file(tmp / "in", "local");
  std::string dd = "--data-dir '" + (tmp / "data") + "' ";
  EXPECT_EQ(strata_cli("", dd + "remote put a/b '" + (tmp / "in") + "'").rc, 0);
  EXPECT_EQ(testing::read_file(tmp / "data/remote/a/b"), "local");
  EXPECT_EQ(strata_cli("", dd + "remote ls").out, "a/b\n");
  CliRun check = strata_cli("", dd + "remote check");
  EXPECT_EQ(check.rc, 0) << check.out;
  EXPECT_NE(check.out.find("store: file://"), std::string::npos) << check.out;
}

TEST(RemoteCli, BadConfigurationIsAClearError) {
  CliRun r = strata_cli("R2_ENDPOINT=ftp://example.com R2_ACCESS_KEY_ID=a R2_SECRET_ACCESS_KEY=b",
                        "remote ls");
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("CONFIG_INVALID: R2_ENDPOINT"), std::string::npos) << r.out;
  r = strata_cli("R2_ENDPOINT=https://example.com R2_ACCESS_KEY_ID=a", "remote ls");
  EXPECT_NE(r.out.find("R2_SECRET_ACCESS_KEY is not set"), std::string::npos) << r.out;
}

// Issue #10, defect 6 (the `remote ls` part): listing a data directory's
// filesystem store created DATA_DIR/remote. Reading creates nothing now; a
// store that was never written lists nothing.
TEST(RemoteCli, LsOfAStoreThatWasNeverWrittenCreatesNothing) {
  TempDir tmp;
  std::string dd = "--data-dir '" + (tmp / "data") + "' ";
  CliRun ls = strata_cli("", dd + "remote ls");
  EXPECT_EQ(ls.rc, 0) << ls.out;
  EXPECT_EQ(ls.out, "");
  CliRun get = strata_cli("", dd + "remote get k");
  EXPECT_EQ(get.rc, 1) << get.out;
  EXPECT_NE(get.out.find("STORAGE_NOT_FOUND"), std::string::npos) << get.out;
  EXPECT_FALSE(std::filesystem::exists(tmp / "data"));
}

// Issue #10, defect 12: a FIFO in the filesystem store hung `remote get`
// forever. It is refused at once (`timeout` ends a hang with 124).
TEST(RemoteCli, GetOfAFifoInTheStoreIsRefusedAtOnce) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "data/remote");
  ASSERT_EQ(::mkfifo((tmp / "data/remote/fifo").c_str(), 0644), 0);
  std::string dd = "--data-dir '" + (tmp / "data") + "' ";
  for (const std::string& args :
       std::vector<std::string>{"remote get fifo", "remote get fifo -o '" + (tmp / "out") + "'"}) {
    CliRun r;
    r.rc = testing::run_command(
        "env -u R2_ENDPOINT timeout 30 '" + std::string(STRATA_BINARY) + "' " + dd + args + " 2>&1",
        &r.out);
    EXPECT_EQ(r.rc, 2) << args << ": " << r.out;
    EXPECT_NE(r.out.find("INVALID_PATH"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("FIFO"), std::string::npos) << r.out;
  }
}

// Issue #10 ("remote get KEY to stdout holds the whole object in memory"):
// the object streams to stdout; the child's peak RSS stays far below it.
TEST(RemoteCli, GetToStdoutStreamsTheObject) {
  TempDir tmp;
  constexpr uint64_t kMiB = 1 << 20, kObject = 64 * kMiB;
  auto block = [](uint64_t i) {
    std::string b(4096, 'z');
    b[0] = static_cast<char>(i);
    return b;
  };
  {
    std::ofstream f(tmp / "in", std::ios::binary);
    for (uint64_t i = 0; i < kObject / 4096; ++i) f << block(i);
  }
  std::string dd = "--data-dir '" + (tmp / "data") + "' ";
  ASSERT_EQ(strata_cli("", dd + "remote put big '" + (tmp / "in") + "'").rc, 0);
  testing::ChildRun r =
      testing::run_measured({STRATA_BINARY, "--data-dir", tmp / "data", "remote", "get", "big"}, {},
                            tmp / "out", tmp / "err");
  ASSERT_EQ(r.exit_code, 0) << testing::read_file(tmp / "err");
  std::ifstream out(tmp / "out", std::ios::binary);
  std::string got(4096, '\0');
  uint64_t blocks = 0;
  while (out.read(got.data(), static_cast<std::streamsize>(got.size()))) {
    ASSERT_EQ(got, block(blocks)) << "block " << blocks;
    ++blocks;
  }
  EXPECT_EQ(blocks, kObject / 4096);
  std::cout << "remote get to stdout: peak RSS " << r.max_rss_bytes / kMiB << " MiB\n";
  if (testing::rss_is_measurable(r, kObject / 2)) {
    EXPECT_LT(r.max_rss_bytes, kObject / 2);
  }
}

}  // namespace
}  // namespace strata
