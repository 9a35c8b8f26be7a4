// Regression tests for the WAL-side defects of issue #10 as a user meets
// them on the command line (Issue10Cli.Defect<N>...), against the real
// `strata` binary, a real file system and a real bare Git repository.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::read_file;
using testing::shell_quote;
using testing::TempDir;

class Issue10Cli : public ::testing::Test {
 protected:
  // Runs `strata --data-dir <data> <args>` with `env` after the defaults.
  int run(const std::string& args, std::string* out = nullptr, const std::string& env = "",
          const std::string& in = "") {
    testing::write_file(tmp_ / "stdin", in);
    const std::string cmd = fmt::format(
        "cd {} && env -u DATA_DIR -u GIT_REMOTE -u R2_ENDPOINT WAL_MIN_FREE_BYTES=0 "
        "WAL_RESUME_FREE_BYTES=0 {} {} --data-dir {} {} <{} 2>{}",
        shell_quote(tmp_.path()), env, STRATA_BINARY, shell_quote(data_), args,
        shell_quote(tmp_ / "stdin"), shell_quote(tmp_ / "stderr"));
    std::string o;
    int rc = testing::run_command(cmd, &o);
    err_ = read_file(tmp_ / "stderr");
    if (out) *out = o;
    return rc;
  }
  uint64_t append(const std::string& path, const std::string& data, const std::string& env = "") {
    std::string out;
    EXPECT_EQ(run(fmt::format("append --type bead --op update --path {} --data {}",
                              shell_quote(path), shell_quote(data)),
                  &out, env),
              0)
        << err_;
    return out.empty() ? 0 : std::stoull(out);
  }
  // n entries in one process, paths p<i % paths>.
  void append_many(int n, int paths, const std::string& env) {
    std::string in;
    for (int i = 0; i < n; ++i) {
      in +=
          fmt::format("{{\"type\":\"bead\",\"op\":\"update\",\"path\":\"p{}\",\"data\":\"{}\"}}\n",
                      i % paths, std::string(100, 'a' + i % 26));
    }
    ASSERT_EQ(run("append --jsonl", nullptr, env, in), 0) << err_;
  }
  std::vector<nlohmann::json> replay() {
    std::string out;
    EXPECT_EQ(run("replay", &out), 0) << err_;
    std::vector<nlohmann::json> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }
  nlohmann::json snapshot() {
    std::string out;
    EXPECT_EQ(run("snapshot", &out), 0) << err_;
    return nlohmann::json::parse(out);
  }
  std::string wal_dir() const { return data_ + "/wal"; }
  // Environment for the Git tier: a bare repository as the remote, git
  // configuration isolated from the machine's.
  std::string git_env() {
    const std::string remote = tmp_ / "remote.git";
    if (!std::filesystem::exists(remote)) {
      std::string o;
      EXPECT_EQ(testing::run_command("git init -q --bare " + shell_quote(remote), &o), 0) << o;
    }
    std::filesystem::create_directories(tmp_ / "home");
    return fmt::format(
        "HOME={} XDG_CONFIG_HOME={}/.config GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 "
        "GIT_REMOTE={}",
        shell_quote(tmp_ / "home"), shell_quote(tmp_ / "home"), shell_quote("file://" + remote));
  }
  TempDir tmp_;
  std::string data_ = tmp_ / "data";
  std::string err_;
};

// ---- defect 15: archive records the Git tier's confirmation in the WAL

