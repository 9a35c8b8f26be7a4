// Directory handles: the descriptor-relative half of the seam. Names never
// follow symlinks, opening never blocks, and every call can be made to fail
// through FaultInjectionFileSystem.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>

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

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error thrown";
  return ErrorCode::kInternal;
}

std::unique_ptr<Dir> open(FileSystem& fs, const std::string& path) {
  auto d = fs.open_dir(path);
  if (!d) throw std::runtime_error("no directory " + path);
  return d;
}

TEST(Dir, OpensFilesAndDirectoriesRelativeToItself) {
  TempDir t;
  auto d = open(FileSystem::real(), t.path());
  EXPECT_EQ(d->path(), t.path());
  EXPECT_TRUE(d->make_dir("sub"));
  EXPECT_FALSE(d->make_dir("sub"));  // exists
  auto sub = d->open_dir("sub");
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->path(), t / "sub");
  auto f = sub->open_file("f", OpenMode::kCreate);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->path(), t / "sub/f");
  f->pwrite("hello", 5, 0);
  EXPECT_EQ(sub->open_file("f", OpenMode::kCreate), nullptr);  // kCreate: exists
  EXPECT_EQ(sub->open_file("missing", OpenMode::kRead), nullptr);
  EXPECT_EQ(sub->open_file("missing", OpenMode::kReadWrite), nullptr);
  EXPECT_EQ(sub->open_file("f", OpenMode::kCreateOrOpen)->size(), 5u);
  EXPECT_EQ(d->open_dir("missing"), nullptr);
  EXPECT_EQ(d->list(), std::vector<std::string>{"sub"});
  EXPECT_EQ(sub->list(), std::vector<std::string>{"f"});

  auto info = d->stat("sub");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->kind, FileKind::kDirectory);
  info = sub->stat("f");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->kind, FileKind::kRegular);
  EXPECT_EQ(info->size, 5u);
  EXPECT_LE(std::chrono::system_clock::now() - info->mtime, std::chrono::minutes(1));
  EXPECT_EQ(d->stat("missing"), std::nullopt);
  EXPECT_EQ(FileSystem::real().open_dir(t / "missing"), nullptr);
  EXPECT_EQ(code_of([&] { FileSystem::real().open_dir(t / "sub/f"); }), ErrorCode::kInvalidPath);
}

