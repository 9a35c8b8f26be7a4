// push(): fast-forward only, against a bare remote over file:// and over
// git:// served by `git daemon`; results read back with the git CLI.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "git/git_test_support.h"
#include "strata/error.h"
#include "strata/git_sync.h"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    fs::create_directories(tmp / "srv");
    git_init_bare(tmp / "srv/remote.git");
  }
  std::string remote_git(const std::string& args) {
    return git("--git-dir=" + sh_quote(tmp / "srv/remote.git") + " " + args);
  }
  std::string file_url() const { return "file://" + (tmp / "srv/remote.git"); }
  // Someone else's commit on the remote's branch, pushed with the git CLI.
  std::string push_foreign_commit(const std::string& url) {
    const std::string clone = tmp / "other";
    git("clone -q " + sh_quote(url) + " " + sh_quote(clone));
    const std::string c = "-C " + sh_quote(clone) + " ";
    git(c + "checkout -q finn/archive");
    write_file(clone + "/state/other.txt", "from another writer\n");
    git(c + "add -A");
    git(c + "commit -q -m other-writer");
    git(c + "push -q origin finn/archive");
    return git(c + "rev-parse HEAD");
  }
  TempDir tmp;
};

TEST_F(PushTest, FirstPushCreatesTheRemoteBranch) {
  write_tree(tmp / "state", {{"a.txt", "alpha"}, {"dir/b.txt", "beta"}});
  GitSync sync(test_config(tmp.path(), file_url()));
  EXPECT_EQ(sync.status().state, GitSyncState::kOk);
  SnapshotResult s = sync.snapshot(7);
  PushResult p = sync.push();
  EXPECT_TRUE(p.pushed);
  EXPECT_EQ(p.remote_before, "");
  EXPECT_EQ(p.local_commit, s.tip.commit);
  ASSERT_TRUE(p.confirmed_seq.has_value());
  EXPECT_EQ(*p.confirmed_seq, 7u);
  EXPECT_EQ(remote_git("rev-parse refs/heads/finn/archive"), s.tip.commit);
  EXPECT_EQ(remote_git("show finn/archive:state/dir/b.txt"), "beta");
  EXPECT_EQ(
      nlohmann::json::parse(remote_git("show finn/archive:snapshot-manifest.json"))["wal_seq"], 7);
  GitSyncStatus st = sync.status();
  EXPECT_EQ(st.state, GitSyncState::kOk);
  EXPECT_EQ(st.confirmed_seq, 7u);
  EXPECT_EQ(st.remote_tip, s.tip.commit);

  // Nothing new: the push is a no-op and says so.
  PushResult again = sync.push();
  EXPECT_FALSE(again.pushed);
  EXPECT_EQ(sync.confirmed_seq(), 7u);
}

// Regression test (issue 10, defect 10): after a push to one remote, a
// GitSync for another remote reported the first one's confirmed seq and tip.
TEST_F(PushTest, ConfirmationDoesNotCarryOverToAnotherRemote) {
  write_tree(tmp / "state", {{"a.txt", "alpha"}});
  {
    GitSync first(test_config(tmp.path(), file_url()));
    first.snapshot(7);
    first.push();
    ASSERT_EQ(first.confirmed_seq(), 7u);
  }
  GitSync other(test_config(tmp.path(), "file://" + (tmp / "srv/nonexistent.git")));
  EXPECT_EQ(other.status().confirmed_seq, std::nullopt);
  EXPECT_EQ(other.status().remote_tip, std::nullopt);
  EXPECT_EQ(other.confirmed_seq(), std::nullopt);
  EXPECT_THROW(other.push(), Error);
  EXPECT_EQ(other.status().confirmed_seq, std::nullopt);
  EXPECT_EQ(other.confirmed_seq(), std::nullopt);

  // The first remote keeps its own confirmation, however it is spelled:
  // as a path, with a trailing '/', or as a remote name for its URL.
  EXPECT_EQ(GitSync(test_config(tmp.path(), file_url())).confirmed_seq(), 7u);
  EXPECT_EQ(GitSync(test_config(tmp.path(), tmp / "srv/remote.git/")).confirmed_seq(), 7u);
  git("--git-dir=" + sh_quote(tmp / "archive.git") + " remote add backup " + sh_quote(file_url()));
  GitSync named(test_config(tmp.path(), "backup"));
  EXPECT_EQ(named.confirmed_seq(), 7u);
  EXPECT_TRUE(named.status().remote_tip.has_value());
}

