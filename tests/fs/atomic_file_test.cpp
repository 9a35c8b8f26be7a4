// The atomic-replace protocol (temp -> fsync -> rename -> directory fsync)
// under every failure the fault-injecting file system can make, and the
// helpers built on the seam.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "strata/error.h"
#include "strata/fs.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::fault;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AtomicFile, ReplacesTheContentAndLeavesNoTemporaryFile) {
  TempDir t;
  write_file(t / "state.seq", "old");
  FaultInjectionFileSystem fi;
  write_file_atomically(fi, t / "state.seq", "new content");
  EXPECT_EQ(read_file(t / "state.seq"), "new content");
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"state.seq"});
  // The protocol: one file fsync, one rename, one fsync of the directory.
  EXPECT_EQ(fi.count(FsOp::kSync), 1u);
  EXPECT_EQ(fi.count(FsOp::kRename), 1u);
  EXPECT_EQ(fi.count(FsOp::kSyncDir), 1u);
  write_file_atomically(fi, t / "fresh", "");  // a new, empty file
  EXPECT_EQ(read_file(t / "fresh"), "");
}

// Every failure before the rename leaves the old content and no temporary
// file; a failure of the directory fsync comes after the rename, so the new
// content is already there (and the caller is told the write may not last).
TEST(AtomicFile, EachInjectedFailureLeavesOldOrNewAndNoTemporaryFile) {
  struct Case {
    FsOp op;
    bool new_content_visible;
  };
  for (const Case c :
       {Case{FsOp::kOpenDir, false}, Case{FsOp::kOpen, false}, Case{FsOp::kWrite, false},
        Case{FsOp::kSync, false}, Case{FsOp::kRename, false}, Case{FsOp::kSyncDir, true}}) {
    TempDir t;
    write_file(t / "HISTORY", "old");
    FaultInjectionFileSystem fi;
    fi.add_rule(fault(c.op, "", 0, 1, c.op == FsOp::kWrite ? ENOSPC : EIO));
    try {
      write_file_atomically(fi, t / "HISTORY", "new");
      ADD_FAILURE() << "no error for op " << static_cast<int>(c.op);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIoError);
      EXPECT_NE(std::string(e.what()).find("(injected)"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read_file(t / "HISTORY"), c.new_content_visible ? "new" : "old")
        << static_cast<int>(c.op);
    EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"HISTORY"}) << static_cast<int>(c.op);
  }
}

TEST(AtomicFile, TheFsyncComesBeforeTheRename) {
  TempDir t;
  FaultInjectionFileSystem fi;
  fi.add_rule(fault(FsOp::kRename));
  EXPECT_THROW(write_file_atomically(fi, t / "f", "data"), Error);
  EXPECT_EQ(fi.count(FsOp::kSync), 1u);     // already synced when the rename was tried
  EXPECT_EQ(fi.count(FsOp::kSyncDir), 0u);  // and the directory not yet
}

// Without the fsync before the rename a power cut may leave the renamed file
// with blocks that never reached the disk; with it, the content survives.
TEST(AtomicFile, ContentSurvivesAPowerCutRightAfterTheWrite) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    TempDir t;
    FaultInjectionFileSystem fi;
    fi.track_unsynced_writes(true);
    const std::string content(5 * 4096 + 17, static_cast<char>('a' + seed));
    write_file_atomically(fi, t / "marks", content);
    fi.cut_power();
    fi.lose_unsynced_writes(seed);
    EXPECT_EQ(read_file(t / "marks"), content) << seed;
  }
}

TEST(AtomicFile, UncommittedIsRemovedAndStreamingWorks) {
  TempDir t;
  auto dir = FileSystem::real().open_dir(t.path());
  {
    AtomicFile f(*dir, "out.bin");
    f.append("partial");
    EXPECT_EQ(names_in(t.path()).size(), 1u);  // the temporary file
  }
  EXPECT_TRUE(names_in(t.path()).empty());
  AtomicFile f(*dir, "out.bin");
  f.append("first attempt");
  f.reset();  // a retried download starts over
  for (int i = 0; i < 3; ++i) f.append("chunk" + std::to_string(i) + ";");
  EXPECT_EQ(f.size(), 21u);
  f.file().set_xattr("user.strata.test", "1");
  f.commit();
  EXPECT_EQ(read_file(t / "out.bin"), "chunk0;chunk1;chunk2;");
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"out.bin"});
  EXPECT_THROW(f.commit(), Error);  // once only
}

TEST(AtomicFile, LongNamesStillGetATemporaryName) {
  TempDir t;
  const std::string name(250, 'n');
  write_file_atomically(FileSystem::real(), t / name, "x");
  EXPECT_EQ(read_file(t / name), "x");
}

