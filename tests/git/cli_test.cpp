// `strata archive`, `archive log`, `archive restore` as a user runs them.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "git/git_test_support.h"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class ArchiveCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    data = tmp / "data";
    fs::create_directories(data + "/state");
    fs::create_directories(tmp / "srv");
    git_init_bare(tmp / "srv/remote.git");
  }
  // Runs strata with DATA_DIR and extra environment; stdout to *out,
  // stderr to *err.
  int strata(const std::string& args, const std::string& env = "", std::string* out = nullptr,
             std::string* err = nullptr) {
    const std::string err_file = tmp / "stderr.txt";
    std::string o;
    int rc = run_command("env DATA_DIR=" + sh_quote(data) + " " + env + " " + STRATA_BINARY + " " +
                             args + " 2>" + sh_quote(err_file),
                         &o);
    if (out) *out = o;
    if (err) *err = read_file(err_file);
    return rc;
  }
  std::string remote_git(const std::string& args) {
    return git("--git-dir=" + sh_quote(tmp / "srv/remote.git") + " " + args);
  }
  std::string remote_env() const {
    return "GIT_REMOTE=" + sh_quote("file://" + (tmp / "srv/remote.git"));
  }
  TempDir tmp;
  std::string data;
};

TEST_F(ArchiveCliTest, ArchiveReadsStateSeqAndPushes) {
  write_tree(data + "/state", {{"a.txt", "alpha"}});
  write_file(data + "/state.seq", "17\n");
  std::string out, err;
  ASSERT_EQ(strata("archive --json", remote_env(), &out, &err), 0) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["snapshot"]["wal_seq"], 17);
  EXPECT_EQ(j["snapshot"]["committed"], true);
  EXPECT_EQ(j["push"]["pushed"], true);
  EXPECT_EQ(j["push"]["confirmed_seq"], 17);
  EXPECT_EQ(j["status"]["state"], "ok");
  auto m = nlohmann::json::parse(remote_git("show finn/archive:snapshot-manifest.json"));
  EXPECT_EQ(m["wal_seq"], 17);
  // The lineage id (a ULID) is made once and kept.
  const std::string lineage = read_file(data + "/lineage-id");
  EXPECT_EQ(lineage.size(), 27u);
  EXPECT_EQ(m["lineage_id"], lineage.substr(0, 26));

  write_file(data + "/state/a.txt", "beta");
  write_file(data + "/state.seq", "18\n");
  ASSERT_EQ(strata("archive", remote_env(), &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("seq 18"));
  EXPECT_EQ(read_file(data + "/lineage-id"), lineage);
  EXPECT_EQ(
      nlohmann::json::parse(remote_git("show finn/archive:snapshot-manifest.json"))["lineage_id"],
      lineage.substr(0, 26));
  EXPECT_EQ(remote_git("rev-list --count finn/archive"), "2");

  ASSERT_EQ(strata("archive", remote_env(), &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("no commit"));
}

TEST_F(ArchiveCliTest, MissingStateSeqIsZeroAndNoPushStaysLocal) {
  write_tree(data + "/state", {{"a.txt", "alpha"}});
  std::string out, err;
  ASSERT_EQ(strata("archive --no-push --json", remote_env(), &out, &err), 0) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["snapshot"]["wal_seq"], 0);
  EXPECT_TRUE(j["push"].is_null());
  EXPECT_NE(git_status("--git-dir=" + sh_quote(tmp / "srv/remote.git") +
                       " rev-parse --verify -q finn/archive"),
            0);
  EXPECT_EQ(git("--git-dir=" + sh_quote(data + "/archive.git") + " show finn/archive:state/a.txt"),
            "alpha");
}

TEST_F(ArchiveCliTest, LogAndRestoreRoundTrip) {
  write_tree(data + "/state", make_files(50, 100, 3));
  write_file(data + "/state.seq", "5\n");
  ASSERT_EQ(strata("archive", remote_env()), 0);
  write_file(data + "/state/d0/s0/file-0.bin", "new");
  write_file(data + "/state.seq", "6\n");
  ASSERT_EQ(strata("archive", remote_env()), 0);

  std::string out, err;
  ASSERT_EQ(strata("archive log --json", remote_env(), &out, &err), 0) << err;
  auto log = nlohmann::json::parse(out);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0]["wal_seq"], 6);
  EXPECT_EQ(log[1]["wal_seq"], 5);
  EXPECT_EQ(log[1]["file_count"], 50);
  ASSERT_EQ(strata("archive log", remote_env(), &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("COMMIT"));
  EXPECT_THAT(out, HasSubstr(log[0]["commit"].get<std::string>().substr(0, 12)));

  // A new machine: empty DATA_DIR, same remote.
  data = tmp / "data2";
  ASSERT_EQ(strata("archive restore " + sh_quote(tmp / "restored"), remote_env(), &out, &err), 0)
      << err;
  EXPECT_THAT(out, HasSubstr("seq 6"));
  EXPECT_EQ(read_tree(tmp / "restored/state"), read_tree(tmp / "data/state"));

  const std::string first = log[1]["commit"];
  ASSERT_EQ(strata("archive restore --json --commit " + first + " " + sh_quote(tmp / "old"),
                   remote_env(), &out, &err),
            0)
      << err;
  EXPECT_EQ(nlohmann::json::parse(out)["wal_seq"], 5);

  EXPECT_EQ(strata("archive restore --before 2001-01-01T00:00:00Z " + sh_quote(tmp / "none"),
                   remote_env(), &out, &err),
            1);
  EXPECT_THAT(err, HasSubstr("NOT_FOUND"));
}

