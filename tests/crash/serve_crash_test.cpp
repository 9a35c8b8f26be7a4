// The crash harness across the real daemon: `strata serve` with a WAL of
// small segments (rotation, compaction and pruning happen), an object store
// on a real s3rver (behind the signature-checking, fault-injecting proxy)
// and a Git archive pushed to a real `git daemon`, both synced every ~100
// ms. It runs once per WAL_SYNC mode (always, interval, none).
// Writer threads append over HTTP and record every acknowledged seq; the
// parent SIGKILLs the daemon at seeded random moments (while it boots, while
// it appends, syncs, archives, compacts or prunes) and restarts it on the
// same data directory. After each restart it checks that every acknowledged
// entry is there and intact (or superseded by a later entry of its path, or
// pruned and held by the remote), that every entry the log shows is one a
// writer sent, whole, at most once, and that no segment was pruned that the
// tiers had not confirmed. Every few kills, and at the end, with the daemon
// killed once more: `strata verify`, `strata remote verify`, the archive's
// tip, and state/ against the replay of every entry up to state.seq
// (recovery's independent digest, src/recovery/state_check.h).
//
// In about a third of the windows the remotes misbehave while it runs and
// is killed: the proxy answers a share of the S3 requests with 5xx or 429,
// resets or closes the connection, stalls, or cuts the response body, and
// the Git remote's pre-receive hook rejects every push. The faults stop
// before each deep check, which waits for both tiers to catch up first.
//
// What a kill may take depends on the mode. `always` and `interval` write
// an entry to the file before acknowledging it, so a SIGKILL (the page
// cache survives) loses nothing acknowledged: every acknowledged seq must
// come back. `none` acknowledges from the process's buffer, which its
// background thread writes every WAL_SYNC_INTERVAL_MS: a SIGKILL may take
// the acknowledged entries not yet written, and only those. The harness
// checks that they are the newest ones (every acknowledged seq up to the
// head after the restart is there and intact), that each was acknowledged
// at most a bounded time before the kill, and then forgets them: their
// seqs are handed out again.
//
// STRATA_CRASH_KILLS sets the number of kills per mode (67 by default, so
// about 200 across the three; 10000 for a long run), STRATA_CRASH_SEED the
// seed (printed on failure).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "git/git_test_support.h"
#include "recovery/state_check.h"
#include "server/daemon_process.h"
#include "storage/servers.h"
#include "strata/entry.h"
#include "strata/fs.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using testing::DaemonProcess;
using testing::Env;

constexpr uint64_t kPaths = 61;  // few paths, so later entries supersede earlier ones
constexpr int kWriters = 4;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoull(v) : fallback;
}

// What writer number n sends: its path, op and data. The data starts with
// n, so any entry read back is checked against what was sent for it.
struct Sent {
  std::string path;
  std::string op;
  std::string data;
  bool operator==(const Sent&) const = default;
};

Sent sent_for(uint64_t n) {
  Sent s{fmt::format("k/{}", n % kPaths), "update", ""};
  if (n % 11 == 5) {
    s.op = "delete";
    return s;
  }
  std::mt19937_64 rng(n);
  // Now and then several KiB, so records span pages and segments fill fast.
  const size_t len = n % 7 == 0 ? 3000 + rng() % 6000 : 20 + rng() % 1200;
  s.data = fmt::format("n{}:", n);
  while (s.data.size() < len) s.data += static_cast<char>('a' + rng() % 26);
  return s;
}

std::string body_for(const Sent& s) {
  return testing::entry_body(s.path, s.data, s.op);
}

// What the harness knows of the log: every entry acknowledged to a writer
// and every entry it has read back, by seq.
struct Model {
  std::map<uint64_t, Sent> entries;
  std::map<uint64_t, uint64_t> acked;    // seq -> writer number
  std::map<uint64_t, uint64_t> seen_at;  // writer number -> the seq it was read at
  uint64_t read_head = 0;                // the log was read back up to here