TEST_F(Issue10Cli, Defect15ArchiveConfirmsGitSoCompactWithoutForceDrops) {
  const std::string small = "WAL_SEGMENT_BYTES=4096";
  append_many(150, 5, small);
  ASSERT_GE(snapshot()["sealed"].size(), 2u);
  ASSERT_EQ(run("materialize"), 0) << err_;
  std::string out;
  ASSERT_EQ(run("compact", &out), 0) << err_;
  EXPECT_NE(out.find("dropped 0 entries"), std::string::npos) << out;

  ASSERT_EQ(run("archive --json", &out, git_env()), 0) << err_ << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["push"]["confirmed_seq"], 150);
  EXPECT_EQ(j["push"]["wal_git_mark"], 150);
  auto marks = Wal::read_tier_marks(wal_dir());
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].tier, "git");
  EXPECT_EQ(marks[0].seq, 150u);

  // compact without --force now drops what Git holds, and nothing is lost
  // from the state: the latest entry of every path stays.
  ASSERT_EQ(run("compact", &out), 0) << err_;
  EXPECT_EQ(out.find("dropped 0 entries"), std::string::npos) << out;
  EXPECT_NE(out.find("up to seq 150"), std::string::npos) << out;
  auto entries = replay();
  EXPECT_LT(entries.size(), 150u);
  for (int p = 0; p < 5; ++p) {
    const int last = 145 + p;  // the last i with i % 5 == p, seq i + 1
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const nlohmann::json& e) { return e["seq"] == last + 1; });
    EXPECT_NE(it, entries.end()) << "latest entry of p" << p << " was dropped";
  }
}

TEST_F(Issue10Cli, Defect15ArchiveWithoutAWalCreatesNone) {
  std::filesystem::create_directories(data_ + "/state");
  testing::write_file(data_ + "/state/a.txt", "alpha");
  testing::write_file(data_ + "/state.seq", "7\n");
  std::string out;
  ASSERT_EQ(run("archive --json", &out, git_env()), 0) << err_ << out;
  EXPECT_EQ(nlohmann::json::parse(out)["push"]["wal_git_mark"], nullptr);
  EXPECT_FALSE(std::filesystem::exists(wal_dir()));
}

TEST_F(Issue10Cli, Defect15PressureAdviceNamesACommandThatWorks) {
  const std::string env = "WAL_SEGMENT_BYTES=4096 WAL_WARN_BYTES=12000 WAL_MAX_BYTES=16000";
  std::string message;
  for (int i = 0; i < 400 && message.empty(); ++i) {
    if (run(fmt::format("append --type bead --op update --path p{} --data {}", i % 3,
                        std::string(200, 'x')),
            nullptr, env) != 0) {
      message = err_;
    }
  }
  ASSERT_NE(message.find("DISK_PRESSURE_CRITICAL"), std::string::npos) << message;
  // The first command in backquotes, run as the message says.
  const size_t a = message.find('`');
  const size_t b = message.find('`', a + 1);
  ASSERT_NE(b, std::string::npos) << message;
  std::string command = message.substr(a + 1, b - a - 1);
  ASSERT_TRUE(command.starts_with("strata ")) << command;
  command = std::string(STRATA_BINARY) + command.substr(6);
  std::string o;
  ASSERT_EQ(
      testing::run_command(
          fmt::format("env WAL_MIN_FREE_BYTES=0 WAL_RESUME_FREE_BYTES=0 {} {}", env, command), &o),
      0)
      << command << ": " << o;
  // ... and it helped: the next append is accepted.
  EXPECT_GT(append("p0", "after", env), 0u) << err_;
}

// ---- defect 8: strata repair

