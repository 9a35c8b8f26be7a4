// The Git restore and snapshot walks go through the file-system seam: every
// call they make can be failed by FaultInjectionFileSystem, and a restore
// that fails at any of them (an fsync, the rename that publishes it, the
// parent's fsync) leaves the target as it was and no staging directory.
#include <git2.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "git/git_util.h"
#include "git/manifest.h"
#include "git/restore_writer.h"
#include "git/tree_writer.h"
#include "strata/error.h"
#include "strata/git_sync.h"
#include "strata/testing/fault_injection_file_system.h"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;
using git::BlobPtr;
using git::CommitPtr;
using git::Manifest;
using git::RepoPtr;
using git::TreePtr;

class WritersSeam : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    write_tree(tmp / "state", {{"a.txt", "alpha"}, {"d/b.bin", std::string(70000, 'b')}});
    fs::create_symlink("a.txt", tmp / "state/link");
    fs::create_directories(tmp / "state/empty");
    {
      GitSync sync(test_config(tmp.path()));
      sync.snapshot(7);
    }
    git::ensure_libgit2();
    git_repository* r = nullptr;
    ASSERT_EQ(git_repository_open(&r, (tmp / "archive.git").c_str()), 0);
    repo.reset(r);
    git_oid oid;
    ASSERT_TRUE(git::lookup_ref_oid(repo.get(), "refs/heads/finn/archive", &oid));
    commit_hex = git::oid_hex(oid);
    git_commit* c = nullptr;
    ASSERT_EQ(git_commit_lookup(&c, repo.get(), &oid), 0);
    CommitPtr commit(c);
    git_tree* t = nullptr;
    ASSERT_EQ(git_commit_tree(&t, commit.get()), 0);
    tree.reset(t);
    const git_tree_entry* e = git_tree_entry_byname(tree.get(), git::kManifestName);
    ASSERT_NE(e, nullptr);
    git_blob* b = nullptr;
    ASSERT_EQ(git_blob_lookup(&b, repo.get(), git_tree_entry_id(e)), 0);
    BlobPtr blob(b);
    manifest =
        Manifest::parse(std::string_view(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                                         static_cast<size_t>(git_blob_rawsize(blob.get()))),
                        "test");
  }

  git::RestoreStats restore(FileSystem& fs, const std::string& target) {
    return git::write_tree(repo.get(), tree.get(), manifest, target, commit_hex, 50 << 20, fs);
  }

  bool staging_left() const {
    for (const auto& e : fs::directory_iterator(tmp.path())) {
      if (e.path().filename().string().starts_with(".out.restore-")) return true;
    }
    return false;
  }

  TempDir tmp;
  RepoPtr repo;
  TreePtr tree;
  Manifest manifest;
  std::string commit_hex;
};

TEST_F(WritersSeam, RestoreThroughTheSeamRoundTrips) {
  FaultInjectionFileSystem fi;
  auto stats = restore(fi, tmp / "out");
  EXPECT_EQ(stats.files, 3u);
  EXPECT_TRUE(read_tree(tmp / "out/state") == read_tree(tmp / "state"));
  EXPECT_TRUE(fs::is_directory(tmp / "out/state/empty"));
  // Staged, made durable with one syncfs, published by one rename, parent fsynced.
  EXPECT_EQ(fi.count(FsOp::kSyncFilesystem), 1u);
  EXPECT_EQ(fi.count(FsOp::kRename), 1u);
  EXPECT_GE(fi.count(FsOp::kSyncDir), 1u);
  EXPECT_GE(fi.count(FsOp::kResolve), 1u);  // the symlink was checked by the kernel
  EXPECT_FALSE(staging_left());
}

TEST_F(WritersSeam, EveryInjectedFailureLeavesTheTargetAsItWas) {
  for (FsOp op : {FsOp::kMakeDirs, FsOp::kOpen, FsOp::kWrite, FsOp::kChmod, FsOp::kSymlink,
                  FsOp::kResolve, FsOp::kSyncFilesystem, FsOp::kRename, FsOp::kSyncDir}) {
    for (bool target_exists : {false, true}) {
      fs::remove_all(tmp / "out");
      if (target_exists) fs::create_directories(tmp / "out");
      FaultInjectionFileSystem fi;
      // Fail a call inside the staging directory, or the one rename and
      // parent fsync that publish it (the first mkdir makes the staging
      // directory itself: fail the next one, inside it).
      const bool publishing = op == FsOp::kRename || op == FsOp::kSyncDir;
      fi.add_rule(fault(op, publishing ? "" : ".out.restore-", op == FsOp::kMakeDirs ? 1 : 0, 1));
      try {
        restore(fi, tmp / "out");
        ADD_FAILURE() << "no failure for op " << static_cast<int>(op);
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kIoError) << e.what();
      }
      EXPECT_EQ(fs::exists(tmp / "out"), target_exists) << static_cast<int>(op);
      if (target_exists) {
        EXPECT_TRUE(fs::is_empty(tmp / "out")) << static_cast<int>(op);
      }
      EXPECT_FALSE(staging_left()) << static_cast<int>(op);
    }
  }
}

TEST_F(WritersSeam, AFullDiskDuringRestoreLeavesNothing) {
  FaultInjectionFileSystem fi;
  fi.add_rule(fault(FsOp::kWrite, "b.bin", 0, -1, ENOSPC));
  try {
    restore(fi, tmp / "out");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "out"));
  EXPECT_FALSE(staging_left());
}

TEST_F(WritersSeam, SnapshotWalkReadsThroughTheSeam) {
  FaultInjectionFileSystem fi;
  git::TreeWriter tw(repo.get(), 50 << 20, fi);
  git_oid oid;
  ASSERT_TRUE(tw.write_dir(tmp / "state", "state", &oid));
  EXPECT_EQ(tw.stats().file_count, 3u);
  EXPECT_GE(fi.count(FsOp::kListDir), 3u);  // state, d, empty
  EXPECT_GE(fi.count(FsOp::kRead), 2u);
  EXPECT_EQ(fi.count(FsOp::kReadLink), 1u);
  for (FsOp op :
       {FsOp::kListDir, FsOp::kStat, FsOp::kOpen, FsOp::kRead, FsOp::kReadLink, FsOp::kOpenDir}) {
    FaultInjectionFileSystem failing;
    failing.add_rule(fault(op, "state", 0, -1));
    git::TreeWriter w(repo.get(), 50 << 20, failing);
    try {
      w.write_dir(tmp / "state", "state", &oid);
      ADD_FAILURE() << "no failure for op " << static_cast<int>(op);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIoError) << e.what();  // a snapshot is never partial
    }
  }
}

}  // namespace
}  // namespace strata::testing
