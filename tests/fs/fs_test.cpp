// The file-system seam: the POSIX implementation's contract and the
// FaultInjectionFileSystem's rules, torn writes, fake free space and counters.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "strata/error.h"
#include "strata/fs.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::fault;
using testing::read_file;
using testing::TempDir;

FileSystem& real() {
  return FileSystem::real();
}

TEST(PosixFs, WriteReadSizeTruncate) {
  TempDir d;
  auto f = real().open(d / "f", OpenMode::kCreate);
  f->pwrite("hello world", 11, 0);
  f->pwrite("W", 1, 6);
  EXPECT_EQ(f->size(), 11u);
  char buf[32] = {};
  EXPECT_EQ(f->pread(buf, sizeof(buf), 0), 11u);  // short only at end of file
  EXPECT_EQ(std::string(buf, 11), "hello World");
  f->sync_data();
  f->sync();
  f->truncate(5);
  EXPECT_EQ(f->size(), 5u);
  EXPECT_EQ(f->path(), d / "f");
  EXPECT_EQ(read_file(d / "f"), "hello");
}

TEST(PosixFs, OpenModes) {
  TempDir d;
  EXPECT_THROW(real().open(d / "missing", OpenMode::kRead), Error);
  EXPECT_THROW(real().open(d / "missing", OpenMode::kReadWrite), Error);
  real().open(d / "f", OpenMode::kCreate)->pwrite("abc", 3, 0);
  try {
    real().open(d / "f", OpenMode::kCreate);
    ADD_FAILURE() << "kCreate opened an existing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIoError);
    EXPECT_NE(std::string(e.what()).find(d / "f"), std::string::npos) << e.what();
  }
  EXPECT_EQ(real().open(d / "f", OpenMode::kCreateOrOpen)->size(), 3u);
  EXPECT_EQ(real().open(d / "f", OpenMode::kCreateTrunc)->size(), 0u);
  auto ro = real().open(d / "f", OpenMode::kRead);
  EXPECT_THROW(ro->pwrite("x", 1, 0), Error);
}

TEST(PosixFs, DirectoriesListRenameRemove) {
  TempDir d;
  real().make_dirs(d / "a/b/c");
  real().make_dirs(d / "a/b/c");  // idempotent
  EXPECT_TRUE(real().is_directory(d / "a/b/c"));
  real().open(d / "a/z", OpenMode::kCreate);
  real().open(d / "a/m", OpenMode::kCreate);
  EXPECT_EQ(real().list_dir(d / "a"), (std::vector<std::string>{"b", "m", "z"}));
  real().rename(d / "a/z", d / "a/y");
  EXPECT_FALSE(real().exists(d / "a/z"));
  EXPECT_TRUE(real().exists(d / "a/y"));
  real().remove(d / "a/y");
  real().remove(d / "a/b/c");  // empty directory
  EXPECT_FALSE(real().exists(d / "a/b/c"));
  EXPECT_THROW(real().remove(d / "a"), Error);  // not empty
  EXPECT_THROW(real().remove(d / "nothing"), Error);
  real().sync_dir(d / "a");
  real().sync_filesystem(d / "a");
  EXPECT_THROW(real().make_dirs(d / "a/m/sub"), Error);  // m is a file
}

// As mkdir -p: the operator's DATA_DIR may be a link to a directory on
// another disk (the Git archive's creation makes its parent this way); a
// link to a file or a dangling link is still no directory. The link
// checks themselves (is_directory) do not follow links.
TEST(PosixFs, MakeDirsAcceptsALinkToADirectoryAsItsLastComponent) {
  TempDir d;
  real().make_dirs(d / "disk/data");
  ASSERT_EQ(::symlink((d / "disk/data").c_str(), (d / "data").c_str()), 0);
  real().make_dirs(d / "data");
  real().make_dirs(d / "data/sub");
  EXPECT_TRUE(real().is_directory(d / "disk/data/sub"));
  EXPECT_FALSE(real().is_directory(d / "data"));
  real().open(d / "file", OpenMode::kCreate);
  ASSERT_EQ(::symlink((d / "file").c_str(), (d / "to-file").c_str()), 0);
  ASSERT_EQ(::symlink((d / "nowhere").c_str(), (d / "dangling").c_str()), 0);
  EXPECT_THROW(real().make_dirs(d / "to-file"), Error);
  EXPECT_THROW(real().make_dirs(d / "dangling"), Error);
}

TEST(PosixFs, LockIsExclusiveAndNamesHolderPid) {
  TempDir d;
  pid_t holder = -1;
  auto lock = real().try_lock(d / "LOCK", &holder);
  ASSERT_TRUE(lock);
  EXPECT_EQ(read_file(d / "LOCK"), std::to_string(getpid()) + "\n");
  pid_t other = 0;
  EXPECT_EQ(real().try_lock(d / "LOCK", &other), nullptr);
  EXPECT_EQ(other, getpid());
  lock.reset();
  EXPECT_TRUE(real().try_lock(d / "LOCK", &other));
}

TEST(PosixFs, DiskSpaceIsPlausible) {
  TempDir d;
  auto s = real().disk_space(d.path());
  EXPECT_GT(s.total_bytes, 0u);
  EXPECT_LE(s.free_bytes, s.total_bytes);
}