TEST_F(Issue10Cli, Defect8RepairDropsTheCorruptRecordKeepsTheFileAndSaysWhat) {
  for (int i = 0; i < 5; ++i) append(fmt::format("p{}", i), std::string(50, 'x'));
  const std::string seg = testing::segment_path(wal_dir(), 1);
  const uint64_t second = 32 + 28 + 2 + 50;  // header + first record ("p0", 50 bytes)
  const uint64_t record = 28 + 2 + 50;
  testing::flip_byte(seg, second + 40);

  EXPECT_NE(run("append --type bead --op update --path q --data y"), 0);
  EXPECT_NE(err_.find("WAL_CORRUPT"), std::string::npos) << err_;
  EXPECT_NE(err_.find("strata repair"), std::string::npos) << err_;

  const auto before = testing::dir_bytes(wal_dir());
  std::string out;
  ASSERT_EQ(run("repair --dry-run --json", &out), 0) << err_;
  auto dry = nlohmann::json::parse(out);
  EXPECT_EQ(dry["dry_run"], true);
  ASSERT_EQ(dry["dropped"].size(), 1u) << out;
  EXPECT_EQ(dry["dropped"][0]["file"], seg);
  EXPECT_EQ(dry["dropped"][0]["offset"], second);
  EXPECT_EQ(dry["dropped"][0]["bytes"], record);
  EXPECT_EQ(dry["dropped"][0]["seqs"], nlohmann::json::array({2, 2}));
  EXPECT_EQ(testing::dir_bytes(wal_dir()), before) << "--dry-run changed the WAL";

  ASSERT_EQ(run("repair --json", &out), 0) << err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["dropped"], dry["dropped"]);
  EXPECT_EQ(j["head_seq"], 5);
  ASSERT_TRUE(j["damaged_copy"].is_string()) << out;
  EXPECT_EQ(read_file(j["damaged_copy"].get<std::string>()),
            before.at(seg.substr(wal_dir().size() + 1)));
  std::vector<uint64_t> seqs;
  for (const auto& e : replay()) seqs.push_back(e["seq"]);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 3, 4, 5}));
  EXPECT_EQ(run("verify"), 0) << err_;
  EXPECT_EQ(append("q", "y"), 6u);
  ASSERT_EQ(run("repair", &out), 0) << err_;
  EXPECT_NE(out.find("nothing to repair"), std::string::npos) << out;
}

TEST_F(Issue10Cli, Defect8RepairRefusesDamageItCannotFixAndChangesNothing) {
  append_many(60, 60, "WAL_SEGMENT_BYTES=4096");
  const std::string seg = testing::segment_path(wal_dir(), 1);
  testing::flip_byte(seg, 100);
  const auto before = testing::dir_bytes(wal_dir());
  EXPECT_NE(run("repair"), 0);
  EXPECT_NE(err_.find("WAL_CORRUPT"), std::string::npos) << err_;
  EXPECT_NE(err_.find(seg), std::string::npos) << err_;
  EXPECT_EQ(testing::dir_bytes(wal_dir()), before);
}

// ---- defect 7: status while appends are refused for free space

TEST_F(Issue10Cli, Defect7StatusSaysWritesAreRefusedBelowMinFreeBytes) {
  append("a", "1");
  const std::string full = "WAL_MIN_FREE_BYTES=4000000000GiB WAL_RESUME_FREE_BYTES=4000000000GiB";
  std::string out;
  ASSERT_EQ(run("status --json", &out, full), 0) << err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["low_free_space"], true) << out;
  EXPECT_EQ(j["disk_pressure"], "critical") << out;
  ASSERT_EQ(run("status", &out, full), 0) << err_;
  EXPECT_NE(out.find("critical"), std::string::npos) << out;
  EXPECT_NE(out.find("writes refused"), std::string::npos) << out;
  EXPECT_NE(run("append --type bead --op update --path b --data 2", nullptr, full), 0);
  EXPECT_NE(err_.find("DISK_FULL"), std::string::npos) << err_;
}

// ---- verify: a torn tail is repairable (exit 4), a SHA-256 mismatch names the segment

TEST_F(Issue10Cli, VerifyTornTailExitsFourAndTheNextWriterRepairsIt) {
  for (int i = 0; i < 3; ++i) append(fmt::format("p{}", i), "x");
  auto snap = snapshot();
  const std::string seg = wal_dir() + "/" + snap["active"]["file"].get<std::string>();
  testing::patch_file(seg, snap["active"]["bytes"].get<uint64_t>(), "GARBAGE");
  EXPECT_EQ(run("verify"), 4) << err_;
  EXPECT_NE(err_.find("torn tail"), std::string::npos) << err_;
  EXPECT_EQ(err_.find("WAL_CORRUPT"), std::string::npos) << err_;
  EXPECT_EQ(append("p3", "y"), 4u);
  EXPECT_EQ(run("verify"), 0) << err_;
}