// Regression test: a strata process killed while libgit2 held the lock of a
// remote-tip ref (refs/strata/...) left `<ref>.lock` behind, and every later
// push and fetch failed on it ("failed to lock file"), so recovery from Git
// failed for good (RecoverKillTest.KilledAtRandomMoments... found it).
TEST_F(PushTest, AStaleLockOfTheRemoteTipLeftByAKilledProcessIsRemoved) {
  write_tree(tmp / "state", {{"a.txt", "alpha"}});
  std::string tip_ref;
  {
    GitSync first(test_config(tmp.path(), file_url()));
    first.snapshot(7);
    first.push();
    ASSERT_EQ(first.confirmed_seq(), 7u);
  }
  for (const auto& e : fs::recursive_directory_iterator(tmp / "archive.git/refs/strata")) {
    if (e.is_regular_file()) tip_ref = e.path().string();
  }
  ASSERT_FALSE(tip_ref.empty());
  write_file(tip_ref + ".lock", "");  // as left by a SIGKILL inside git_reference_create
  GitSync again(test_config(tmp.path(), file_url()));
  write_tree(tmp / "state", {{"a.txt", "alpha 2"}});
  again.snapshot(8);
  PushResult p = again.push();
  EXPECT_TRUE(p.pushed);
  EXPECT_EQ(again.confirmed_seq(), 8u);
  EXPECT_FALSE(fs::exists(tip_ref + ".lock"));
}

TEST_F(PushTest, FastForwardsOverGitDaemon) {
  GitDaemon daemon(tmp / "srv");
  write_tree(tmp / "state", {{"a.txt", "1"}});
  GitSync sync(test_config(tmp.path(), daemon.url("remote.git")));
  sync.snapshot(1);
  sync.push();
  write_file(tmp / "state/a.txt", "2");
  SnapshotResult s2 = sync.snapshot(2);
  write_file(tmp / "state/a.txt", "3");
  SnapshotResult s3 = sync.snapshot(3);
  PushResult p = sync.push();
  EXPECT_TRUE(p.pushed);
  EXPECT_EQ(remote_git("rev-parse finn/archive"), s3.tip.commit);
  EXPECT_EQ(remote_git("rev-parse finn/archive~1"), s2.tip.commit);
  EXPECT_EQ(remote_git("rev-list --count finn/archive"), "3");
  EXPECT_EQ(remote_git("show finn/archive:state/a.txt"), "3");
  EXPECT_EQ(sync.confirmed_seq(), 3u);
}

TEST_F(PushTest, DivergedRemoteIsAConflictAndTheRemoteIsLeftAsItWas) {
  GitDaemon daemon(tmp / "srv");
  const std::string url = daemon.url("remote.git");
  write_tree(tmp / "state", {{"a.txt", "1"}});
  GitSync sync(test_config(tmp.path(), url));
  sync.snapshot(1);
  sync.push();
  const std::string foreign = push_foreign_commit(url);

  write_file(tmp / "state/a.txt", "2");
  SnapshotResult mine = sync.snapshot(2);
  try {
    sync.push();
    FAIL() << "expected GIT_CONFLICT";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGitConflict);
    EXPECT_THAT(e.what(), HasSubstr(foreign.substr(0, 12)));
    EXPECT_THAT(e.what(), HasSubstr(mine.tip.commit.substr(0, 12)));
    EXPECT_THAT(e.what(), HasSubstr("Nothing was pushed"));
  }
  EXPECT_EQ(remote_git("rev-parse finn/archive"), foreign);
  EXPECT_EQ(git("--git-dir=" + sh_quote(tmp / "archive.git") + " rev-parse finn/archive"),
            mine.tip.commit);
  GitSyncStatus st = sync.status();
  EXPECT_EQ(st.state, GitSyncState::kConflict);
  EXPECT_EQ(st.local_only, std::vector<std::string>{mine.tip.commit.substr(0, 12)});
  EXPECT_EQ(st.remote_only, std::vector<std::string>{foreign.substr(0, 12)});
  // The remote still holds the seq-1 snapshot (the foreign commit kept its
  // manifest); the seq-2 one is not confirmed.
  EXPECT_EQ(sync.confirmed_seq(), 1u);
}

// A copy of this data directory (the same lineage, its own repository)
// force-pushed its snapshots over the branch at a higher seq: the remote
// holds none of ours by them, so they confirm nothing, now or after a
// restart. (Before, the seq of the copy's tip counted: the daemon raised its
// WAL's `git` mark to its head and pruned what the remote never held.)
TEST_F(PushTest, AnotherCopyOfTheLineageForcePushedOverTheBranchConfirmsNothing) {
  write_tree(tmp / "state", {{"a.txt", "1"}});
  GitSync sync(test_config(tmp.path(), file_url()));
  sync.snapshot(10);
  ASSERT_EQ(sync.push().confirmed_seq, std::optional<uint64_t>(10));
  const std::string copy = tmp / "copy";
  write_tree(copy + "/state", {{"a.txt", "the copy's"}});
  GitSync(test_config(copy, "")).snapshot(500);
  git("--git-dir=" + sh_quote(copy + "/archive.git") + " push -q --force " + sh_quote(file_url()) +
      " finn/archive:finn/archive");

  write_file(tmp / "state/a.txt", "2");
  sync.snapshot(11);
  EXPECT_THROW(sync.push(), Error);
  EXPECT_EQ(sync.status().state, GitSyncState::kConflict);
  const auto now = sync.confirmed_seq();
  EXPECT_TRUE(!now || *now <= 10u) << *now;
  const auto restarted = GitSync(test_config(tmp.path(), file_url())).confirmed_seq();
  EXPECT_TRUE(!restarted || *restarted <= 10u) << *restarted;
}