TEST(FaultFs, CountsEveryCallByOp) {
  TempDir d;
  FaultInjectionFileSystem fi;
  auto f = fi.open(d / "f", OpenMode::kCreate);
  f->pwrite("x", 1, 0);
  f->pwrite("y", 1, 1);
  f->sync_data();
  char c;
  f->pread(&c, 1, 0);
  fi.sync_dir(d.path());
  EXPECT_EQ(fi.count(FsOp::kOpen), 1u);
  EXPECT_EQ(fi.count(FsOp::kWrite), 2u);
  EXPECT_EQ(fi.count(FsOp::kSyncData), 1u);
  EXPECT_EQ(fi.count(FsOp::kRead), 1u);
  EXPECT_EQ(fi.count(FsOp::kSyncDir), 1u);
  EXPECT_EQ(fi.count(FsOp::kSync), 0u);
  EXPECT_EQ(fi.count(FsOp::kRename), 0u);
}

TEST(FaultFs, RuleFailsTheChosenCallWithIoErrorNamingOpAndPath) {
  TempDir d;
  FaultInjectionFileSystem fi;
  auto f = fi.open(d / "data.seg", OpenMode::kCreate);
  fi.add_rule(fault(FsOp::kSyncData, ".seg", 0, 1, EIO));
  try {
    f->sync_data();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIoError);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("fdatasync"), std::string::npos) << msg;
    EXPECT_NE(msg.find(d / "data.seg"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Input/output error"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(f->sync_data());  // times = 1: spent
  EXPECT_EQ(fi.count(FsOp::kSyncData), 2u);
}

TEST(FaultFs, SkipTimesAndPathFilter) {
  TempDir d;
  FaultInjectionFileSystem fi;
  auto a = fi.open(d / "a.seg", OpenMode::kCreate);
  auto b = fi.open(d / "b.txt", OpenMode::kCreate);
  fi.add_rule(fault(FsOp::kSync, ".seg", 2, 2));
  EXPECT_NO_THROW(b->sync());  // other path: not counted by the rule
  EXPECT_NO_THROW(a->sync());  // skip 1
  EXPECT_NO_THROW(a->sync());  // skip 2
  EXPECT_THROW(a->sync(), Error);
  EXPECT_THROW(a->sync(), Error);
  EXPECT_NO_THROW(a->sync());  // times exhausted
  fi.add_rule(fault(FsOp::kSync, "", 0, -1));
  for (int i = 0; i < 5; ++i) EXPECT_THROW(b->sync(), Error);
  fi.clear_rules();
  EXPECT_NO_THROW(b->sync());
}

TEST(FaultFs, CustomErrnoIsReported) {
  TempDir d;
  FaultInjectionFileSystem fi;
  auto f = fi.open(d / "f", OpenMode::kCreate);
  fi.add_rule(fault(FsOp::kWrite, "", 0, 1, ENOSPC));
  try {
    f->pwrite("abc", 3, 0);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(d / "f"), "");  // a plain failure writes nothing
}

TEST(FaultFs, TornWriteWritesExactlyThePrefix) {
  TempDir d;
  FaultInjectionFileSystem fi;
  auto f = fi.open(d / "f", OpenMode::kCreate);
  fi.add_rule(fault(FsOp::kWrite, "", 0, 1, EIO, 4));
  EXPECT_THROW(f->pwrite("abcdefgh", 8, 0), Error);
  EXPECT_EQ(read_file(d / "f"), "abcd");
}

TEST(FaultFs, NamespaceCallsCanFail) {
  TempDir d;
  FaultInjectionFileSystem fi;
  fi.open(d / "x", OpenMode::kCreate);
  fi.add_rule(fault(FsOp::kRename));
  EXPECT_THROW(fi.rename(d / "x", d / "y"), Error);
  EXPECT_TRUE(std::filesystem::exists(d / "x"));
  fi.add_rule(fault(FsOp::kRemove));
  EXPECT_THROW(fi.remove(d / "x"), Error);
  EXPECT_TRUE(std::filesystem::exists(d / "x"));
  fi.add_rule(fault(FsOp::kOpen));
  EXPECT_THROW(fi.open(d / "x", OpenMode::kRead), Error);
  fi.add_rule(fault(FsOp::kMakeDirs));
  EXPECT_THROW(fi.make_dirs(d / "newdir"), Error);
  EXPECT_FALSE(std::filesystem::exists(d / "newdir"));
  fi.add_rule(fault(FsOp::kLock));
  pid_t p;
  EXPECT_THROW(fi.try_lock(d / "LOCK", &p), Error);
  fi.add_rule(fault(FsOp::kSyncFilesystem));
  EXPECT_THROW(fi.sync_filesystem(d.path()), Error);
  fi.add_rule(fault(FsOp::kListDir));
  EXPECT_THROW(fi.list_dir(d.path()), Error);
}

TEST(FaultFs, FakeFreeSpace) {
  TempDir d;
  FaultInjectionFileSystem fi;
  fi.set_free_bytes(1234);
  EXPECT_EQ(fi.disk_space(d.path()).free_bytes, 1234u);
  fi.set_free_bytes(std::nullopt);
  EXPECT_EQ(fi.disk_space(d.path()).total_bytes, real().disk_space(d.path()).total_bytes);
  EXPECT_EQ(fi.count(FsOp::kDiskSpace), 2u);
}

TEST(FaultFs, PassesThroughWhenNoRuleMatches) {
  TempDir d;
  FaultInjectionFileSystem fi;
  fi.add_rule(fault(FsOp::kSyncData, "never-matches"));
  auto f = fi.open(d / "f", OpenMode::kCreate);
  f->pwrite("data", 4, 0);
  f->sync_data();
  EXPECT_EQ(f->size(), 4u);
  EXPECT_TRUE(fi.exists(d / "f"));
  EXPECT_FALSE(fi.is_directory(d / "f"));
  EXPECT_EQ(fi.list_dir(d.path()), (std::vector<std::string>{"f"}));
}

}  // namespace
}  // namespace strata
