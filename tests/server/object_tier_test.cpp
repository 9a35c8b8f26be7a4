// The object-store tier in the daemon against a real s3rver: appends with
// ?durability=remote answer once the store has confirmed them; a stopped
// s3rver opens the object tier's breaker while appends and Git archiving go
// on, and when it returns (same port, same data) the backlog ships.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/daemon_process.h"
#include "storage/servers.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::DaemonProcess;
using testing::entry_body;
using testing::eventually;
using testing::get;
using testing::post;
using testing::s3_env;
using testing::start_s3rver;
using testing::TempDir;
using testing::tier;

TEST(ObjectTier, RemoteDurabilityAnswersOnceTheStoreConfirmed) {
  TempDir tmp;
  auto s3 = start_s3rver(tmp / "s3rver", 0);
  auto env = s3_env(s3->port());
  env["SYNC_INTERVAL_MS"] = "3600000";  // only the request makes it ship
  DaemonProcess d(tmp.path(), env);
  d.start();
  auto c = d.client();
  auto t = tier(*c, "object");
  EXPECT_EQ(t["holds_log"], true) << t.dump();
  EXPECT_EQ(t["stand_in"], false) << t.dump();
  auto r = post(*c, "/v1/entries?durability=remote", entry_body("sessions/a", "v1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["seq"], 1);
  // Confirmed by the store, so the WAL's mark "object" holds it.
  EXPECT_TRUE(eventually([&] {
    const auto status = get(*c, "/v1/status").json();
    for (const auto& m : status["wal"]["tiers"]) {
      if (m["tier"] == "object") return m["confirmed_seq"] == 1;
    }
    return false;
  })) << get(*c, "/v1/status").body;
  EXPECT_EQ(d.log().find(testing::kSecretKey), std::string::npos) << "secret in the log";
  EXPECT_EQ(get(*c, "/v1/status").body.find(testing::kSecretKey), std::string::npos);
  auto snap = post(*c, "/v1/snapshot", "");
  ASSERT_EQ(snap.status, 200) << snap.body;
  EXPECT_EQ(snap.json()["result"]["snapshot"]["seq"], 1) << snap.body;
}

TEST(ObjectTier, AStoppedS3rverOpensTheBreakerWhileAppendsAndGitGoOnAndTheBacklogShipsAfter) {
  TempDir tmp;
  const std::string s3dir = tmp / "s3rver";
  auto s3 = start_s3rver(s3dir, 0);
  const int port = s3->port();
  DaemonProcess d(tmp.path(), s3_env(port));
  d.start();
  auto c = d.client();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(post(*c, "/v1/entries", entry_body(fmt::format("before/{}", i), "x")).status, 200);
  }
  ASSERT_TRUE(eventually([&] { return tier(*c, "object")["confirmed_seq"] == 5; }))
      << tier(*c, "object").dump() << d.log();

  s3->kill_now();
  s3.reset();
  uint64_t appended = 5;
  ASSERT_TRUE(eventually([&] {
    EXPECT_EQ(post(*c, "/v1/entries", entry_body(fmt::format("during/{}", appended), "y")).status,
              200);
    appended++;
    return tier(*c, "object")["breaker"] != "closed";
  })) << tier(*c, "object").dump();
  auto t = tier(*c, "object");
  EXPECT_GE(t["failures"].get<int>(), 3) << t.dump();
  EXPECT_FALSE(t["last_error"].get<std::string>().empty());
  EXPECT_EQ(t["confirmed_seq"], 5);
  EXPECT_EQ(t["lag_entries"], appended - 5);
  EXPECT_EQ(get(*c, "/readyz").status, 200) << "a dead store made the daemon unready";
  EXPECT_NE(get(*c, "/metrics").body.find("strata_tier_breaker_state{tier=\"object\"} 2"),
            std::string::npos);
  // Git archiving goes on meanwhile.
  ASSERT_TRUE(eventually([&] { return tier(*c, "git")["confirmed_seq"] == appended; }))
      << tier(*c, "git").dump();

  s3 = start_s3rver(s3dir, port);
  ASSERT_EQ(s3->port(), port);
  ASSERT_TRUE(eventually([&] {
    auto now = tier(*c, "object");
    return now["breaker"] == "closed" && now["confirmed_seq"] == appended;
  })) << tier(*c, "object").dump();
  EXPECT_EQ(d.log().find(testing::kSecretKey), std::string::npos) << "secret in the log";
}

}  // namespace
}  // namespace strata