  // Whether a later entry than seq writes or deletes the same path (so
  // compaction may drop seq).
  bool superseded(uint64_t seq) const {
    const std::string& path = entries.at(seq).path;
    for (auto it = entries.upper_bound(seq); it != entries.end(); ++it) {
      if (it->second.path == path) return true;
    }
    return false;
  }
};

// Appends from kWriters keep-alive clients until stopped or the daemon dies.
class Writers {
 public:
  Writers(const DaemonProcess& d, std::atomic<uint64_t>& next) {
    for (int t = 0; t < kWriters; ++t) {
      threads_.emplace_back([this, &d, &next] {
        auto c = d.client();
        c->set_read_timeout(std::chrono::seconds(20));
        while (!stop_) {
          const uint64_t n = next.fetch_add(1);
          auto r = c->Post("/v1/entries", body_for(sent_for(n)), "application/json");
          if (!r) return;  // killed: this one is not acknowledged
          if (r->status != 200) {
            std::lock_guard lock(mu_);
            errors_.push_back(fmt::format("POST {} -> {}: {}", n, r->status, r->body));
            return;
          }
          const uint64_t seq = nlohmann::json::parse(r->body)["seq"].get<uint64_t>();
          const auto now = std::chrono::steady_clock::now();
          std::lock_guard lock(mu_);
          acked_.push_back({seq, n, now});
        }
      });
    }
  }
  ~Writers() { join(); }
  size_t count() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  void join() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  struct Ack {
    uint64_t seq;
    uint64_t n;  // the writer number
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Ack> acked_;
  std::vector<std::string> errors_;

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// The faults one window may get: the proxy's arguments for an S3 fault,
// dealt to a share (`rate`) of the requests; or the Git remote's hook
// rejecting every push; or both.
constexpr const char* kS3Faults[] = {
    "mode=status&status=503",
    "mode=status&status=500",
    "mode=status&status=429",
    "mode=reset",
    "mode=close",
    "mode=stall",
    "mode=truncate",
    // GET bodies with a byte flipped, under the writer's sha256 header or
    // without it (so the manifest's own checksum is what refuses it).
    "mode=corrupt",
    "mode=corrupt&strip=1",
};
constexpr const char* kRates[] = {"0.25", "0.5", "1"};

class ServeCrash : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    mode_ = GetParam();
    // Through the storage tests' proxy, which checks every signature and
    // forwards a PUT only once its whole body arrived, as S3 and R2 store
    // only whole objects. s3rver alone writes the object as the body comes
    // in: a daemon killed mid-PUT left an empty checkpoint.json with the new
    // metadata (its SHA-256), which no real store does. The proxy also
    // deals the S3 faults.
    s3_ = std::make_unique<testing::S3Servers>();
    // The Git archive's remote: a bare repository behind a real `git
    // daemon`, whose pre-receive hook rejects every push while the flag
    // file exists (and counts the rejections).
    testing::isolate_git_env(tmp_ / "githome");
    const std::string served = tmp_ / "served";
    remote_repo_ = served + "/archive.git";
    testing::git_init_bare(remote_repo_);
    reject_flag_ = tmp_ / "reject-pushes";
    rejections_ = tmp_ / "rejected-pushes";
    const std::string hook = remote_repo_ + "/hooks/pre-receive";
    testing::write_file(
        hook, fmt::format("#!/bin/sh\n"
                          "# The crash harness rejects pushes while {0} exists.\n"
                          "cat >/dev/null\n"
                          "if [ -e {0} ]; then\n"
                          "  echo rejected >>{1}\n"
                          "  echo 'push rejected by the crash harness' >&2\n"
                          "  exit 1\n"
                          "fi\n",
                          testing::sh_quote(reject_flag_), testing::sh_quote(rejections_)));
    ASSERT_EQ(::chmod(hook.c_str(), 0755), 0);
    git_ = std::make_unique<testing::GitDaemon>(served);
    served_ = served;
    git_port_ = git_->port();

    Env env = testing::s3_env(s3_->proxy->port());
    env.insert_or_assign("WAL_SYNC", mode_);
    env.insert_or_assign("SYNC_INTERVAL_MS", "100");
    env.insert_or_assign("GIT_SYNC_INTERVAL_MS", "150");
    env.insert_or_assign("GIT_REMOTE", git_->url("archive.git"));
    env.insert_or_assign("GIT_TIMEOUT_MS", "3000");
    env.insert_or_assign("WAL_SEGMENT_BYTES", "16384");
    // Compaction as soon as the log passes 48 KiB, pruning of every
    // confirmed sealed segment (after a rotation, the one holding the head
    // too), a snapshot every 128 KiB shipped.
    env.insert_or_assign("WAL_WARN_BYTES", "49152");
    env.insert_or_assign("STRATA_COMPACT_CHECK_MS", "100");
    env.insert_or_assign("PRUNE_KEEP_SEGMENTS", "0");
    env.insert_or_assign("SNAPSHOT_EVERY_BYTES", "131072");
    d_ = std::make_unique<DaemonProcess>(tmp_.path(), env);
    // A failure is often caused a few boots before the one that shows it
    // (a lineage changed, a log set aside): every boot's log is kept.
    d_->keep_boot_logs();
  }

