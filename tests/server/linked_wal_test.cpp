// The operator's own layout through symlinks: DATA_DIR/wal linked to a
// directory on another disk (as PostgreSQL's pg_wal may be), and DATA_DIR
// itself reached through a link. The daemon and the commands use the log
// where the link leads; none of them takes a link for a missing WAL, which
// once made the boot start an empty log and replace the link with it.
#include <filesystem>
#include <string>
#include <vector>

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

TEST(LinkedWal, AWalLinkedToAnotherDiskIsUsedInPlaceByTheDaemonAndTheCommands) {
  TempDir tmp;
  const testing::Env quiet{{"SYNC_INTERVAL_MS", "3600000"}, {"GIT_SYNC_INTERVAL_MS", "3600000"}};
  std::string lineage;
  {
    DaemonProcess d(tmp / "run", quiet);
    d.start();
    auto c = d.client();
    for (int i = 1; i <= 5; ++i) {
      auto r =
          post(*c, "/v1/entries", entry_body(fmt::format("beads/{}", i), fmt::format("v{}", i)));
      ASSERT_EQ(r.status, 200) << r.body;
    }
    lineage = testing::tier(*c, "object")["sync"]["lineage_id"].dump();
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(), 0) << d.log();
  }
  // The WAL moves to "another disk" and a link takes its place.
  const std::string data = tmp / "run/data";
  const std::string moved = tmp / "otherdisk/wal";
  fs::create_directories(tmp / "otherdisk");
  fs::rename(data + "/wal", moved);
  fs::create_directory_symlink(moved, data + "/wal");

  {
    DaemonProcess d(tmp / "run", quiet);
    d.start();
    auto c = d.client();
    auto r = get(*c, "/v1/entries/5");
    ASSERT_EQ(r.status, 200) << r.body << d.log();
    EXPECT_EQ(r.json()["data"], "v5");
    EXPECT_EQ(testing::tier(*c, "object")["sync"]["lineage_id"].dump(), lineage)
        << "the boot started a new lineage: " << d.log();
    r = post(*c, "/v1/entries", entry_body("beads/6", "v6"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["seq"], 6);
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(), 0) << d.log();
  }
  EXPECT_TRUE(fs::is_symlink(data + "/wal")) << "the link was replaced";

  // The commands, through the WAL's link and through a link to DATA_DIR.
  fs::create_directory_symlink(data, tmp / "data-link");
  for (const std::string& dir : {data, std::string(tmp / "data-link")}) {
    testing::expect_read_commands_work(tmp / "run/home", dir, 6, "v6");
  }
}

}  // namespace
}  // namespace strata
