// A tier whose remote dies: its breaker opens while appends go on, and the
// backlog ships once the remote is back. (The Git tier against a real `git
// daemon` that the test stops and starts again on the same port.)
#include <algorithm>
#include <cstdint>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "server/daemon_process.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::DaemonProcess;
using testing::entry_body;
using testing::eventually;
using testing::get;
using testing::post;
using testing::TempDir;
using testing::tier;

TEST(Tiers, ADeadGitRemoteOpensItsBreakerWhileAppendsGoOnAndTheBacklogShipsAfter) {
  TempDir tmp;
  testing::isolate_git_env(tmp / "githome");
  const std::string served = tmp / "served";
  testing::git_init_bare(served + "/archive.git");
  auto git = std::make_unique<testing::GitDaemon>(served);
  const int git_port = git->port();
  DaemonProcess d(tmp.path(), {{"GIT_REMOTE", git->url("archive.git")},
                               {"GIT_SYNC_INTERVAL_MS", "200"},
                               {"GIT_TIMEOUT_MS", "3000"},
                               {"STRATA_BREAKER_FAILURES", "3"},
                               {"STRATA_BREAKER_RESET_MS", "1500"}});
  d.start();
  auto c = d.client();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(post(*c, "/v1/entries", entry_body(fmt::format("before/{}", i), "x")).status, 200);
  }
  ASSERT_TRUE(eventually([&] { return tier(*c, "git")["confirmed_seq"] == 5; }))
      << tier(*c, "git").dump() << d.log();
  EXPECT_EQ(tier(*c, "git")["stand_in"], false);
  // The Git tier's confirmation is the WAL's persisted mark "git" (the
  // retention floor compaction and pruning respect).
  ASSERT_TRUE(eventually([&] {
    auto wal = get(*c, "/v1/status").json()["wal"];
    for (const auto& m : wal["tiers"]) {
      if (m["tier"] == "git") return m["confirmed_seq"] == 5 && m["registered"] == true;
    }
    return false;
  })) << get(*c, "/v1/status").body;
  {
    // The floor is the lowest mark of the tiers holding a copy (the object
    // tier's stand-in too, which may not have synced yet).
    const auto wal = get(*c, "/v1/status").json()["wal"];
    uint64_t floor = UINT64_MAX;
    for (const auto& m : wal["tiers"]) floor = std::min(floor, m["confirmed_seq"].get<uint64_t>());
    EXPECT_EQ(wal["retention_floor"], floor) << wal.dump();
    EXPECT_LE(floor, 5u);
  }

  git->stop();
  uint64_t appended = 5;
  // Appends are not held up while the Git tier fails and its breaker opens.
  ASSERT_TRUE(eventually([&] {
    EXPECT_EQ(post(*c, "/v1/entries", entry_body(fmt::format("during/{}", appended), "y")).status,
              200);
    appended++;
    return tier(*c, "git")["breaker"] != "closed";
  })) << tier(*c, "git").dump();
  auto t = tier(*c, "git");
  EXPECT_GE(t["failures"].get<int>(), 3) << t.dump();
  EXPECT_FALSE(t["last_error"].get<std::string>().empty());
  EXPECT_EQ(t["confirmed_seq"], 5);
  EXPECT_EQ(t["lag_entries"], appended - 5);
  auto ready = get(*c, "/readyz");
  EXPECT_EQ(ready.status, 200) << "a dead remote made the daemon unready: " << ready.body;
  auto metrics = get(*c, "/metrics").body;
  EXPECT_NE(metrics.find("strata_tier_breaker_state{tier=\"git\"} 2"), std::string::npos)
      << "breaker not shown as open in /metrics";

  git = std::make_unique<testing::GitDaemon>(served, git_port);
  ASSERT_EQ(git->port(), git_port);
  ASSERT_TRUE(eventually([&] {
    auto now = tier(*c, "git");
    return now["breaker"] == "closed" && now["confirmed_seq"] == appended;
  })) << tier(*c, "git").dump();
  // The remote really holds the backlog.
  const std::string files =
      testing::git(fmt::format("--git-dir={} ls-tree -r --name-only finn/archive",
                               testing::sh_quote(served + "/archive.git"))) +
      "\n";
  for (uint64_t i = 5; i < appended; ++i) {
    EXPECT_NE(files.find(fmt::format("state/during/{}\n", i)), std::string::npos) << i;
  }
}

}  // namespace
}  // namespace strata