  // On a failure, the boot logs outlive the temporary directory, and the
  // boot before the failing one (whose log the failure printed) is shown.
  void TearDown() override {
    if (!HasFailure() || !d_ || d_->boots() == 0) return;
    const char* base = std::getenv("TMPDIR");
    const std::string kept = fmt::format("{}/strata-serve-crash-{}-{}-boot-logs",
                                         base && *base ? base : "/tmp", mode_, ::getpid());
    std::error_code ec;
    fs::create_directories(kept, ec);
    for (int n = 1; n <= d_->boots(); ++n)
      fs::copy_file(d_->boot_log(n), fmt::format("{}/boot-{:05}.log", kept, n),
                    fs::copy_options::overwrite_existing, ec);
    std::string previous;
    if (d_->boots() > 1 && fs::exists(d_->boot_log(d_->boots() - 1))) {
      previous = testing::read_file(d_->boot_log(d_->boots() - 1));
      if (previous.size() > 16384) previous = "...\n" + previous.substr(previous.size() - 16384);
    }
    std::printf("serve crash harness: the logs of all %d boots are kept in %s; boot %d's:\n%s\n",
                d_->boots(), kept.c_str(), d_->boots() - 1, previous.c_str());
  }

  // Arms this window's faults, if it gets any (a third of the windows).
  void arm_faults(std::mt19937_64& rng) {
    if (rng() % 3 != 0) return;
    const uint64_t pick = rng() % 8;
    if (pick < 6) {  // S3 faults
      const char* fault = kS3Faults[rng() % std::size(kS3Faults)];
      const char* rate = kRates[rng() % std::size(kRates)];
      s3_->proxy_control(fmt::format("fault?{}&count=-1&rate={}", fault, rate));
      fault_windows_[fault]++;
    }
    if (pick >= 4) {  // the Git remote fails (with S3 faults in two cases of four)
      if (rng() % 2 == 0) {
        testing::write_file(reject_flag_, "");
        fault_windows_["git push rejected"]++;
      } else {
        // Gone: connections refused until it is started again on its port.
        git_->stop();
        git_gone_ = true;
        fault_windows_["git remote gone"]++;
      }
    }
  }
  void clear_faults() {
    s3_->proxy_control("clear");
    fs::remove(reject_flag_);
    if (git_gone_) {
      git_ = std::make_unique<testing::GitDaemon>(served_, git_port_);
      git_gone_ = false;
    }
  }

