// Issue #10, defect 11: `archive restore` memory was unbounded (a remote
// commit holding a 300 MB blob restored at 310 MB resident, whatever
// GIT_ARCHIVE_MAX_FILE_BYTES said). Restore now reads a blob's size from its
// object header first, refuses one over the limit before reading it, and
// streams loose blobs to disk. These tests run the real `strata archive
// restore` as a child and read its peak resident set from wait4().
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "support/child_process.h"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;

ChildRun run_strata(const std::vector<std::string>& args,
                    const std::vector<std::pair<std::string, std::string>>& env,
                    const std::string& dir) {
  std::vector<std::string> argv = {STRATA_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_measured(argv, env, dir + "/out.txt", dir + "/err.txt");
}

void expect_rss_below(const ChildRun& r, uint64_t limit, const std::string& what) {
  std::cout << what << ": peak RSS " << r.max_rss_bytes / kMiB
            << " MiB (this process at the fork: " << r.parent_rss_bytes / kMiB << " MiB)\n";
  if (!rss_is_measurable(r, limit)) {
    std::cout << "(not judged: a sanitizer build, or this process too large)\n";
    return;
  }
  EXPECT_LT(r.max_rss_bytes, limit) << what << ": peak RSS " << r.max_rss_bytes / kMiB << " MiB";
}

class RestoreMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    fs::create_directories(tmp / "srv");
    git_init_bare(tmp / "srv/remote.git");
  }
  // `input | git --git-dir=<remote> args`, its output without the newline.
  std::string remote_git(const std::string& args, const std::string& input = "true") {
    std::string out;
    const std::string cmd =
        input + " | git --git-dir=" + sh_quote(tmp / "srv/remote.git") + " " + args;
    EXPECT_EQ(run_command(cmd, &out), 0) << cmd;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  TempDir tmp;
};

// A snapshot commit crafted on the remote with the git CLI, its one file a
// blob of `bytes` zeros (which compresses to almost nothing on the wire).
TEST_F(RestoreMemory, ABlobOverTheLimitIsRefusedBeforeItIsRead) {
  constexpr uint64_t kBlob = 96 * kMiB;
  const std::string blob =
      remote_git("hash-object -w --stdin", "head -c " + std::to_string(kBlob) + " /dev/zero");
  ASSERT_EQ(blob.size(), 40u) << blob;
  const std::string manifest =
      R"({"format":1,"snapshot_id":"big","created_at":"2026-01-01T00:00:00.000Z",)"
      R"("wal_seq":5,"lineage_id":"","file_count":1,"total_bytes":)" +
      std::to_string(kBlob) + R"(,"sources":["state"],"empty_dirs":[],"skipped":[]})";
  write_file(tmp / "manifest.json", manifest);
  const std::string m = remote_git("hash-object -w " + sh_quote(tmp / "manifest.json"));
  const std::string state =
      remote_git("mktree", "printf '100644 blob " + blob + "\\tzeros.bin\\n'");
  const std::string root =
      remote_git("mktree", "printf '040000 tree " + state + "\\tstate\\n100644 blob " + m +
                               "\\tsnapshot-manifest.json\\n'");
  const std::string commit = remote_git("commit-tree " + root + " -m big");
  remote_git("update-ref refs/heads/finn/archive " + commit);

  // Over git://, so the pack is built by git in another process and only
  // strata's own work counts in its resident set.
  GitDaemon daemon(tmp / "srv");
  ChildRun r = run_strata({"--data-dir", tmp / "data", "archive", "restore", tmp / "out"},
                          {{"GIT_REMOTE", daemon.url("remote.git")}}, tmp.path());
  const std::string err = read_file(tmp / "err.txt");
  EXPECT_EQ(r.exit_code, 3) << err;
  EXPECT_THAT(err, HasSubstr("ENTRY_TOO_LARGE"));
  EXPECT_THAT(err, HasSubstr("state/zeros.bin"));
  EXPECT_THAT(err, HasSubstr("GIT_ARCHIVE_MAX_FILE_BYTES (52428800)"));
  EXPECT_FALSE(fs::exists(tmp / "out"));
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".out")) << e.path();  // no staging
  }
  expect_rss_below(r, kBlob / 2, "refused restore");
}

// A file within the limit, archived locally (loose objects): restore
// streams it to disk instead of holding it whole.
TEST_F(RestoreMemory, BlobsWithinTheLimitStreamToDisk) {
  constexpr uint64_t kFile = 40 * kMiB;
  const std::string data = tmp / "data";
  fs::create_directories(data + "/state");
  // Written and compared block by block: this process must stay small
  // when it forks the restore (see run_strata).
  auto block = [](uint64_t i) {
    std::string b(4096, '\0');
    b[0] = static_cast<char>(i);
    return b;
  };
  {
    std::ofstream f(data + "/state/big.bin", std::ios::binary);
    for (uint64_t i = 0; i < kFile / 4096; ++i) f << block(i);
  }
  write_file(data + "/state.seq", "9\n");
  ASSERT_EQ(run_command("env DATA_DIR=" + sh_quote(data) + " " + STRATA_BINARY +
                        " archive --no-push >/dev/null 2>" + sh_quote(tmp / "archive.err")),
            0)
      << read_file(tmp / "archive.err");

  ChildRun r = run_strata({"--data-dir", data, "archive", "restore", tmp / "out"}, {}, tmp.path());
  ASSERT_EQ(r.exit_code, 0) << read_file(tmp / "err.txt");
  std::ifstream restored(tmp / "out/state/big.bin", std::ios::binary);
  std::string got(4096, '\0');
  uint64_t blocks = 0;
  while (restored.read(got.data(), static_cast<std::streamsize>(got.size()))) {
    ASSERT_EQ(got, block(blocks)) << "block " << blocks;
    ++blocks;
  }
  EXPECT_EQ(blocks, kFile / 4096);
  expect_rss_below(r, kFile * 3 / 4, "streamed restore");
}

}  // namespace
}  // namespace strata::testing