TEST_F(PushTest, DivergedFileRemoteIsAConflictToo) {
  write_tree(tmp / "state", {{"a.txt", "1"}});
  GitSync sync(test_config(tmp.path(), file_url()));
  sync.snapshot(1);
  sync.push();
  const std::string foreign = push_foreign_commit(file_url());
  write_file(tmp / "state/a.txt", "2");
  sync.snapshot(2);
  EXPECT_THROW(sync.push(), Error);
  EXPECT_EQ(sync.status().state, GitSyncState::kConflict);
  EXPECT_EQ(remote_git("rev-parse finn/archive"), foreign);
}

TEST_F(PushTest, UnreachableRemoteIsAnErrorAndTheNextPushDeliversTheCommit) {
  const int port = free_port();  // nothing listens there yet
  const std::string url = "git://127.0.0.1:" + std::to_string(port) + "/remote.git";
  write_tree(tmp / "state", {{"a.txt", "1"}});
  GitSync sync(test_config(tmp.path(), url));
  SnapshotResult s = sync.snapshot(9);
  try {
    sync.push();
    FAIL() << "expected GIT_ERROR";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGitError);
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1"));
  }
  EXPECT_EQ(sync.status().state, GitSyncState::kError);
  EXPECT_EQ(git("--git-dir=" + sh_quote(tmp / "archive.git") + " rev-parse finn/archive"),
            s.tip.commit);
  EXPECT_NE(git_status("--git-dir=" + sh_quote(tmp / "srv/remote.git") +
                       " rev-parse --verify -q refs/heads/finn/archive"),
            0);

  GitDaemon daemon(tmp / "srv", port);
  PushResult p = sync.push();
  EXPECT_TRUE(p.pushed);
  EXPECT_EQ(remote_git("rev-parse finn/archive"), s.tip.commit);
  EXPECT_EQ(sync.status().state, GitSyncState::kOk);
  EXPECT_EQ(sync.confirmed_seq(), 9u);
}

TEST_F(PushTest, NoRemoteMeansUnconfigured) {
  write_tree(tmp / "state", {{"a.txt", "1"}});
  GitSync sync(test_config(tmp.path()));
  sync.snapshot(1);
  PushResult p = sync.push();
  EXPECT_FALSE(p.pushed);
  EXPECT_EQ(sync.status().state, GitSyncState::kUnconfigured);
  EXPECT_FALSE(sync.confirmed_seq().has_value());
}

TEST_F(PushTest, NamedRemoteFromTheRepositoryConfig) {
  const std::string work = tmp / "work";
  git("init -q -b main " + sh_quote(work));
  git("-C " + sh_quote(work) + " remote add backup " + sh_quote(file_url()));
  write_tree(tmp / "state", {{"a.txt", "1"}});
  GitSyncConfig cfg = test_config(tmp.path(), "backup");
  cfg.repo_dir = work;
  GitSync sync(cfg);
  SnapshotResult s = sync.snapshot(4);
  sync.push();
  EXPECT_EQ(remote_git("rev-parse finn/archive"), s.tip.commit);

  cfg.remote = "nosuchremote";
  GitSync bad(cfg);
  try {
    bad.push();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
    EXPECT_THAT(e.what(), HasSubstr("nosuchremote"));
  }
}

TEST_F(PushTest, ARemoteThatIsBehindAndUnrelatedLocalHistoryConflict) {
  // A fresh data directory (new local repo) archiving to a remote that
  // already has history: the local branch does not contain the remote tip.
  write_tree(tmp / "state", {{"a.txt", "1"}});
  {
    GitSync first(test_config(tmp.path(), file_url()));
    first.snapshot(1);
    first.push();
  }
  fs::remove_all(tmp / "archive.git");
  GitSync second(test_config(tmp.path(), file_url()));
  write_file(tmp / "state/a.txt", "other");
  second.snapshot(1);
  EXPECT_THROW(second.push(), Error);
  EXPECT_EQ(second.status().state, GitSyncState::kConflict);
}

}  // namespace
}  // namespace strata::testing
