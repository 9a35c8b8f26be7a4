// restore(): round trips byte for byte, picks commits by id or time, and
// treats trees from the remote as hostile (crafted with the git CLI).
#include <sys/stat.h>

#include <filesystem>
#include <tuple>

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

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    fs::create_directories(tmp / "srv");
    git_init_bare(tmp / "srv/remote.git");
  }
  std::string file_url() const { return "file://" + (tmp / "srv/remote.git"); }
  // A config for a second machine: its own (empty) repository, same remote.
  GitSyncConfig fresh_machine(const std::string& url) {
    GitSyncConfig c = test_config(tmp / "machine2", url);
    return c;
  }
  TempDir tmp;
};

TEST_F(RestoreTest, RoundTripsThousandFilesByteForByteOverGitDaemon) {
  GitDaemon daemon(tmp / "srv");
  const std::string url = daemon.url("remote.git");
  FileMap files = make_files(1200, 700, 42);
  write_tree(tmp / "state", files);
  fs::permissions(tmp / "state/d0/s0/file-0.bin", fs::perms::owner_exec, fs::perm_options::add);
  fs::create_symlink("d1/s1/file-1.txt", tmp / "state/link-to-file");
  fs::create_symlink("../s1", tmp / "state/d1/link-to-dir");
  fs::create_directories(tmp / "state/empty/nested");
  {
    GitSync sync(test_config(tmp.path(), url));
    sync.snapshot(77);
    sync.push();
  }

  GitSync other(fresh_machine(url));
  RestoreResult r = other.restore(tmp / "out");
  EXPECT_EQ(r.snapshot.wal_seq, 77u);
  EXPECT_EQ(r.files_written, 1202u);
  FileMap restored = read_tree(tmp / "out/state");
  FileMap original = read_tree(tmp / "state");
  ASSERT_EQ(restored.size(), original.size());
  EXPECT_TRUE(restored == original);  // byte for byte, symlinks included
  EXPECT_EQ(restored.size(), 1202u);
  EXPECT_TRUE(fs::is_directory(tmp / "out/state/empty/nested"));
  struct stat st;
  ASSERT_EQ(::stat((tmp / "out/state/d0/s0/file-0.bin").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  ASSERT_EQ(::stat((tmp / "out/state/d0/s7/file-7.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  auto m = nlohmann::json::parse(read_file(tmp / "out/snapshot-manifest.json"));
  EXPECT_EQ(m["wal_seq"], 77);
  // No staging directory is left next to the target.
  int entries = 0;
  for (auto& e : fs::directory_iterator(tmp.path()))
    entries += e.path().filename().string().starts_with(".out") ? 1 : 0;
  EXPECT_EQ(entries, 0);
}

TEST_F(RestoreTest, PicksACommitOrTheNewestSnapshotBeforeATime) {
  using namespace std::chrono;
  const auto t0 = system_clock::from_time_t(1770000000);
  auto now = t0;
  GitSync sync(test_config(tmp.path(), file_url()), [&now] { return now; });
  write_tree(tmp / "state", {{"v.txt", "one"}});
  SnapshotResult s1 = sync.snapshot(1);
  now = t0 + seconds(100);
  write_file(tmp / "state/v.txt", "two");
  sync.snapshot(2);
  now = t0 + seconds(200);
  write_file(tmp / "state/v.txt", "three");
  sync.snapshot(3);
  sync.push();

  RestoreOptions before;
  before.before = t0 + seconds(150);
  RestoreResult r = sync.restore(tmp / "at150", before);
  EXPECT_EQ(r.snapshot.wal_seq, 2u);
  EXPECT_EQ(read_file(tmp / "at150/state/v.txt"), "two");

  before.before = t0 + seconds(100);  // "at or before" includes the instant
  EXPECT_EQ(sync.restore(tmp / "at100", before).snapshot.wal_seq, 2u);

  RestoreOptions by_commit;
  by_commit.commit = s1.tip.commit.substr(0, 10);
  r = sync.restore(tmp / "first", by_commit);
  EXPECT_EQ(r.snapshot.wal_seq, 1u);
  EXPECT_EQ(read_file(tmp / "first/state/v.txt"), "one");

  EXPECT_EQ(sync.restore(tmp / "newest").snapshot.wal_seq, 3u);

  before.before = t0 - seconds(1);
  try {
    sync.restore(tmp / "none", before);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  by_commit.commit = "0000000000000000000000000000000000000bad";
  EXPECT_THROW(sync.restore(tmp / "none", by_commit), Error);
  EXPECT_FALSE(fs::exists(tmp / "none"));
}

TEST_F(RestoreTest, TargetMustBeNewOrEmpty) {
  write_tree(tmp / "state", {{"a", "1"}});
  GitSync sync(test_config(tmp.path()));
  sync.snapshot(1);
  write_tree(tmp / "busy", {{"keep.txt", "mine"}});
  try {
    sync.restore(tmp / "busy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(read_tree(tmp / "busy"), (FileMap{{"keep.txt", "mine"}}));
  fs::create_directories(tmp / "empty");
  EXPECT_EQ(sync.restore(tmp / "empty").snapshot.wal_seq, 1u);
  EXPECT_EQ(read_file(tmp / "empty/state/a"), "1");
}

TEST_F(RestoreTest, NoSnapshotIsNotFound) {
  GitSync sync(test_config(tmp.path(), file_url()));
  try {
    sync.restore(tmp / "out");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

// Raw tree objects, so names git itself would never write can be tested.
class HostileTreeTest : public RestoreTest {
 protected:
  std::string rg(const std::string& args) {
    return git("--git-dir=" + sh_quote(tmp / "srv/remote.git") + " " + args);
  }
  std::string blob(const std::string& content) {
    write_file(tmp / "blob.tmp", content);
    return rg("hash-object -w " + sh_quote(tmp / "blob.tmp"));
  }
  std::string tree(std::vector<std::tuple<std::string, std::string, std::string>> entries) {
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return std::get<1>(a) < std::get<1>(b); });
    std::string raw;
    for (const auto& [mode, name, hex] : entries) {
      raw += mode + " " + name + '\0';
      for (size_t i = 0; i < 40; i += 2)
        raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    write_file(tmp / "tree.tmp", raw);
    return rg("hash-object -t tree --literally -w " + sh_quote(tmp / "tree.tmp"));
  }
  void publish(const std::string& root_tree) {
    std::string commit = rg("commit-tree " + root_tree + " -m hostile");
    rg("update-ref refs/heads/finn/archive " + commit);
  }
  std::string manifest() {
    return blob(
        R"({"format":1,"snapshot_id":"x","created_at":"2026-01-01T00:00:00.000Z",)"
        R"("wal_seq":5,"lineage_id":"","file_count":1,"total_bytes":4,"sources":["state"]})");
  }
  void expect_refused(const std::string& what) {
    SCOPED_TRACE(what);
    GitSync sync(fresh_machine(file_url()));
    try {
      sync.restore(tmp / "target");
      ADD_FAILURE() << "restore accepted a hostile tree";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidPath) << e.what();
    }
    EXPECT_FALSE(fs::exists(tmp / "target"));
    EXPECT_TRUE(fs::is_empty(tmp / "outside")) << "something was written outside the target";
    for (auto& e : fs::directory_iterator(tmp.path())) {
      EXPECT_FALSE(e.path().filename().string().starts_with(".target")) << "staging left behind";
    }
    fs::remove_all(tmp / "machine2");
  }
  void SetUp() override {
    RestoreTest::SetUp();
    fs::create_directories(tmp / "outside");
  }
};

TEST_F(HostileTreeTest, RefusesDotDotEntries) {
  std::string payload = tree({{"100644", "pwned.txt", blob("pwn!")}});
  std::string state = tree({{"40000", "..", tree({{"40000", "outside", payload}})}});
  publish(tree({{"100644", "snapshot-manifest.json", manifest()}, {"40000", "state", state}}));
  expect_refused("..");
}

TEST_F(HostileTreeTest, RefusesDotGitEntries) {
  std::string hooks = tree({{"100755", "post-checkout", blob("#!/bin/sh\necho pwn\n")}});
  std::string state = tree({{"40000", ".GIT", tree({{"40000", "hooks", hooks}})}});
  publish(tree({{"100644", "snapshot-manifest.json", manifest()}, {"40000", "state", state}}));
  expect_refused(".git");
}

TEST_F(HostileTreeTest, RefusesSymlinksLeavingTheTarget) {
  std::string state = tree({{"120000", "escape", blob("../../outside")}});
  publish(tree({{"100644", "snapshot-manifest.json", manifest()}, {"40000", "state", state}}));
  expect_refused("relative escape");

  state = tree({{"120000", "abs", blob((tmp / "outside"))}});
  publish(tree({{"100644", "snapshot-manifest.json", manifest()}, {"40000", "state", state}}));
  expect_refused("absolute");
}

TEST_F(HostileTreeTest, RefusesSymlinkChainsThatLeaveTogether) {
  // Each link looks harmless alone; "chain" resolves to the target's parent.
  std::string sub = tree({{"120000", "up", blob("..")}});
  std::string state = tree({{"40000", "sub", sub}, {"120000", "chain", blob("sub/up/../..")}});
  publish(tree({{"100644", "snapshot-manifest.json", manifest()}, {"40000", "state", state}}));
  expect_refused("chain");
}

TEST_F(HostileTreeTest, RefusesWritingThroughASymlinkWithADuplicateName) {
  // A symlink "d" and a directory "d": writing d/pwn through the link would
  // land wherever it points.
  std::string inner = tree({{"100644", "pwn", blob("pwn!")}});
  std::string state = tree({{"120000", "d", blob(".")}, {"40000", "d", inner}});
  publish(tree({{"100644", "snapshot-manifest.json", manifest()}, {"40000", "state", state}}));
  expect_refused("duplicate");
}

TEST_F(HostileTreeTest, RefusesSubmodules) {
  std::string some_commit = rg("commit-tree " + tree({}) + " -m empty");
  std::string state = tree({{"160000", "sub", some_commit}});
  publish(tree({{"100644", "snapshot-manifest.json", manifest()}, {"40000", "state", state}}));
  expect_refused("submodule");
}

TEST_F(HostileTreeTest, RefusesManifestPathsLeavingTheTarget) {
  std::string m = blob(R"({"format":1,"snapshot_id":"x","created_at":"2026-01-01T00:00:00.000Z",)"
                       R"("wal_seq":5,"lineage_id":"","file_count":0,"total_bytes":0,)"
                       R"("sources":["state"],"empty_dirs":["state/../../outside/made"]})");
  publish(tree({{"100644", "snapshot-manifest.json", m}}));
  expect_refused("empty_dirs");
}

// Regression test (issue 10): nlohmann turned "wal_seq": -5 into
// 18446744073709551611, and the snapshot restored as that seq.
TEST_F(HostileTreeTest, ManifestWithANegativeNumberIsRefused) {
  for (const char* field : {"wal_seq", "file_count", "total_bytes"}) {
    SCOPED_TRACE(field);
    nlohmann::json m = {
        {"format", 1},      {"snapshot_id", "x"},  {"created_at", "2026-01-01T00:00:00.000Z"},
        {"wal_seq", 5},     {"lineage_id", ""},    {"file_count", 1},
        {"total_bytes", 4}, {"sources", {"state"}}};
    m[field] = -5;
    std::string state = tree({{"100644", "f", blob("data")}});
    publish(
        tree({{"100644", "snapshot-manifest.json", blob(m.dump())}, {"40000", "state", state}}));
    GitSync sync(fresh_machine(file_url()));
    try {
      RestoreResult r = sync.restore(tmp / "target");
      ADD_FAILURE() << "restored as seq " << r.snapshot.wal_seq;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kGitError) << e.what();
      EXPECT_THAT(e.what(), HasSubstr(field));
    }
    EXPECT_FALSE(fs::exists(tmp / "target"));
    for (const auto& s : sync.log(0, true)) EXPECT_FALSE(s.has_manifest) << s.wal_seq;
    fs::remove_all(tmp / "machine2");
  }
}

TEST_F(HostileTreeTest, ACommitWithoutManifestIsNotASnapshot) {
  publish(tree({{"100644", "README", blob("hello")}}));
  GitSync sync(fresh_machine(file_url()));
  try {
    sync.restore(tmp / "target");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_THAT(e.what(), HasSubstr("not a strata snapshot"));
  }
  EXPECT_FALSE(fs::exists(tmp / "target"));
}

}  // namespace
}  // namespace strata::testing
