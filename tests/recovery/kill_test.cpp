// A real `strata recover` SIGKILLed at each step of its commit and at random
// moments, then run again: the data directory is always either the old one
// or the complete new one, and the rerun always ends with a complete,
// verified result.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "git/git_test_support.h"
#include "recovery/recovery_test_support.h"
#include "strata/git_sync.h"

namespace strata::testing {
namespace {

namespace sfs = std::filesystem;

constexpr const char* kPristineLineage = "0123456789abcdef0123456789abcdef";

class RecoverKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    sfs::create_directories(tmp / "srv");
    git_init_bare(tmp / "srv/remote.git");
    // The pristine data directory: 800 entries, archived to Git at 400,
    // then its WAL lost (the state is still at 800): recovery must come
    // from Git and replace the state.
    sfs::create_directories(pristine);
    write_file(pristine + "/lineage-id", std::string(kPristineLineage) + "\n");
    {
      auto wal = Wal::open(quick_wal(pristine + "/wal"));
      append_workload(*wal, work, 400, 11);
      Materializer(pristine).run(*wal);
      GitSyncConfig c = test_config(pristine, url());
      c.lineage_id = kPristineLineage;
      GitSync git(c);
      git.snapshot(400);
      git.push();
      append_workload(*wal, work, 400, 12);
      Materializer(pristine).run(*wal);
    }
    sfs::remove_all(pristine + "/wal");
    before = data_bytes(pristine);
  }
  std::string url() const { return "file://" + (tmp / "srv/remote.git"); }
  void reset_data() {
    sfs::remove_all(data);
    sfs::copy(pristine, data, sfs::copy_options::recursive);
  }
  // Starts `strata recover --json` on data; returns its pid.
  pid_t start(const std::string& failpoint) {
    const std::string out = tmp / "out.json";
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("DATA_DIR", data.c_str(), 1);
      setenv("GIT_REMOTE", url().c_str(), 1);
      // Killed runs are not failed runs, but a kill at the wrong moment may
      // look like one: loop detection is tested elsewhere.
      setenv("RECOVERY_LOOP_MAX", "1000", 1);
      if (!failpoint.empty()) setenv("STRATA_RECOVERY_FAILPOINT", failpoint.c_str(), 1);
      unsetenv("R2_ENDPOINT");
      if (freopen(out.c_str(), "w", stdout) == nullptr) _exit(126);
      if (freopen((tmp / "err.txt").c_str(), "w", stderr) == nullptr) _exit(126);
      execl(STRATA_BINARY, STRATA_BINARY, "recover", "--json", static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  }
  // -1: killed by a signal.
  static int wait_for(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Before the commit record is written, the data directory is the old one
  // (staging aside); after it, the rerun finishes the moves it lists. (The
  // old directory has no WAL: one in place was moved there by a commit.)
  void expect_old_unless_committed() {
    if (sfs::exists(data + "/.recovery/COMMIT") || sfs::exists(data + "/wal")) return;
    auto now = data_bytes(data);
    for (auto it = now.begin(); it != now.end();)
      it = it->first.starts_with(".recovery") ? now.erase(it) : std::next(it);
    auto old = before;
    for (auto it = old.begin(); it != old.end();)
      it = it->first.starts_with(".recovery") ? old.erase(it) : std::next(it);
    EXPECT_EQ(now, old) << "the data directory changed before the commit record";
  }
  // Runs recover to its end and checks the complete result.
  void expect_rerun_complete() {
    ASSERT_EQ(wait_for(start("")), 0) << read_file(tmp / "err.txt");
    const auto j = nlohmann::json::parse(read_file(tmp / "out.json"));
    EXPECT_EQ(j.at("seq_reached"), 400u) << j.dump();
    // A kill after the commit leaves the restored directory (a log of no
    // entries at 400, state/ at 400): the rerun continues it in place, with
    // nothing to restore or verify (the state is checked below). Otherwise
    // it restores from Git, verified.
    if (j.at("source") == "local")
      EXPECT_EQ(j.at("entries_restored"), 0u) << j.dump();
    else
      EXPECT_TRUE(j.at("verified").get<bool>()) << j.dump();
    EXPECT_EQ(state_files(data + "/state"), work.state_at(400));
    EXPECT_TRUE(Wal::verify(data + "/wal").ok);
    EXPECT_EQ(Materializer(data).applied_seq(), 400u);
    EXPECT_FALSE(sfs::exists(data + "/.recovery/staging"));
    auto wal = Wal::open(quick_wal(data + "/wal"));
    EXPECT_EQ(wal->status().head_seq, 400u);
  }

  TempDir tmp;
  std::string pristine = tmp / "pristine";
  std::string data = tmp / "data";
  Workload work;
  std::map<std::string, std::string> before;
};

TEST_F(RecoverKillTest, KilledAtEachStepOfTheCommitTheRerunCompletesIt) {
  for (const char* fp : {"staged", "committed", "moved-wal", "moved-state"}) {
    SCOPED_TRACE(fp);
    reset_data();
    EXPECT_EQ(wait_for(start(fp)), -1) << "the failpoint " << fp << " was not reached";
    expect_rerun_complete();
  }
}

TEST_F(RecoverKillTest, KilledAtRandomMomentsTheRerunAlwaysEndsComplete) {
  // How long a whole run takes here, to spread the kills over it.
  reset_data();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(wait_for(start("")), 0) << read_file(tmp / "err.txt");
  const auto whole =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  std::mt19937 rng(12);
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE(round);
    reset_data();
    const pid_t pid = start("");
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (whole.count() + 1)));
    kill(pid, SIGKILL);
    wait_for(pid);
    expect_old_unless_committed();
    expect_rerun_complete();
  }
}

}  // namespace
}  // namespace strata::testing