TEST(AtomicFile, MissingDirectoryIsAnError) {
  TempDir t;
  try {
    write_file_atomically(FileSystem::real(), t / "no/such/file", "x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIoError);
    EXPECT_NE(std::string(e.what()).find(t / "no/such"), std::string::npos) << e.what();
  }
}

TEST(CreateFileAtomically, NeverReplaces) {
  TempDir t;
  EXPECT_TRUE(create_file_atomically(FileSystem::real(), t / "id", "first"));
  EXPECT_FALSE(create_file_atomically(FileSystem::real(), t / "id", "second"));
  EXPECT_EQ(read_file(t / "id"), "first");
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"id"});
}

TEST(CreateFileAtomically, RacingCreatorsAgreeOnOneWinner) {
  TempDir t;
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      if (create_file_atomically(FileSystem::real(), t / "id", "writer " + std::to_string(i)))
        ++wins;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(read_file(t / "id").rfind("writer ", 0), 0u);
  EXPECT_EQ(names_in(t.path()), std::vector<std::string>{"id"});
}

TEST(CreateFileAtomically, InjectedFailuresLeaveNothingBehind) {
  for (FsOp op : {FsOp::kSync, FsOp::kLink, FsOp::kWrite}) {
    TempDir t;
    FaultInjectionFileSystem fi;
    fi.add_rule(fault(op));
    EXPECT_THROW(create_file_atomically(fi, t / "id", "x"), Error) << static_cast<int>(op);
    EXPECT_TRUE(names_in(t.path()).empty()) << static_cast<int>(op);
  }
}

TEST(ReadSmallFile, MissingTooLargeAndFine) {
  TempDir t;
  EXPECT_EQ(read_small_file(FileSystem::real(), t / "none"), std::nullopt);
  write_file(t / "f", "0123456789");
  EXPECT_EQ(read_small_file(FileSystem::real(), t / "f", 10), "0123456789");
  EXPECT_THROW(read_small_file(FileSystem::real(), t / "f", 9), Error);
}

TEST(CreateDirectories, SyncsEachNewDirectoryInItsParent) {
  TempDir t;
  FaultInjectionFileSystem fi;
  create_directories(fi, t / "a/b/c");
  EXPECT_TRUE(std::filesystem::is_directory(t / "a/b/c"));
  EXPECT_EQ(fi.count(FsOp::kMakeDirs), 3u);
  EXPECT_EQ(fi.count(FsOp::kSyncDir), 3u);
  const uint64_t syncs = fi.count(FsOp::kSyncDir);
  create_directories(fi, t / "a/b/c");  // nothing to do
  EXPECT_EQ(fi.count(FsOp::kSyncDir), syncs);
  write_file(t / "file", "x");
  EXPECT_THROW(create_directories(fi, t / "file/sub"), Error);
  fi.add_rule(fault(FsOp::kSyncDir));
  EXPECT_THROW(create_directories(fi, t / "x/y"), Error);
}

TEST(CreateDirectories, FollowsTheCallersSymlinks) {
  TempDir t;
  std::filesystem::create_directories(t / "real");
  std::filesystem::create_directory_symlink(t / "real", t / "link");
  create_directories(FileSystem::real(), t / "link/data/remote");
  EXPECT_TRUE(std::filesystem::is_directory(t / "real/data/remote"));
}

TEST(RemoveTree, RemovesEverythingBelowWithoutFollowingLinks) {
  TempDir t;
  std::filesystem::create_directories(t / "keep");
  write_file(t / "keep/precious", "p");
  std::filesystem::create_directories(t / "gone/a/b");
  write_file(t / "gone/a/b/f", "x");
  std::filesystem::create_directory_symlink(t / "keep", t / "gone/a/link");
  auto dir = FileSystem::real().open_dir(t.path());
  EXPECT_TRUE(remove_tree(*dir, "gone"));
  EXPECT_FALSE(remove_tree(*dir, "gone"));
  EXPECT_EQ(read_file(t / "keep/precious"), "p");
  const std::string temp = make_temp_dir(*dir, ".staging-");
  EXPECT_TRUE(std::filesystem::is_directory(t / temp));
  EXPECT_EQ(temp.rfind(".staging-", 0), 0u);
  EXPECT_NE(make_temp_dir(*dir, ".staging-"), temp);
}

TEST(PathParts, ParentAndBase) {
  EXPECT_EQ(parent_path("a/b/c"), "a/b");
  EXPECT_EQ(parent_path("c"), ".");
  EXPECT_EQ(parent_path("/c"), "/");
  EXPECT_EQ(base_name("a/b/c"), "c");
  EXPECT_EQ(base_name("c"), "c");
}

}  // namespace
}  // namespace strata
