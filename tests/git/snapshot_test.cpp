// snapshot(): the commit, tree and manifest on the archive branch, checked
// with the git CLI rather than libgit2.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override { isolate_git_env(tmp / "home"); }
  std::string repo() const { return sh_quote(tmp / "archive.git"); }
  std::string g(const std::string& args) { return git("--git-dir=" + repo() + " " + args); }
  nlohmann::json manifest_at(const std::string& rev) {
    return nlohmann::json::parse(g("show " + rev + ":snapshot-manifest.json"));
  }
  TempDir tmp;
};

TEST_F(SnapshotTest, FirstSnapshotCreatesBranchWithStateAndManifest) {
  FileMap files = {{"sessions/a.json", "{\"a\":1}"},
                   {"config/settings.yaml", "x: 1\n"},
                   {"learnings/deep/er/note.md", "# note\n"},
                   {"binary.dat", std::string("\0\1\2\xff\xfe", 5)},
                   {"empty", ""}};
  write_tree(tmp / "state", files);
  GitSync sync(test_config(tmp.path()));
  SnapshotResult r = sync.snapshot(42);

  EXPECT_TRUE(r.committed);
  EXPECT_TRUE(r.skipped.empty());
  // The default repository is bare and created on first use.
  EXPECT_EQ(g("rev-parse --is-bare-repository"), "true");
  EXPECT_EQ(g("rev-parse --verify refs/heads/finn/archive"), r.tip.commit);
  EXPECT_EQ(g("rev-list --count finn/archive"), "1");

  auto m = manifest_at("finn/archive");
  EXPECT_EQ(m["wal_seq"], 42);
  EXPECT_EQ(m["file_count"], 5);
  EXPECT_EQ(m["total_bytes"], 7 + 5 + 7 + 5 + 0);
  EXPECT_EQ(m["lineage_id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(m["snapshot_id"].get<std::string>().size(), 32u);
  EXPECT_EQ(m["snapshot_id"], r.tip.snapshot_id);

  std::string listed = g("ls-tree -r --name-only finn/archive");
  EXPECT_EQ(listed,
            "snapshot-manifest.json\nstate/binary.dat\nstate/config/settings.yaml\nstate/empty\n"
            "state/learnings/deep/er/note.md\nstate/sessions/a.json");
  for (const auto& [rel, content] : files) {
    std::string out;
    ASSERT_EQ(run_command("git --git-dir=" + repo() + " cat-file blob " +
                              sh_quote("finn/archive:state/" + rel),
                          &out),
              0);
    EXPECT_EQ(out, content) << rel;
  }
  std::string subject = g("log -1 --format=%s finn/archive");
  EXPECT_THAT(subject, HasSubstr("seq 42"));
  EXPECT_EQ(g("log -1 --format=%an finn/archive"), "strata");
  // Nothing else: no HEAD move, no other refs.
  EXPECT_EQ(g("for-each-ref --format='%(refname)'"), "refs/heads/finn/archive");
}

TEST_F(SnapshotTest, UnchangedStateMakesNoCommitAndChangesOnlyTouchWhatChanged) {
  write_tree(tmp / "state", make_files(300, 200, 1));
  GitSync sync(test_config(tmp.path()));
  SnapshotResult first = sync.snapshot(10);
  ASSERT_TRUE(first.committed);

  SnapshotResult again = sync.snapshot(11);
  EXPECT_FALSE(again.committed);
  EXPECT_EQ(again.tip.commit, first.tip.commit);
  EXPECT_EQ(again.tip.wal_seq, 10u);  // the tip still says what it holds
  EXPECT_EQ(g("rev-list --count finn/archive"), "1");

  // One changed file: a new commit on top, whose diff is exactly that file,
  // and the other 299 blobs are not written again.
  std::string objects_before = g("count-objects -v");
  write_file(tmp / "state/d1/s1/file-1.txt", "changed\n");
  SnapshotResult second = sync.snapshot(12);
  ASSERT_TRUE(second.committed);
  EXPECT_EQ(g("rev-list --count finn/archive"), "2");
  EXPECT_EQ(g("rev-parse finn/archive~1"), first.tip.commit);
  EXPECT_EQ(g("diff-tree --no-commit-id --name-only -r finn/archive~1 finn/archive"),
            "snapshot-manifest.json\nstate/d1/s1/file-1.txt");
  auto count = [](const std::string& v) {
    auto pos = v.find("count: ");
    return std::stoi(v.substr(pos + 7));
  };
  // blob, 2 subtrees + state tree, content root, root, manifest, commit.
  EXPECT_LE(count(g("count-objects -v")) - count(objects_before), 8);
  EXPECT_EQ(manifest_at("finn/archive")["wal_seq"], 12);
}

TEST_F(SnapshotTest, EmptyOrMissingStateStillCommitsOnce) {
  GitSync sync(test_config(tmp.path()));
  SnapshotResult r = sync.snapshot(0);
  EXPECT_TRUE(r.committed);
  EXPECT_EQ(g("ls-tree -r --name-only finn/archive"), "snapshot-manifest.json");
  EXPECT_EQ(manifest_at("finn/archive")["file_count"], 0);
  EXPECT_FALSE(sync.snapshot(0).committed);
}

TEST_F(SnapshotTest, SkipsWhatTheArchiveMustNotTakeAndReportsIt) {
  write_tree(tmp / "state", {{"ok.txt", "fine"},
                             {"big.bin", std::string(2000, 'x')},
                             {".git/config", "[core]\n"},
                             {"sub/.GIT/HEAD", "ref\n"},
                             {"sub/inner.txt", "inner"}});
  write_file(tmp / "outside.txt", "secret outside the state");
  fs::create_symlink("../outside.txt", tmp / "state/escape");
  fs::create_symlink("/etc/hostname", tmp / "state/absolute");
  fs::create_symlink("ok.txt", tmp / "state/inside-link");
  fs::create_symlink("..", tmp / "state/sub/up");  // harmless: "state" itself
  // Each link alone stays inside; followed together they leave the state.
  fs::create_symlink("sub/up/../..", tmp / "state/chain");
  ASSERT_EQ(::mkfifo((tmp / "state/fifo").c_str(), 0600), 0);
  fs::create_directories(tmp / "state/empty/dir");

  GitSyncConfig cfg = test_config(tmp.path());
  cfg.max_file_bytes = 1000;
  GitSync sync(cfg);
  SnapshotResult r = sync.snapshot(5);

  std::map<std::string, std::string> skipped;
  for (const auto& s : r.skipped) skipped[s.path] = s.reason;
  EXPECT_THAT(skipped["state/big.bin"], HasSubstr("GIT_ARCHIVE_MAX_FILE_BYTES"));
  EXPECT_THAT(skipped["state/.git"], HasSubstr(".git"));
  EXPECT_THAT(skipped["state/sub/.GIT"], HasSubstr(".git"));
  EXPECT_THAT(skipped["state/escape"], HasSubstr("leaves"));
  EXPECT_THAT(skipped["state/absolute"], HasSubstr("leaves"));
  EXPECT_THAT(skipped["state/chain"], HasSubstr("leaves"));
  EXPECT_THAT(skipped["state/fifo"], HasSubstr("not a regular file"));
  EXPECT_EQ(skipped.size(), 7u);

  EXPECT_EQ(
      g("ls-tree -r --name-only finn/archive"),
      "snapshot-manifest.json\nstate/inside-link\nstate/ok.txt\nstate/sub/inner.txt\nstate/sub/up");
  EXPECT_EQ(g("ls-tree finn/archive state/inside-link").substr(0, 6), "120000");
  auto m = manifest_at("finn/archive");
  EXPECT_EQ(m["skipped"].size(), 7u);
  EXPECT_EQ(m["empty_dirs"], nlohmann::json::array({"state/empty/dir"}));
}

TEST_F(SnapshotTest, KeepsExecutableBitAndExtraDirectories) {
  write_tree(tmp / "state", {{"run.sh", "#!/bin/sh\n"}});
  fs::permissions(tmp / "state/run.sh", fs::perms::owner_exec, fs::perm_options::add);
  write_tree(tmp / "learnings", {{"l1.md", "learned"}});
  GitSyncConfig cfg = test_config(tmp.path());
  cfg.extra_dirs = {tmp / "learnings"};
  GitSync sync(cfg);
  sync.snapshot(1);
  EXPECT_EQ(g("ls-tree finn/archive state/run.sh").substr(0, 6), "100755");
  EXPECT_EQ(g("show finn/archive:learnings/l1.md"), "learned");
  EXPECT_EQ(manifest_at("finn/archive")["sources"], nlohmann::json::array({"state", "learnings"}));
}

TEST_F(SnapshotTest, LeavesTheUsersHeadIndexAndWorkingTreeAlone) {
  const std::string work = tmp / "work";
  const std::string w = "-C " + sh_quote(work) + " ";
  git("init -q -b main " + sh_quote(work));
  write_file(work + "/tracked.txt", "v1\n");
  git(w + "add tracked.txt");
  git(w + "commit -q -m initial");
  write_file(work + "/tracked.txt", "v2 staged\n");
  git(w + "add tracked.txt");
  write_file(work + "/tracked.txt", "v3 unstaged\n");
  write_file(work + "/untracked.txt", "new\n");
  const std::string head = git(w + "rev-parse HEAD");
  const std::string status = git(w + "status --porcelain");
  const std::string cached = git(w + "diff --cached");
  const std::string index_sum = git("hash-object " + sh_quote(work + "/.git/index"));

  write_tree(tmp / "state", {{"s.txt", "state"}});
  GitSyncConfig cfg = test_config(tmp.path());
  cfg.repo_dir = work;
  GitSync sync(cfg);
  sync.snapshot(3);

  EXPECT_EQ(git(w + "rev-parse HEAD"), head);
  EXPECT_EQ(git(w + "symbolic-ref HEAD"), "refs/heads/main");
  EXPECT_EQ(git(w + "status --porcelain"), status);
  EXPECT_EQ(git(w + "diff --cached"), cached);
  EXPECT_EQ(git("hash-object " + sh_quote(work + "/.git/index")), index_sum);
  EXPECT_EQ(read_file(work + "/tracked.txt"), "v3 unstaged\n");
  EXPECT_EQ(git(w + "show finn/archive:state/s.txt"), "state");
  EXPECT_FALSE(fs::exists(work + "/state"));
}

TEST_F(SnapshotTest, RefusesTheBranchThatIsCheckedOut) {
  const std::string work = tmp / "work";
  git("init -q -b finn/archive " + sh_quote(work));
  GitSyncConfig cfg = test_config(tmp.path());
  cfg.repo_dir = work;
  try {
    GitSync sync(cfg);
    FAIL() << "expected CONFIG_INVALID";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
    EXPECT_THAT(e.what(), HasSubstr("checked out"));
  }
}

TEST_F(SnapshotTest, RefusesARepoDirThatIsNotARepository) {
  write_file(tmp / "notrepo-file", "x");
  fs::create_directories(tmp / "notrepo");
  write_file(tmp / "notrepo/something", "x");
  GitSyncConfig cfg = test_config(tmp.path());
  cfg.repo_dir = tmp / "notrepo";
  EXPECT_THROW(
      {
        try {
          GitSync sync(cfg);
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
          EXPECT_THAT(e.what(), HasSubstr("GIT_REPO_DIR"));
          throw;
        }
      },
      Error);
}

TEST_F(SnapshotTest, CommitsOnTopOfAForeignTipWithoutManifest) {
  // Someone committed to the branch by hand: the next snapshot builds on it.
  write_tree(tmp / "state", {{"a", "1"}});
  GitSync sync(test_config(tmp.path()));
  sync.snapshot(1);
  const std::string tip = g("rev-parse finn/archive");
  const std::string tree = g("mktree </dev/null");
  const std::string foreign = g("commit-tree " + tree + " -p " + tip + " -m hand-made");
  g("update-ref refs/heads/finn/archive " + foreign);
  SnapshotResult r = sync.snapshot(2);
  EXPECT_TRUE(r.committed);
  EXPECT_EQ(g("rev-parse finn/archive~1"), foreign);
  auto log = sync.log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_TRUE(log[0].has_manifest);
  EXPECT_FALSE(log[1].has_manifest);
  EXPECT_EQ(log[2].wal_seq, 1u);
}

// Regression test (issue 10): `archive log` listed a commit someone made on
// top of a snapshot (it inherits the manifest file) as a snapshot, which
// restore then refused because its files do not match the manifest.
// Regression test (found by the crash harness, ServeCrash.*): a strata killed while libgit2 held
// the archive branch's lock left refs/heads/finn/archive.lock behind, and every later snapshot
// failed with GIT_CONFLICT ("moved while the snapshot was made") for good: the Git tier never
// confirmed again, so pruning stopped too. A lock older than any honest holder's is removed; a
// fresh one (a git command writing the branch right now) is waited for, then refused by name.
TEST_F(SnapshotTest, AStaleLockOfTheBranchLeftByAKilledProcessIsRemoved) {
  write_tree(tmp / "state", {{"a.txt", "alpha"}});
  GitSync sync(test_config(tmp.path()));
  ASSERT_TRUE(sync.snapshot(1).committed);
  const std::string lock = tmp / "archive.git/refs/heads/finn/archive.lock";
  write_file(lock, "");  // what a SIGKILL inside git_reference_create_matching leaves
  write_tree(tmp / "state", {{"a.txt", "alpha 2"}});
  try {
    sync.snapshot(2);
    ADD_FAILURE() << "a fresh lock was overridden";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGitConflict);
    EXPECT_THAT(e.what(), HasSubstr("archive.lock"));
  }
  EXPECT_TRUE(fs::exists(lock));
  fs::last_write_time(lock, fs::file_time_type::clock::now() - std::chrono::seconds(60));
  SnapshotResult r = sync.snapshot(2);
  EXPECT_TRUE(r.committed);
  EXPECT_FALSE(fs::exists(lock));
  EXPECT_EQ(manifest_at("finn/archive")["wal_seq"], 2);
  EXPECT_EQ(g("rev-list --count finn/archive"), "2");
}

TEST_F(SnapshotTest, ACommitOnTopOfASnapshotIsNotListedAsOne) {
  write_tree(tmp / "state", {{"a", "1"}});
  GitSync sync(test_config(tmp.path()));
  SnapshotResult first = sync.snapshot(5);
  // A clone, one more file, a commit, pushed back: the manifest comes along.
  const std::string clone = tmp / "clone";
  git("clone -q -b finn/archive " + repo() + " " + sh_quote(clone));
  write_file(clone + "/state/extra.txt", "added by hand\n");
  git("-C " + sh_quote(clone) + " add -A");
  git("-C " + sh_quote(clone) + " commit -q -m by-hand");
  git("-C " + sh_quote(clone) + " push -q origin finn/archive");
  const std::string foreign = g("rev-parse finn/archive");
  auto log = sync.log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].commit, foreign);
  EXPECT_FALSE(log[0].has_manifest) << "a hand-made commit was listed as a snapshot";
  EXPECT_TRUE(log[1].has_manifest);
  EXPECT_EQ(log[1].wal_seq, 5u);
  // Restore agrees: the tip is not a snapshot; the one below it restores.
  RestoreOptions at_tip;
  at_tip.source = RestoreOptions::Source::kLocal;
  try {
    sync.restore(tmp / "out", at_tip);
    ADD_FAILURE() << "restored a commit that is not a snapshot";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("not a strata snapshot"));
  }
  RestoreOptions below = at_tip;
  below.commit = first.tip.commit;
  EXPECT_EQ(sync.restore(tmp / "out", below).snapshot.wal_seq, 5u);
  // And the next snapshot is a real one again.
  write_file(tmp / "state/a", "2");
  EXPECT_TRUE(sync.snapshot(6).committed);
  EXPECT_TRUE(sync.log()[0].has_manifest);
}