TEST_F(ArchiveCliTest, UsageAndConfigurationErrors) {
  std::string out, err;
  EXPECT_EQ(strata("archive restore --commit abc --before @0 " + sh_quote(tmp / "x")), 2);
  EXPECT_EQ(strata("archive restore", "", &out, &err), 2);
  EXPECT_EQ(strata("archive restore --before yesterday " + sh_quote(tmp / "x"), "", &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("--before"));

  EXPECT_EQ(strata("archive", "GIT_ARCHIVE_BRANCH=" + sh_quote("x;rm -rf /"), &out, &err), 3);
  EXPECT_THAT(err, HasSubstr("CONFIG_INVALID"));
  EXPECT_THAT(err, HasSubstr("GIT_ARCHIVE_BRANCH"));
  EXPECT_FALSE(fs::exists(data + "/archive.git"));

  write_file(data + "/state.seq", "garbage\n");
  EXPECT_EQ(strata("archive", "", &out, &err), 3);
  EXPECT_THAT(err, HasSubstr("state.seq"));
}

TEST_F(ArchiveCliTest, ConflictExitsNonZeroWithJsonDetails) {
  write_tree(data + "/state", {{"a.txt", "1"}});
  ASSERT_EQ(strata("archive", remote_env()), 0);
  // Another writer's commit on the remote branch.
  const std::string other = tmp / "other";
  git("clone -q -b finn/archive " + sh_quote("file://" + (tmp / "srv/remote.git")) + " " +
      sh_quote(other));
  write_file(other + "/x.txt", "x");
  git("-C " + sh_quote(other) + " add x.txt");
  git("-C " + sh_quote(other) + " commit -q -m other");
  git("-C " + sh_quote(other) + " push -q origin finn/archive");
  const std::string remote_tip = remote_git("rev-parse finn/archive");

  write_file(data + "/state/a.txt", "2");
  std::string out, err;
  EXPECT_EQ(strata("archive --json", remote_env(), &out, &err), 3);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["status"]["state"], "conflict");
  EXPECT_EQ(j["error"]["code"], "GIT_CONFLICT");
  EXPECT_EQ(j["status"]["remote_only"][0], remote_tip.substr(0, 12));
  EXPECT_THAT(err, HasSubstr("GIT_CONFLICT"));
  EXPECT_EQ(remote_git("rev-parse finn/archive"), remote_tip);
}

TEST_F(ArchiveCliTest, SecretsStayOutOfOutputAndVerboseLogs) {
  write_tree(data + "/state", {{"a.txt", "1"}});
  const int port = free_port();  // nothing listens: the push fails
  const std::string env =
      "GIT_TOKEN=tok-CLI-SECRET GIT_REMOTE=" +
      sh_quote("http://bob:pw-CLI-SECRET@127.0.0.1:" + std::to_string(port) + "/r.git");
  std::string out, err;
  EXPECT_EQ(strata("-v archive --json", env, &out, &err), 3);
  EXPECT_THAT(out + err, Not(HasSubstr("CLI-SECRET")));
  EXPECT_THAT(err, HasSubstr("***@127.0.0.1"));
}

