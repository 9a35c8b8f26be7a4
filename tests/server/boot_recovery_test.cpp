// Recovery at boot: `strata serve` runs the recovery cascade (RECOVERY_MODE)
// before it opens the WAL, against a real s3rver and a real `git daemon`: a
// data directory that is gone comes back from the object store or the Git
// archive before the first request; a strict boot with a configured tier down
// refuses to start with one line and changes nothing, until loop detection
// stops retrying.
#include <signal.h>

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "git/git_test_support.h"
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

// Creates, updates and deletes: n entries in all. Returns what state/ holds
// afterwards (path -> data).
std::map<std::string, std::string> append_history(httplib::Client& c, int n) {
  std::map<std::string, std::string> state;
  for (int i = 0; i < n; ++i) {
    const std::string path = fmt::format("beads/{}", i % 7);
    std::string op = state.count(path) ? "update" : "create";
    if (i % 5 == 4 && state.count(path)) op = "delete";
    const std::string data = fmt::format("value {} of {}", i, path);
    const auto r = post(c, "/v1/entries", entry_body(path, data, op));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["seq"], i + 1) << r.body;
    if (op == "delete") {
      state.erase(path);
    } else {
      state[path] = data;
    }
  }
  return state;
}

// The whole state reads back over HTTP, and the paths not in it are 404.
void expect_state(httplib::Client& c, const std::map<std::string, std::string>& state) {
  for (int i = 0; i < 7; ++i) {
    const std::string path = fmt::format("beads/{}", i);
    const auto r = get(c, "/v1/state/" + path);
    auto it = state.find(path);
    if (it == state.end()) {
      EXPECT_EQ(r.status, 404) << path << ": " << r.body;
    } else {
      ASSERT_EQ(r.status, 200) << path << ": " << r.body;
      EXPECT_EQ(r.json()["data"], it->second) << path;
    }
  }
}

void stop(DaemonProcess& d) {
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0) << d.log();
}

TEST(BootRecovery, ADeletedDataDirectoryComesBackFromTheObjectStoreBeforeTheFirstRequest) {
  TempDir tmp;
  auto s3 = start_s3rver(tmp / "s3rver", 0);
  DaemonProcess d(tmp.path(), s3_env(s3->port()));
  d.start();
  auto c = d.client();
  const int n = 40;
  const auto state = append_history(*c, n);
  ASSERT_TRUE(eventually([&] { return tier(*c, "object")["confirmed_seq"] == n; }))
      << tier(*c, "object").dump() << d.log();
  const auto sync_before = tier(*c, "object")["sync"];
  stop(d);

  std::filesystem::remove_all(d.data_dir());
  d.start();
  c = d.client();
  const auto rec = get(*c, "/v1/status").json()["recovery"];
  EXPECT_EQ(rec["source"], "r2") << rec.dump(2);
  EXPECT_EQ(rec["state"], "RUNNING") << rec.dump(2);
  EXPECT_EQ(rec["mode"], "degraded") << rec.dump(2);
  EXPECT_EQ(rec["seq_reached"], n) << rec.dump(2);
  EXPECT_EQ(rec["verified"], true) << rec.dump(2);
  EXPECT_EQ(rec["lineage_id"], sync_before["lineage_id"]) << rec.dump(2);
  EXPECT_NE(d.log().find("recovery: RUNNING from r2"), std::string::npos) << d.log();
  EXPECT_EQ(get(*c, "/v1/status").json()["wal"]["head_seq"], n);
  expect_state(*c, state);
  const auto last = get(*c, fmt::format("/v1/entries/{}", n));
  ASSERT_EQ(last.status, 200) << last.body;

  // The log continues at the next seq, and the next sync continues the same
  // manifest (same lineage, the next version).
  const auto next = post(*c, "/v1/entries", entry_body("beads/next", "after"));
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.json()["seq"], n + 1);
  ASSERT_TRUE(eventually([&] { return tier(*c, "object")["confirmed_seq"] == n + 1; }))
      << tier(*c, "object").dump() << d.log();
  const auto sync_after = tier(*c, "object")["sync"];
  EXPECT_EQ(sync_after["lineage_id"], sync_before["lineage_id"]);
  EXPECT_GT(sync_after["manifest_version"].get<uint64_t>(),
            sync_before["manifest_version"].get<uint64_t>());
}

TEST(BootRecovery, ADeletedDataDirectoryComesBackFromTheGitArchive) {
  TempDir tmp;
  testing::isolate_git_env(tmp / "githome");
  const std::string served = tmp / "served";
  testing::git_init_bare(served + "/archive.git");
  testing::GitDaemon git(served);
  // No R2_ENDPOINT: the object tier's stand-in is inside DATA_DIR and goes
  // with it, so the Git archive is what is left.
  DaemonProcess d(tmp.path(), {{"GIT_REMOTE", git.url("archive.git")},
                               {"GIT_SYNC_INTERVAL_MS", "200"},
                               {"GIT_TIMEOUT_MS", "10000"}});
  d.start();
  auto c = d.client();
  const int n = 25;
  const auto state = append_history(*c, n);
  ASSERT_TRUE(eventually([&] { return tier(*c, "git")["confirmed_seq"] == n; }))
      << tier(*c, "git").dump() << d.log();
  stop(d);

  std::filesystem::remove_all(d.data_dir());
  d.start();
  c = d.client();
  const auto rec = get(*c, "/v1/status").json()["recovery"];
  EXPECT_EQ(rec["source"], "git") << rec.dump(2);
  EXPECT_EQ(rec["state"], "RUNNING") << rec.dump(2);
  EXPECT_EQ(rec["seq_reached"], n) << rec.dump(2);
  EXPECT_GE(rec["files_restored"].get<int>(), 1) << rec.dump(2);
  expect_state(*c, state);
  const auto next = post(*c, "/v1/entries", entry_body("beads/next", "after"));
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.json()["seq"], n + 1);
}