TEST_F(Issue10Cli, VerifyShaMismatchNamesTheSegmentNotOffsetZero) {
  append_many(3, 3, "");
  {
    auto wal = Wal::open(testing::test_options(wal_dir()));
    wal->rotate();
    wal->close();
  }
  const std::string seg = testing::segment_path(wal_dir(), 1);
  const uint64_t index = 32 + 3 * (28 + 2 + 100);
  testing::flip_byte(seg, index + 7);
  EXPECT_EQ(run("verify"), 1);
  EXPECT_NE(err_.find("WAL_CORRUPT: segment " + seg), std::string::npos) << err_;
  EXPECT_NE(err_.find("SHA-256 mismatch"), std::string::npos) << err_;
  EXPECT_EQ(err_.find("offset 0"), std::string::npos) << err_;
}

// ---- defect 5 (writers): they wait for the lock

TEST_F(Issue10Cli, Defect5FortyParallelOneShotAppendsAllSucceed) {
  append("first", "x");
  // The appenders take the lock in turn, each waiting for the others: what
  // is checked is that they wait and all succeed, not how fast 40 processes
  // run. With the default 5 s wait, 40 sanitized processes on a loaded
  // two-core machine (each holding the lock a few hundred ms) ran out of it.
  const std::string script = fmt::format(
      "cd {dir} && for i in $(seq 1 40); do "
      "(env -u DATA_DIR WAL_MIN_FREE_BYTES=0 WAL_RESUME_FREE_BYTES=0 WAL_LOCK_TIMEOUT_MS=120000 "
      "{bin} --data-dir {data} "
      "append --type bead --op update --path p$i --data v$i >out.$i 2>err.$i; echo $? >rc.$i) & "
      "done; wait",
      fmt::arg("dir", shell_quote(tmp_.path())), fmt::arg("bin", STRATA_BINARY),
      fmt::arg("data", shell_quote(data_)));
  std::string o;
  ASSERT_EQ(testing::run_command(script, &o), 0) << o;
  int failed = 0;
  for (int i = 1; i <= 40; ++i) {
    const std::string rc = read_file(tmp_ / fmt::format("rc.{}", i));
    if (rc != "0\n") {
      failed++;
      ADD_FAILURE() << "append " << i << " exited " << rc << ": "
                    << read_file(tmp_ / fmt::format("err.{}", i));
    }
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(replay().size(), 41u);
}

TEST_F(Issue10Cli, Defect5LockTimeoutExpiresWithAClearMessage) {
  append("first", "x");
  auto holder = Wal::open(testing::test_options(wal_dir()));
  EXPECT_EQ(run("append --lock-timeout 0.2 --type bead --op update --path p --data v"), 3);
  EXPECT_NE(err_.find("WAL_LOCK_FAILED"), std::string::npos) << err_;
  EXPECT_NE(err_.find("200 ms"), std::string::npos) << err_;
  EXPECT_EQ(run("append --lock-timeout -1 --type bead --op update --path p --data v"), 2);
  holder->close();
  EXPECT_EQ(append("p", "v"), 2u);
}

// ---- defects 5 and 6 (readers): no lock, nothing created, read-only mounts

TEST_F(Issue10Cli, Defect5ReadOnlyCommandsWorkWhileAWriterHoldsTheWal) {
  for (int i = 0; i < 3; ++i) append(fmt::format("p{}", i), "x");
  auto holder = Wal::open(testing::test_options(wal_dir()));
  holder->append(testing::make_entry("held", "y"));
  std::string out;
  const std::string fast = "WAL_LOCK_TIMEOUT_MS=0";
  EXPECT_EQ(run("status --json", &out, fast), 0) << err_;
  EXPECT_EQ(nlohmann::json::parse(out)["head_seq"], 4) << out;
  EXPECT_EQ(run("get 4", &out, fast), 0) << err_;
  EXPECT_EQ(nlohmann::json::parse(out)["path"], "held") << out;
  EXPECT_EQ(run("replay", &out, fast), 0) << err_;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  EXPECT_EQ(run("snapshot", &out, fast), 0) << err_;
  EXPECT_EQ(nlohmann::json::parse(out)["head_seq"], 4) << out;
  EXPECT_EQ(run("metrics --json", &out, fast), 0) << err_;
  EXPECT_EQ(run("verify", &out, fast), 0) << err_;
  // A writer still cannot get in.
  EXPECT_EQ(run("append --type bead --op update --path q --data z", nullptr, fast), 3);
  EXPECT_NE(err_.find("WAL_LOCK_FAILED"), std::string::npos) << err_;
}

TEST_F(Issue10Cli, Defect6ReadOnlyCommandsOnAMissingWalCreateNothing) {
  std::filesystem::create_directories(data_);
  for (const char* cmd : {"status", "get 1", "replay", "snapshot", "metrics"}) {
    EXPECT_NE(run(cmd), 0) << cmd;
    EXPECT_NE(err_.find("NOT_FOUND"), std::string::npos) << cmd << ": " << err_;
    EXPECT_TRUE(std::filesystem::is_empty(data_)) << cmd << " created something";
  }
}

TEST_F(Issue10Cli, Defect5ReadOnlyCommandsWorkOnAReadOnlyMount) {
  for (int i = 0; i < 3; ++i) append(fmt::format("p{}", i), "x");
  std::string probe;
  const std::string bind_ro = fmt::format("mount --bind {d} {d} && mount -o remount,bind,ro {d}",
                                          fmt::arg("d", shell_quote(data_)));
  if (testing::run_command(
          "unshare -m sh -c " + shell_quote(bind_ro + " && echo bound-read-only") + " 2>&1",
          &probe) != 0 ||
      probe.find("bound-read-only") == std::string::npos) {
    GTEST_SKIP() << "cannot make a private read-only bind mount here (needs root and "
                    "unshare -m): "
                 << probe;
  }
  // In a private mount namespace the data directory is bound read-only over
  // itself; every read-only command runs there, and a writer is refused.
  const std::string base =
      fmt::format("env -u DATA_DIR WAL_MIN_FREE_BYTES=0 WAL_RESUME_FREE_BYTES=0 {} --data-dir {}",
                  STRATA_BINARY, shell_quote(data_));
  std::string script = bind_ro + " && ";
  for (const char* cmd : {"status --json", "get 2", "replay", "snapshot", "metrics", "verify"}) {
    script +=
        fmt::format("{{ {} {} >/dev/null || {{ echo FAILED {}; exit 1; }}; }} && ", base, cmd, cmd);
  }
  script += fmt::format(
      "{{ {} append --type bead --op update --path q --data z; echo append=$?; }}", base);
  std::string o;
  EXPECT_EQ(testing::run_command("unshare -m sh -c " + shell_quote(script) + " 2>&1", &o), 0) << o;
  EXPECT_EQ(o.find("FAILED"), std::string::npos) << o;
  EXPECT_EQ(o.find("append=0"), std::string::npos)
      << "a write succeeded on a read-only mount: " << o;
  EXPECT_EQ(replay().size(), 3u);
}

// ---- the "past WAL_WARN_BYTES" warning: once per crossing, never with a
// size below the mark

TEST_F(Issue10Cli, WarnBytesWarningIsPrintedOnceWithASizePastTheMark) {
  std::string in;
  for (int i = 0; i < 200; ++i) {
    in += fmt::format("{{\"type\":\"bead\",\"op\":\"update\",\"path\":\"p{}\",\"data\":\"{}\"}}\n",
                      i % 3, std::string(100, 'w'));
  }
  const uint64_t mark = 10000;
  ASSERT_EQ(
      run("append --jsonl", nullptr,
          fmt::format("WAL_SEGMENT_BYTES=4096 WAL_WARN_BYTES={} WAL_MAX_BYTES=1MiB", mark), in),
      0)
      << err_;
  std::vector<uint64_t> sizes;
  std::istringstream lines(err_);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("WAL_WARN_BYTES") == std::string::npos) continue;
    const size_t at = line.find(" bytes, past");
    ASSERT_NE(at, std::string::npos) << line;
    const size_t from = line.rfind(' ', at - 1) + 1;
    sizes.push_back(std::stoull(line.substr(from, at - from)));
  }
  ASSERT_EQ(sizes.size(), 1u) << err_;
  EXPECT_GE(sizes[0], mark) << err_;
}

}  // namespace
}  // namespace strata