// Regression test (issue 10, defect 10), the issue's steps: after a push to
// one remote, `GIT_REMOTE=file:///nonexistent.git strata archive --json`
// reported the first remote's confirmed_seq and tip.
TEST_F(ArchiveCliTest, ConfirmationDoesNotCarryOverToAnotherRemote) {
  write_tree(data + "/state", {{"a.txt", "alpha"}});
  write_file(data + "/state.seq", "9\n");
  std::string out, err;
  ASSERT_EQ(strata("archive --json", remote_env(), &out, &err), 0) << err;
  ASSERT_EQ(nlohmann::json::parse(out)["status"]["confirmed_seq"], 9);
  EXPECT_EQ(strata("archive --json", "GIT_REMOTE=file:///nonexistent.git", &out, &err), 3);
  auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["status"]["confirmed_seq"].is_null()) << j.dump(2);
  EXPECT_TRUE(j["status"]["remote_tip"].is_null()) << j.dump(2);
  EXPECT_EQ(j["error"]["code"], "GIT_ERROR");
  // Back to the first remote: its confirmation is still there.
  ASSERT_EQ(strata("archive --json", remote_env(), &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["status"]["confirmed_seq"], 9);
}

// Regression test (issue 10, defect 6): `archive log` created a bare
// repository in a data directory that had none.
TEST_F(ArchiveCliTest, LogAndLocalRestoreCreateNoRepository) {
  std::string out, err;
  EXPECT_EQ(strata("archive log", "", &out, &err), 3);
  EXPECT_THAT(err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(err, HasSubstr(data + "/archive.git"));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(fs::exists(data + "/archive.git"));
  EXPECT_EQ(strata("archive restore --local " + sh_quote(tmp / "out"), remote_env(), &out, &err),
            1);
  EXPECT_FALSE(fs::exists(data + "/archive.git"));
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

TEST_F(ArchiveCliTest, LogOfTheRemoteWorksWithoutALocalRepositoryAndCreatesNone) {
  write_tree(data + "/state", {{"a.txt", "alpha"}});
  write_file(data + "/state.seq", "3\n");
  ASSERT_EQ(strata("archive", remote_env()), 0);
  // A fresh machine about to restore: list what the remote has first.
  data = tmp / "fresh";
  fs::create_directories(data);
  std::string out, err;
  ASSERT_EQ(strata("archive log --remote --json", remote_env(), &out, &err), 0) << err;
  auto log = nlohmann::json::parse(out);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["wal_seq"], 3);
  EXPECT_TRUE(fs::is_empty(data)) << "listing created something in DATA_DIR";
}

// Regression test: `--before @-1` failed with exit 3 (CONFIG_INVALID).
TEST_F(ArchiveCliTest, BeforeWithANegativeOrHugeUnixTimeIsAUsageError) {
  for (const char* t : {"@-1", "@", "@1x", "@99999999999999999999", "@253402300800"}) {
    std::string out, err;
    EXPECT_EQ(strata(std::string("archive restore --before ") + t + " " + sh_quote(tmp / "x"),
                     remote_env(), &out, &err),
              2)
        << t << ": " << err;
    EXPECT_THAT(err, HasSubstr("INVALID_ARGUMENT: --before"));
  }
}

// Regression test (issue 10): six concurrent first `archive` runs; one failed
// with "exists but is not a git repository" (it saw the repository being
// initialized), others with GIT_CONFLICT or a ref lock error.
TEST_F(ArchiveCliTest, ConcurrentFirstArchivesAllSucceed) {
  constexpr int kRounds = 3, kProcs = 6;
  for (int round = 0; round < kRounds; ++round) {
    data = tmp / ("data-" + std::to_string(round));
    write_tree(data + "/state", {{"a.txt", "alpha"}, {"b/c.txt", "gamma"}});
    std::string script;
    for (int i = 0; i < kProcs; ++i) {
      script +=
          fmt::format("(env DATA_DIR={} {} {} archive >{} 2>&1; echo $? >{}) &\n", sh_quote(data),
                      remote_env(), STRATA_BINARY, sh_quote(tmp / fmt::format("out-{}", i)),
                      sh_quote(tmp / fmt::format("rc-{}", i)));
    }
    script += "wait\n";
    write_file(tmp / "race.sh", script);
    ASSERT_EQ(run_command("sh " + sh_quote(tmp / "race.sh")), 0);
    for (int i = 0; i < kProcs; ++i) {
      EXPECT_EQ(read_file(tmp / fmt::format("rc-{}", i)), "0\n")
          << "round " << round << " process " << i << ": "
          << read_file(tmp / fmt::format("out-{}", i));
    }
    EXPECT_EQ(
        git("--git-dir=" + sh_quote(data + "/archive.git") + " rev-list --count finn/archive"), "1")
        << "the same state was committed more than once";
    EXPECT_EQ(git("--git-dir=" + sh_quote(data + "/archive.git") + " rev-parse finn/archive"),
              remote_git("rev-parse finn/archive"));
    // The next round pushes a different history; start the remote afresh.
    fs::remove_all(tmp / "srv/remote.git");
    git_init_bare(tmp / "srv/remote.git");
  }
}

}  // namespace
}  // namespace strata::testing