TEST(Dir, NamesAreSingleComponents) {
  TempDir t;
  auto d = open(FileSystem::real(), t.path());
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a/b", "/abs", std::string("a\0b", 3)}) {
    EXPECT_EQ(code_of([&] { d->open_file(bad, OpenMode::kCreateOrOpen); }),
              ErrorCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(code_of([&] { d->make_dir(bad); }), ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(code_of([&] { d->open_dir(bad); }), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(d->list().empty());
}

TEST(Dir, NeverFollowsASymlink) {
  TempDir t;
  std::filesystem::create_directories(t / "outside");
  write_file(t / "outside/secret", "secret");
  std::filesystem::create_directories(t / "root");
  std::filesystem::create_directory_symlink(t / "outside", t / "root/dirlink");
  std::filesystem::create_symlink(t / "outside/secret", t / "root/filelink");
  auto d = open(FileSystem::real(), t / "root");
  EXPECT_EQ(code_of([&] { d->open_dir("dirlink"); }), ErrorCode::kInvalidPath);
  for (auto mode :
       {OpenMode::kRead, OpenMode::kReadWrite, OpenMode::kCreateOrOpen, OpenMode::kCreateTrunc}) {
    EXPECT_EQ(code_of([&] { d->open_file("filelink", mode); }), ErrorCode::kInvalidPath);
  }
  EXPECT_EQ(d->open_file("filelink", OpenMode::kCreate), nullptr);  // the name exists
  EXPECT_EQ(code_of([&] { d->lock("filelink"); }), ErrorCode::kInvalidPath);
  EXPECT_EQ(d->stat("filelink")->kind, FileKind::kSymlink);
  EXPECT_EQ(d->read_symlink("filelink"), t / "outside/secret");
  EXPECT_EQ(read_file(t / "outside/secret"), "secret");  // untouched by kCreateTrunc
  // Removing the link removes the link, not what it points at.
  EXPECT_TRUE(d->remove_file("filelink"));
  EXPECT_TRUE(std::filesystem::exists(t / "outside/secret"));
}

TEST(Dir, RefusesAFifoWithoutBlocking) {
  TempDir t;
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0644), 0);
  auto d = open(FileSystem::real(), t.path());
  for (auto mode : {OpenMode::kRead, OpenMode::kReadWrite, OpenMode::kCreateOrOpen}) {
    auto opened = std::async(std::launch::async, [&] {
      try {
        d->open_file("fifo", mode);
      } catch (const Error& e) {
        return std::string(e.code_name()) + ": " + e.what();
      }
      return std::string("opened");
    });
    if (opened.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      // Blocked waiting for a writer: give it one so the test can end.
      int fd = ::open((t / "fifo").c_str(), O_RDWR | O_NONBLOCK);
      opened.wait();
      ::close(fd);
      FAIL() << "opening a FIFO blocked";
    }
    const std::string result = opened.get();
    EXPECT_EQ(result.rfind("INVALID_PATH", 0), 0u) << result;
    EXPECT_NE(result.find("FIFO"), std::string::npos) << result;
  }
}

TEST(Dir, RenameLinkRemove) {
  TempDir t;
  auto d = open(FileSystem::real(), t.path());
  d->make_dir("a");
  d->make_dir("b");
  auto a = d->open_dir("a");
  auto b = d->open_dir("b");
  a->open_file("x", OpenMode::kCreate)->pwrite("one", 3, 0);
  a->rename("x", *b, "y");
  EXPECT_EQ(read_file(t / "b/y"), "one");
  EXPECT_FALSE(std::filesystem::exists(t / "a/x"));
  EXPECT_TRUE(b->link("y", *a, "z"));
  EXPECT_FALSE(b->link("y", *a, "z"));  // exists
  EXPECT_EQ(read_file(t / "a/z"), "one");
  EXPECT_TRUE(a->remove_file("z"));
  EXPECT_FALSE(a->remove_file("z"));
  EXPECT_EQ(code_of([&] { d->remove_file("b"); }), ErrorCode::kInvalidPath);  // a directory
  EXPECT_FALSE(d->remove_dir("b"));                                           // not empty
  EXPECT_TRUE(b->remove_file("y"));
  EXPECT_TRUE(d->remove_dir("b"));
  EXPECT_FALSE(d->remove_dir("b"));
  a->sync();
  d->sync_filesystem();
}

TEST(Dir, SymlinksAndResolveBeneath) {
  TempDir t;
  std::filesystem::create_directories(t / "root/sub");
  write_file(t / "root/sub/file", "x");
  auto d = open(FileSystem::real(), t / "root");
  auto sub = d->open_dir("sub");
  EXPECT_TRUE(sub->make_symlink("file", "good"));
  EXPECT_FALSE(sub->make_symlink("file", "good"));
  EXPECT_TRUE(sub->make_symlink("..", "up"));           // looks harmless alone
  EXPECT_TRUE(d->make_symlink("sub/up/..", "escape"));  // the chain leaves root
  EXPECT_TRUE(d->make_symlink("nothing", "dangling"));
  EXPECT_EQ(d->resolve_beneath("sub/good"), Resolution::kInside);
  EXPECT_EQ(d->resolve_beneath("sub/up/sub/file"), Resolution::kInside);
  EXPECT_EQ(d->resolve_beneath("escape"), Resolution::kOutside);
  EXPECT_EQ(d->resolve_beneath("dangling"), Resolution::kMissing);
  EXPECT_EQ(sub->read_symlink("good"), "file");
  EXPECT_EQ(sub->read_symlink("missing"), std::nullopt);
  EXPECT_EQ(code_of([&] { sub->read_symlink("file"); }), ErrorCode::kInvalidPath);
  std::string long_target(1000, 'a');
  EXPECT_TRUE(d->make_symlink(long_target, "long"));
  EXPECT_EQ(d->read_symlink("long"), long_target);
}

TEST(Dir, ModesAreExactWhenAsked) {
  TempDir t;
  auto d = open(FileSystem::real(), t.path());
  const mode_t old = ::umask(077);
  auto f = d->open_file("f", OpenMode::kCreate, 0644);
  d->make_dir("sub", 0755);
  ::umask(old);
  EXPECT_EQ(f->info().mode, 0600u);  // the umask applies at creation
  f->set_mode(0755);
  EXPECT_EQ(f->info().mode, 0755u);
  EXPECT_EQ(d->stat("sub")->mode, 0700u);
  auto sub = d->open_dir("sub");
  sub->set_mode(0750);
  EXPECT_EQ(d->stat("sub")->mode, 0750u);
  EXPECT_TRUE(d->accessible());
}

TEST(Dir, ExtendedAttributes) {
  TempDir t;
  auto d = open(FileSystem::real(), t.path());
  auto f = d->open_file("f", OpenMode::kCreate);
  EXPECT_EQ(f->get_xattr("user.strata.none"), std::nullopt);
  f->set_xattr("user.strata.a", "alpha");
  f->set_xattr("user.strata.big", std::string(3000, 'b'));
  EXPECT_EQ(f->get_xattr("user.strata.a"), "alpha");
  EXPECT_EQ(f->get_xattr("user.strata.big"), std::string(3000, 'b'));
  auto names = f->list_xattrs();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"user.strata.a", "user.strata.big"}));
  EXPECT_EQ(code_of([&] { f->set_xattr("nonamespace", "x"); }), ErrorCode::kIoError);
}

