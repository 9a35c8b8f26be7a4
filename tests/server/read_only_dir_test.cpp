// A data directory on a file system mounted read-only (a backup mounted for
// inspection, or a disk the kernel remounted read-only after errors): the
// daemon refuses to start, naming the cause, and writes nothing; the
// read-only commands read it as it is; remounted read-write, it serves
// everything it had. The file system is a real tmpfs mounted by the test
// (it needs CAP_SYS_ADMIN, and skips without it).
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/daemon_process.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using testing::DaemonProcess;
using testing::entry_body;
using testing::get;
using testing::post;
using testing::TempDir;

// Every path under root with its size and modification time.
std::string read_only_tree_listing(const std::string& root) {
  std::string out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    ::lstat(e.path().c_str(), &st);
    out += fmt::format("{} {} {}.{}\n", e.path().string(), st.st_size, st.st_mtim.tv_sec,
                       st.st_mtim.tv_nsec);
  }
  return out;
}

class ReadOnlyDataDir : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = tmp_ / "mnt";
    fs::create_directories(mnt_);
    if (::mount("strata-test", mnt_.c_str(), "tmpfs", 0, "size=64m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno)
                   << "): this test needs CAP_SYS_ADMIN";
    }
    mounted_ = true;
    // The daemon's logs and HOME stay outside; its data directory is in the
    // mount, reached through a symlink (DaemonProcess puts it at run/data).
    fs::create_directories(tmp_ / "run");
    fs::create_directories(mnt_ + "/data");
    fs::create_symlink(mnt_ + "/data", tmp_ / "run/data");
  }
  void TearDown() override {
    if (mounted_) ::umount2(mnt_.c_str(), MNT_DETACH);
  }
  void remount(bool read_only) {
    ASSERT_EQ(::mount("strata-test", mnt_.c_str(), "tmpfs",
                      MS_REMOUNT | (read_only ? MS_RDONLY : 0), "size=64m"),
              0)
        << std::strerror(errno);
  }
  TempDir tmp_;
  std::string mnt_;
  bool mounted_ = false;
};

TEST_F(ReadOnlyDataDir, TheDaemonRefusesToStartNamingItAndTheReadOnlyCommandsReadIt) {
  const testing::Env quiet{{"SYNC_INTERVAL_MS", "3600000"}, {"GIT_SYNC_INTERVAL_MS", "3600000"}};
  {
    DaemonProcess d(tmp_ / "run", quiet);
    d.start();
    auto c = d.client();
    for (int i = 1; i <= 5; ++i) {
      ASSERT_EQ(
          post(*c, "/v1/entries", entry_body(fmt::format("beads/{}", i), fmt::format("v{}", i)))
              .status,
          200);
    }
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(), 0) << d.log();
  }
  remount(true);
  const std::string before = read_only_tree_listing(mnt_);
  {
    DaemonProcess d(tmp_ / "run", quiet);
    EXPECT_EQ(d.run_to_exit(), 3) << d.log();
    EXPECT_NE(d.log().find("is on a read-only file system"), std::string::npos) << d.log();
    EXPECT_NE(d.log().find("boot failed at self-check"), std::string::npos) << d.log();
    EXPECT_EQ(d.log().find("RECOVERY_FAILED"), std::string::npos)
        << "refused before recovery tried to write: " << d.log();
  }
  EXPECT_EQ(read_only_tree_listing(mnt_), before);

  // The read-only commands need no write.
  testing::expect_read_commands_work(tmp_ / "run/home", tmp_ / "run/data", 3, "v3");

  // Read-write again: everything is there and appends go on.
  remount(false);
  DaemonProcess d(tmp_ / "run", quiet);
  d.start();
  auto c = d.client();
  auto r = get(*c, "/v1/entries/5");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"], "v5");
  r = post(*c, "/v1/entries", entry_body("beads/6", "v6"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["seq"], 6);
}

}  // namespace
}  // namespace strata