// Regression test (issue 10): a GIT_ARCHIVE_PATHS entry that does not exist
// was listed in the manifest's sources with nothing archived under it.
TEST_F(SnapshotTest, AMissingExtraDirectoryIsRefusedAndNothingIsCommitted) {
  write_tree(tmp / "state", {{"a", "1"}});
  GitSyncConfig cfg = test_config(tmp.path());
  cfg.extra_dirs = {tmp / "learnings"};
  GitSync sync(cfg);
  try {
    sync.snapshot(1);
    ADD_FAILURE() << "archived a source that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
    EXPECT_THAT(e.what(), HasSubstr("GIT_ARCHIVE_PATHS"));
    EXPECT_THAT(e.what(), HasSubstr(tmp / "learnings"));
  }
  EXPECT_NE(git_status("--git-dir=" + repo() + " rev-parse --verify -q refs/heads/finn/archive"), 0)
      << "a snapshot was committed";
  EXPECT_EQ(sync.status().state, GitSyncState::kError);
  write_tree(tmp / "learnings", {{"l", "x"}});
  EXPECT_TRUE(sync.snapshot(1).committed);
  EXPECT_EQ(manifest_at("finn/archive")["sources"], nlohmann::json::array({"state", "learnings"}));
}

// The archive's one set of names: a state directory written by hand (not
// through the WAL) with names git reserves is archived without them, and
// says so.
TEST_F(SnapshotTest, NamesGitReservesAreSkippedAndReported) {
  write_tree(tmp / "state", {{"ok", "1"}, {".GIT/config", "x"}, {"sub/.git./f", "y"}});
  GitSync sync(test_config(tmp.path()));
  SnapshotResult r = sync.snapshot(1);
  std::vector<std::string> skipped;
  for (const auto& s : r.skipped) skipped.push_back(s.path);
  std::sort(skipped.begin(), skipped.end());
  EXPECT_EQ(skipped, (std::vector<std::string>{"state/.GIT", "state/sub/.git."}));
  EXPECT_EQ(g("ls-tree -r --name-only finn/archive"), "snapshot-manifest.json\nstate/ok");
}

}  // namespace
}  // namespace strata::testing