TEST(Dir, LockIsExclusiveAcrossHandles) {
  TempDir t;
  auto d = open(FileSystem::real(), t.path());
  auto held = d->lock(".lock");
  std::atomic<bool> got{false};
  std::thread other([&] {
    auto again = open(FileSystem::real(), t.path());
    auto l = again->lock(".lock");
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got.load());  // blocked while held
  held.reset();
  other.join();
  EXPECT_TRUE(got.load());
}

TEST(FaultDir, EveryCallCanFail) {
  TempDir t;
  FaultInjectionFileSystem fi;
  auto d = open(fi, t.path());
  d->make_dir("sub");
  auto f = d->open_file("f", OpenMode::kCreate);
  d->make_symlink("f", "link");
  struct Case {
    FsOp op;
    std::function<void()> call;
  };
  const std::vector<Case> cases = {
      {FsOp::kStat, [&] { d->stat("f"); }},
      {FsOp::kListDir, [&] { d->list(); }},
      {FsOp::kOpenDir, [&] { d->open_dir("sub"); }},
      {FsOp::kMakeDirs, [&] { d->make_dir("new"); }},
      {FsOp::kOpen, [&] { d->open_file("f", OpenMode::kRead); }},
      {FsOp::kRename, [&] { d->rename("f", *d, "g"); }},
      {FsOp::kLink, [&] { d->link("f", *d, "g"); }},
      {FsOp::kRemove, [&] { d->remove_file("f"); }},
      {FsOp::kRemove, [&] { d->remove_dir("sub"); }},
      {FsOp::kSymlink, [&] { d->make_symlink("f", "l2"); }},
      {FsOp::kReadLink, [&] { d->read_symlink("link"); }},
      {FsOp::kResolve, [&] { d->resolve_beneath("link"); }},
      {FsOp::kSyncDir, [&] { d->sync(); }},
      {FsOp::kChmod, [&] { d->set_mode(0755); }},
      {FsOp::kLock, [&] { d->lock(".lock"); }},
      {FsOp::kSyncFilesystem, [&] { d->sync_filesystem(); }},
      {FsOp::kOpenDir, [&] { fi.open_dir(t.path()); }},
      {FsOp::kStat, [&] { f->info(); }},
      {FsOp::kChmod, [&] { f->set_mode(0600); }},
      {FsOp::kSetXattr, [&] { f->set_xattr("user.x", "1"); }},
      {FsOp::kGetXattr, [&] { f->get_xattr("user.x"); }},
      {FsOp::kGetXattr, [&] { f->list_xattrs(); }},
  };
  for (const auto& c : cases) {
    const uint64_t before = fi.count(c.op);
    fi.add_rule(fault(c.op));
    EXPECT_EQ(code_of(c.call), ErrorCode::kIoError) << static_cast<int>(c.op);
    EXPECT_EQ(fi.count(c.op), before + 1) << static_cast<int>(c.op);
    fi.clear_rules();
  }
  // Nothing the failed calls would have done happened.
  EXPECT_EQ(d->list(), (std::vector<std::string>{"f", "link", "sub"}));
  fi.add_rule(fault(FsOp::kAccess));
  EXPECT_FALSE(d->accessible());
  EXPECT_TRUE(d->accessible());
}

TEST(FaultDir, RulesMatchTheFullPathOfTheCall) {
  TempDir t;
  FaultInjectionFileSystem fi;
  auto d = open(fi, t.path());
  d->make_dir("wal");
  auto wal = d->open_dir("wal");
  fi.add_rule(fault(FsOp::kOpen, "wal/HISTORY", 0, -1));
  EXPECT_TRUE(d->open_file("HISTORY", OpenMode::kCreate));  // not under wal/
  EXPECT_EQ(code_of([&] { wal->open_file("HISTORY", OpenMode::kCreate); }), ErrorCode::kIoError);
  // A rename is matched by its destination, as FileSystem::rename is.
  fi.add_rule(fault(FsOp::kRename, "wal/target"));
  wal->open_file("src", OpenMode::kCreate);
  EXPECT_EQ(code_of([&] { wal->rename("src", *wal, "target"); }), ErrorCode::kIoError);
  EXPECT_NO_THROW(wal->rename("src", *wal, "other"));
}

TEST(FaultDir, PowerCutLosesUnsyncedWritesOfDirFiles) {
  TempDir t;
  FaultInjectionFileSystem fi;
  fi.track_unsynced_writes(true);
  auto d = open(fi, t.path());
  auto synced = d->open_file("synced", OpenMode::kCreate);
  synced->pwrite(std::string(4096, 's').data(), 4096, 0);
  synced->sync();
  d->sync();  // its name too, not only its data
  const std::string block(4096, 'u');
  for (int i = 0; i < 16; ++i) {
    auto f = d->open_file("unsynced" + std::to_string(i), OpenMode::kCreate);
    f->pwrite(block.data(), block.size(), 0);
  }
  d->sync();  // their names are durable, their data is not
  EXPECT_EQ(fi.unsynced_blocks(), 16u);
  fi.cut_power();
  EXPECT_EQ(code_of([&] { d->list(); }), ErrorCode::kIoError);
  EXPECT_GT(fi.lose_unsynced_writes(1), 0u);
  EXPECT_EQ(read_file(t / "synced"), std::string(4096, 's'));
}

// syncfs covers every file written before it, through a path or a Dir.
TEST(FaultDir, SyncfsMakesEveryEarlierWriteDurable) {
  TempDir t;
  FaultInjectionFileSystem fi;
  fi.track_unsynced_writes(true);
  auto d = open(fi, t.path());
  const std::string block(4096, 'w');
  for (int i = 0; i < 8; ++i) {
    auto f = d->open_file("f" + std::to_string(i), OpenMode::kCreate);
    f->pwrite(block.data(), block.size(), 0);
  }
  d->sync_filesystem();
  EXPECT_EQ(fi.unsynced_blocks(), 0u);
  auto late = d->open_file("late", OpenMode::kCreate);
  late->pwrite(block.data(), block.size(), 0);
  EXPECT_EQ(fi.unsynced_blocks(), 1u) << "a write after the syncfs is not covered by it";
  fi.sync_filesystem(t.path());
  EXPECT_EQ(fi.unsynced_blocks(), 0u);
  fi.cut_power();
  EXPECT_EQ(fi.lose_unsynced_writes(1), 0u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(read_file(t / ("f" + std::to_string(i))), block);
}

}  // namespace
}  // namespace strata