// A daemon restarted before anything was written to it (a service started
// and stopped, a host rebooted) continues its WAL and its lineage. It used
// to count as no data: every restart set the empty WAL aside under
// .recovery/replaced-<ms>/ (never cleaned) and made a new lineage, so the
// remotes saw a new history at each boot.
TEST(BootRecovery, AnIdleRestartKeepsTheWalAndTheLineage) {
  TempDir tmp;
  DaemonProcess d(tmp.path(), {{"GIT_SYNC_INTERVAL_MS", "3600000"}});
  auto lineage_of = [&] { return testing::read_file(d.data_dir() + "/lineage-id"); };
  auto wal_files = [&] {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(d.data_dir() + "/wal"))
      out.insert(e.path().filename());
    return out;
  };
  d.start();
  stop(d);
  const std::string lineage = lineage_of();
  const auto wal = wal_files();
  ASSERT_FALSE(lineage.empty());
  for (int restart = 0; restart < 2; ++restart) {
    d.start();
    auto status = get(*d.client(), "/v1/status").json();
    EXPECT_EQ(status["recovery"]["source"], "local") << status["recovery"].dump(2);
    EXPECT_EQ(status["recovery"]["new_lineage"], false) << status["recovery"].dump(2);
    stop(d);
    EXPECT_EQ(lineage_of(), lineage) << "restart " << restart;
    EXPECT_EQ(wal_files(), wal) << "restart " << restart;
    EXPECT_FALSE(std::filesystem::exists(d.data_dir() + "/.recovery") &&
                 !std::filesystem::is_empty(d.data_dir() + "/.recovery"))
        << "restart " << restart << " set something aside";
  }
  // And it is the same log: the first entry gets seq 1.
  d.start();
  auto r = post(*d.client(), "/v1/entries", entry_body("first", "x"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["seq"], 1);
  stop(d);
}

TEST(BootRecovery, StrictWithTheObjectStoreDownRefusesToStartUntouchedThenDetectsTheLoop) {
  TempDir tmp;
  const std::string s3dir = tmp / "s3rver";
  auto s3 = start_s3rver(s3dir, 0);
  const int port = s3->port();
  auto env = s3_env(port);
  {
    DaemonProcess d(tmp.path(), env);
    d.start();
    auto c = d.client();
    append_history(*c, 10);
    ASSERT_TRUE(eventually([&] { return tier(*c, "object")["confirmed_seq"] == 10; }))
        << tier(*c, "object").dump() << d.log();
    stop(d);
  }
  s3->kill_now();
  s3.reset();

  env["RECOVERY_MODE"] = "strict";
  env["RECOVERY_PROBE_TIMEOUT_MS"] = "500";
  env["RECOVERY_LOOP_MAX"] = "2";
  DaemonProcess d(tmp.path(), env);
  // Every entry as `strata replay` reads it (opening the WAL may re-extend
  // the active segment's preallocation, so not its bytes), and state/.
  auto replay = [&] {
    std::string out;
    EXPECT_EQ(testing::run_strata({"--data-dir", d.data_dir(), "replay"}, d.env(), &out), 0);
    return out;
  };
  const std::string wal_before = replay();
  const auto state_before = testing::read_tree(d.data_dir() + "/state");
  ASSERT_FALSE(wal_before.empty());
  auto boot_errors = [&] {
    const std::string log = d.log();
    std::vector<std::string> lines;
    size_t at = 0;
    while ((at = log.find("boot failed at recovery", at)) != std::string::npos) {
      lines.push_back(log.substr(at, log.find('\n', at) - at));
      at++;
    }
    return lines;
  };
  for (int run = 0; run < 2; ++run) {
    ASSERT_EQ(d.run_to_exit(), 3) << d.log();
    const auto lines = boot_errors();
    ASSERT_EQ(lines.size(), 1u) << d.log();
    EXPECT_NE(lines[0].find("RECOVERY_FAILED: RECOVERY_MODE strict: strict: r2"), std::string::npos)
        << lines[0];
    EXPECT_EQ(replay(), wal_before) << "run " << run;
    EXPECT_EQ(testing::read_tree(d.data_dir() + "/state"), state_before) << "run " << run;
  }
  // RECOVERY_LOOP_MAX failures in the window: not attempted again, even with
  // the store back, until an operator resets the loop.
  s3 = start_s3rver(s3dir, port);
  ASSERT_EQ(d.run_to_exit(), 3) << d.log();
  const auto lines = boot_errors();
  ASSERT_EQ(lines.size(), 1u) << d.log();
  EXPECT_NE(lines[0].find("RECOVERY_LOOP_DETECTED"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("strata recover --reset-loop"), std::string::npos) << lines[0];
  EXPECT_EQ(replay(), wal_before);

  std::string out, err;
  ASSERT_EQ(
      testing::run_strata({"--data-dir", d.data_dir(), "recover", "--reset-loop", "--dry-run"},
                          d.env(), &out, &err),
      0)
      << out << err;
  d.start();
  auto c = d.client();
  const auto rec = get(*c, "/v1/status").json()["recovery"];
  EXPECT_EQ(rec["source"], "local") << rec.dump(2);
  EXPECT_EQ(rec["mode"], "strict") << rec.dump(2);
  EXPECT_EQ(rec["state"], "RUNNING") << rec.dump(2);
  EXPECT_EQ(get(*c, "/v1/status").json()["wal"]["head_seq"], 10);
}

}  // namespace
}  // namespace strata