  nlohmann::json status() {
    auto c = d_->client();
    auto r = testing::get(*c, "/v1/status");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  // After a restart: the log holds what was acknowledged, and nothing else
  // than what writers sent.
  void check_after_restart(std::mt19937_64& rng) {
    const nlohmann::json st = status();
    const uint64_t head = st["wal"]["head_seq"];
    // A log pruned to no entries reports first_seq 0: everything up to its
    // head is gone from it (and must be held by the tiers).
    const uint64_t first = st["wal"]["first_seq"].get<uint64_t>() == 0
                               ? head + 1
                               : st["wal"]["first_seq"].get<uint64_t>();
    ASSERT_GE(head, model_.read_head) << "entries the log showed before are gone";
    if (!model_.acked.empty() && model_.acked.rbegin()->first > head) {
      ASSERT_NO_FATAL_FAILURE(forget_lost(head));
    }
    const uint64_t max_acked = model_.acked.empty() ? 0 : model_.acked.rbegin()->first;
    // Every entry since the last read, each checked against what was sent.
    auto c = d_->client();
    auto r = testing::get(*c, fmt::format("/v1/entries?since={}", model_.read_head));
    ASSERT_EQ(r.status, 200) << r.body;
    std::istringstream lines(r.body);
    std::string line;
    uint64_t last = model_.read_head;
    std::set<uint64_t> shown;
    while (std::getline(lines, line)) {
      const auto j = nlohmann::json::parse(line);
      const uint64_t seq = j["seq"];
      ASSERT_GT(seq, last) << "seqs out of order: " << line;
      ASSERT_LE(seq, head) << line;
      last = seq;
      ASSERT_EQ(j["type"], "bead") << line;
      Sent got{j["path"], j["op"], j.value("data", "")};
      if (got.op == "delete") {
        auto a = model_.acked.find(seq);
        if (a != model_.acked.end()) {
          ASSERT_EQ(got, sent_for(a->second)) << "seq " << seq;
        }
        ASSERT_EQ(got.path.rfind("k/", 0), 0u) << line;
      } else {
        // The writer number, then exactly what that writer sent.
        ASSERT_EQ(got.data.rfind('n', 0), 0u) << "not an entry any writer sent: " << line;
        const uint64_t n = std::stoull(got.data.substr(1));
        ASSERT_EQ(got, sent_for(n)) << "seq " << seq << " is torn or changed";
        auto a = model_.acked.find(seq);
        if (a != model_.acked.end()) {
          ASSERT_EQ(a->second, n) << "seq " << seq << " holds another entry than acknowledged";
        }
        auto [it, fresh] = model_.seen_at.emplace(n, seq);
        ASSERT_TRUE(fresh) << "entry n" << n << " is in the log twice: seq " << it->second
                           << " and " << seq;
      }
      model_.entries[seq] = got;
      shown.insert(seq);
    }
    // An acknowledged entry the read did not show: compacted away behind a
    // later entry of its path, or pruned (and so the tiers hold it).
    for (auto it = model_.acked.upper_bound(model_.read_head); it != model_.acked.end(); ++it) {
      const uint64_t seq = it->first;
      if (shown.count(seq)) continue;
      ASSERT_TRUE(seq < first || model_.superseded(seq))
          << "acknowledged seq " << seq << " is missing from the log (first " << first << ")";
      (seq < first ? pruned_ : compacted_)++;
    }
    // Some older acknowledged entries, read one by one.
    if (!model_.acked.empty()) {
      for (int i = 0; i < 8; ++i) {
        auto it = model_.acked.lower_bound(1 + rng() % max_acked);
        if (it == model_.acked.end()) continue;
        auto one = testing::get(*c, fmt::format("/v1/entries/{}", it->first));
        if (one.status == 404) {
          // The daemon prunes while these reads run (its tiers confirm right
          // after a boot): the log's first seq now, not at the start.
          const uint64_t now_first = status()["wal"]["first_seq"];
          const uint64_t floor = now_first == 0 ? head + 1 : std::max(first, now_first);
          ASSERT_TRUE(it->first < floor || model_.superseded(it->first))
              << "acknowledged seq " << it->first << " is gone: " << one.body;
          continue;
        }
        ASSERT_EQ(one.status, 200) << one.body;
        const auto j = one.json();
        EXPECT_EQ((Sent{j["path"], j["op"], j.value("data", "")}), sent_for(it->second))
            << "seq " << it->first;
      }
    }
    model_.read_head = head;
    max_first_seq_ = std::max(max_first_seq_, first);
    // Pruning kept every segment a tier has not confirmed.
    if (first > 1) {
      for (const auto& m : st["wal"]["tiers"]) {
        ASSERT_GE(m["confirmed_seq"].get<uint64_t>(), first - 1)
            << "segments below seq " << first << " were pruned, tier " << m["tier"]
            << " holds only up to " << m["confirmed_seq"];
      }
    }
  }

  // Acknowledged entries past the head after a restart: a loss only `none`
  // allows, of entries its background thread had not written yet, so each
  // was acknowledged in the last window, shortly before the kill. Their
  // seqs are handed out again, so the model forgets them.
  void forget_lost(uint64_t head) {
    ASSERT_EQ(mode_, "none") << "acknowledged entries past the head " << head << " were lost";
    // The background thread writes the buffer every WAL_SYNC_INTERVAL_MS
    // (100 ms); the rest is slack for a loaded machine under ASan.
    constexpr auto kBound = std::chrono::milliseconds(100 + 1000);
    for (auto it = model_.acked.upper_bound(head); it != model_.acked.end();) {
      const auto age = last_window_.find(it->first);
      ASSERT_NE(age, last_window_.end())
          << "seq " << it->first << " was lost but not acknowledged in the last window";
      ASSERT_LE(age->second, kBound) << "seq " << it->first << ", acknowledged "
                                     << age->second.count() << " ms before the kill, was lost";
      max_lost_age_ = std::max(max_lost_age_, age->second);
      lost_++;
      model_.entries.erase(it->first);
      it = model_.acked.erase(it);
    }
  }

  // With the daemon killed right after a checked restart: the WAL, the
  // remote manifest and its objects, the Git archive and state/.
  void deep_check() {
    const std::string data = d_->data_dir();
    // The checks read everything with the faults off: they get a patient
    // budget, not the daemon's short one (which on a loaded machine starved
    // s3rver past 3 s and failed a long run for no fault of the data).
    Env env = d_->env();
    env.insert_or_assign("R2_CONNECT_TIMEOUT_MS", "10000");
    env.insert_or_assign("R2_STALL_TIMEOUT_MS", "30000");
    env.insert_or_assign("R2_TIMEOUT_MS", "120000");
    env.insert_or_assign("GIT_TIMEOUT_MS", "60000");
    std::string out, err;
    int rc = testing::run_strata({"--data-dir", data, "verify"}, env, &out, &err);
    ASSERT_TRUE(rc == 0 || rc == 4) << "strata verify: " << rc << " " << out << err;

    rc = testing::run_strata({"--data-dir", data, "remote", "verify", "--json"}, env, &out, &err);
    ASSERT_EQ(rc, 0) << "strata remote verify: " << out << err;
    const uint64_t remote_head = nlohmann::json::parse(out)["head_seq"];

    // The remote's tip (what the Git tier confirmed), not the local branch.
    rc = testing::run_strata(
        {"--data-dir", data, "archive", "log", "--remote", "--limit", "1", "--json"}, env, &out,
        &err);
    ASSERT_EQ(rc, 0) << "strata archive log: " << out << err;
    const auto log = nlohmann::json::parse(out);
    uint64_t git_seq = 0;
    if (log.is_array() && !log.empty() && log[0]["wal_seq"].is_number())
      git_seq = log[0]["wal_seq"];

    rc = testing::run_strata({"--data-dir", data, "status", "--json"}, env, &out, &err);
    ASSERT_EQ(rc, 0) << "strata status: " << out << err;
    const auto wal = nlohmann::json::parse(out);
    uint64_t first = wal.value("first_seq", uint64_t{0});
    if (first == 0) first = wal.value("head_seq", uint64_t{0}) + 1;  // pruned to no entries
    if (first > 1) {
      EXPECT_GE(remote_head, first - 1) << "pruned below what the object store holds";
      EXPECT_GE(git_seq, first - 1) << "pruned below what the Git archive holds";
    }

    // state/ is the replay of every entry up to state.seq.
    const std::string seq_text = testing::read_file(data + "/state.seq");
    const uint64_t applied = std::stoull(seq_text);
    ASSERT_LE(applied, model_.read_head);
    recovery::StateDigest expected;
    for (const auto& [seq, s] : model_.entries) {
      if (seq > applied) break;
      EntryView v{
          seq,    0,     EntryType::kBead, s.op == "delete" ? EntryOp::kDelete : EntryOp::kUpdate,
          s.path, s.data};
      recovery::apply_to_digest(expected, v);
    }
    const auto actual = recovery::digest_tree(FileSystem::real(), data + "/state");
    const auto diff = recovery::compare_digests(expected, actual);
    ASSERT_FALSE(diff) << "state/ at seq " << applied << " is not the replay of the log: " << *diff;
    deep_checks_++;
  }

  testing::TempDir tmp_;
  std::string mode_;  // WAL_SYNC
  std::unique_ptr<testing::S3Servers> s3_;
  std::string remote_repo_;
  std::string reject_flag_;
  std::string rejections_;
  std::unique_ptr<testing::GitDaemon> git_;
  std::string served_;  // what git_ serves, and on which port
  int git_port_ = 0;
  bool git_gone_ = false;  // git_ stopped for this window
  std::unique_ptr<DaemonProcess> d_;
  Model model_;
  // The last window's acknowledgements: seq -> how long before the kill.
  std::map<uint64_t, std::chrono::milliseconds> last_window_;
  uint64_t lost_ = 0;  // `none`: acknowledged entries a kill took
  std::chrono::milliseconds max_lost_age_{0};
  std::map<std::string, uint64_t> fault_windows_;  // windows with each fault
  int deep_checks_ = 0;
  // Acknowledged entries first read back after they were already gone from
  // the local log: pruned (held by the tiers) or compacted (superseded).
  uint64_t pruned_ = 0;
  uint64_t compacted_ = 0;
  uint64_t max_first_seq_ = 0;
};

TEST_P(ServeCrash, EveryAcknowledgedEntrySurvivesKillsOfTheWholeDaemon) {
  const uint64_t kills = env_number("STRATA_CRASH_KILLS", 67);
  const uint64_t seed = env_number("STRATA_CRASH_SEED", std::random_device{}());
  SCOPED_TRACE(
      fmt::format("WAL_SYNC={} STRATA_CRASH_SEED={} STRATA_CRASH_KILLS={}", mode_, seed, kills));
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::atomic<uint64_t> next{1};
  const uint64_t deep_every = 25;
  auto boot_time = std::chrono::milliseconds(100);
  uint64_t boot_kills = 0;
  const auto started = std::chrono::steady_clock::now();

  std::chrono::milliseconds booting{0};
  uint64_t boots = 0;
  // One more restart after the last kill, checked deeply.
  for (uint64_t k = 0; k <= kills; ++k) {
    SCOPED_TRACE(fmt::format("kill {}", k));
    const bool deep = k % deep_every == deep_every - 1 || k == kills;
    if (k > 0 && !deep && rng() % 4 == 0) {
      // While it boots: recovery, opening the log, catching state/ up.
      d_->launch();
      std::this_thread::sleep_for(std::chrono::microseconds(
          rng() % static_cast<uint64_t>(
                      std::chrono::duration_cast<std::chrono::microseconds>(boot_time).count())));
      d_->kill9();
      boot_kills++;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_NO_THROW(d_->start()) << d_->log();
    boot_time = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    booting += boot_time;
    boots++;
    ASSERT_NO_FATAL_FAILURE(check_after_restart(rng)) << d_->log();
    if (deep) {
      // Once both tiers hold the head (the daemon is killed every few
      // hundred ms, which a sync of a long backlog may not fit in), killed
      // while idle, then checked offline.
      auto c = d_->client();
      const uint64_t head = model_.read_head;
      ASSERT_TRUE(testing::eventually(
          [&] {
            for (const char* name : {"object", "git"}) {
              const auto seq = testing::tier(*c, name)["confirmed_seq"];
              if (!seq.is_number() || seq.get<uint64_t>() < head) return false;
            }
            return true;
          },
          std::chrono::seconds(60)))
          << testing::get(*c, "/v1/status").body << d_->log();
      d_->kill9();
      ASSERT_NO_FATAL_FAILURE(deep_check()) << d_->log();
      continue;
    }
    arm_faults(rng);
    last_window_.clear();
    Writers w(*d_, next);
    // Kill after the first acknowledgement plus a random window, so the
    // kill lands among appends and the tiers' runs; one window in eight
    // runs up to 1.5 s, longer than `none` may keep an entry unwritten.
    testing::eventually([&] { return w.count() > 0 || !d_->running(); }, std::chrono::seconds(20));
    std::this_thread::sleep_for(
        std::chrono::microseconds(rng() % 8 == 0 ? rng() % 1500000 : rng() % 80000));
    const auto killed_at = std::chrono::steady_clock::now();
    d_->kill9();
    w.join();
    clear_faults();
    ASSERT_TRUE(w.errors_.empty()) << w.errors_.front();
    for (const auto& a : w.acked_) {
      auto [it, fresh] = model_.acked.emplace(a.seq, a.n);
      ASSERT_TRUE(fresh) << "seq " << a.seq << " acknowledged twice";
      model_.entries[a.seq] = sent_for(a.n);
      last_window_[a.seq] = std::chrono::duration_cast<std::chrono::milliseconds>(killed_at - a.at);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // The faults dealt: the proxy's count by kind, the hook's rejections.
  const auto proxy_stats = nlohmann::json::parse(s3_->proxy_control("stats"));
  std::string faults;
  for (const auto& [kind, n] : proxy_stats["fault_kinds"].items()) {
    faults += fmt::format(" {}={}", kind, n.get<uint64_t>());
  }
  uint64_t rejected = 0;
  if (fs::exists(rejections_)) {
    const std::string text = testing::read_file(rejections_);
    rejected = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
  }
  std::string windows;
  for (const auto& [kind, n] : fault_windows_) windows += fmt::format(" [{}]={}", kind, n);
  std::printf(
      "serve crash harness, WAL_SYNC=%s: %llu kills (%llu while booting), %zu entries "
      "acknowledged (%llu of them lost, as `none` allows; the oldest %lld ms before its kill), "
      "head %llu, %d deep checks, first local seq %llu, %llu acknowledged entries seen pruned and "
      "%llu compacted, %.1f s (boot %.0f ms on average), seed %llu\n"
      "  fault windows:%s\n  S3 requests %llu, faults dealt:%s; pushes rejected %llu\n",
      mode_.c_str(), static_cast<unsigned long long>(kills),
      static_cast<unsigned long long>(boot_kills), model_.acked.size() + lost_,
      static_cast<unsigned long long>(lost_), static_cast<long long>(max_lost_age_.count()),
      static_cast<unsigned long long>(model_.read_head), deep_checks_,
      static_cast<unsigned long long>(max_first_seq_), static_cast<unsigned long long>(pruned_),
      static_cast<unsigned long long>(compacted_), seconds,
      static_cast<double>(booting.count()) / static_cast<double>(boots),
      static_cast<unsigned long long>(seed), windows.c_str(),
      static_cast<unsigned long long>(proxy_stats["requests"].get<uint64_t>()), faults.c_str(),
      static_cast<unsigned long long>(rejected));
  RecordProperty("acknowledged_entries", std::to_string(model_.acked.size() + lost_));
  EXPECT_GT(model_.acked.size(), kills);
}

INSTANTIATE_TEST_SUITE_P(WalSync, ServeCrash, ::testing::Values("always", "interval", "none"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace strata
