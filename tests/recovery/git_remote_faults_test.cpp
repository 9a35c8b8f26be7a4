// Recovery from a Git remote that misbehaves: one whose archive branch was
// force-pushed to another data directory's history (it must never be
// taken for ours: the lineage check), and one that goes away between the
// probe and the restore or never answers (bounded, named, and the next
// source is used in `degraded`; `strict` fails and changes nothing).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "git/git_test_support.h"
#include "recovery/recovery_test_support.h"
#include "strata/git_sync.h"
#include "strata/recovery.h"

namespace strata::testing {
namespace {

namespace sfs = std::filesystem;

constexpr const char* kOurLineage = "01J0AAAAAAAAAAAAAAAAAAAAAA";
constexpr const char* kTheirLineage = "01J0TTTTTTTTTTTTTTTTTTTTTT";

// Relays one connection to 127.0.0.1:port until either side closes (or 20 s
// pass without a byte).
void relay_connection(int fd, int port) {
  const int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(up);
    return;
  }
  pollfd p[2] = {{fd, POLLIN, 0}, {up, POLLIN, 0}};
  char buf[16384];
  while (::poll(p, 2, 20000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      const ssize_t n = ::recv(p[i].fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        ::close(up);
        return;
      }
      for (ssize_t sent = 0; sent < n;) {
        const ssize_t w =
            ::send(p[1 - i].fd, buf + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
        if (w <= 0) {
          ::close(up);
          return;
        }
        sent += w;
      }
    }
  }
  ::close(up);
}

// A `git daemon` behind a relay that serves the first `serve` connections
// and then goes away: it closes every later connection at once (`stall`
// false) or holds it without a byte until the client gives up.
class VanishingGitRemote {
 public:
  VanishingGitRemote(const std::string& served, int serve, bool stall)
      : daemon_(served), relay_([this, serve, stall](int fd) {
          if (served_++ < serve) return relay_connection(fd, daemon_.port());
          if (!stall) return;
          pollfd p{fd, POLLIN, 0};
          for (int i = 0; i < 300 && !done_; ++i) {
            char b[512];
            if (::poll(&p, 1, 100) > 0 && ::recv(fd, b, sizeof(b), 0) <= 0) return;
          }
        }) {}
  ~VanishingGitRemote() { done_ = true; }
  std::string url(const std::string& repo) const {
    return fmt::format("git://127.0.0.1:{}/{}", relay_.port(), repo);
  }
  int connections() const { return relay_.connections(); }

 private:
  GitDaemon daemon_;
  std::atomic<int> served_{0};
  std::atomic<bool> done_{false};
  TcpServer relay_;
};

class GitRemoteFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    git_init_bare(served + "/remote.git");
    sfs::create_directories(data);
    write_file(data + "/lineage-id", std::string(kOurLineage) + "\n");
  }
  std::string file_url() const { return "file://" + served + "/remote.git"; }

  // n entries into dir's WAL, materialized; then a snapshot of its lineage
  // pushed to the remote. Returns the snapshot's seq.
  uint64_t append_and_archive(const std::string& dir, Workload& w, int n, unsigned seed,
                              const std::string& lineage) {
    {
      auto wal = Wal::open(quick_wal(dir + "/wal"));
      append_workload(*wal, w, n, seed);
      Materializer(dir).run(*wal);
    }
    GitSyncConfig c = test_config(dir, file_url());
    c.lineage_id = lineage;
    GitSync archive(c);
    const uint64_t seq = Materializer(dir).applied_seq();
    archive.snapshot(seq);
    archive.push();
    return seq;
  }
  // Another data directory's archive force-pushed over the branch (as
  // `git push --force` by someone else would): our snapshots are gone from
  // it, theirs are newer (a higher seq).
  uint64_t diverge() {
    const std::string other = tmp / "other";
    sfs::create_directories(other);
    {
      auto wal = Wal::open(quick_wal(other + "/wal"));
      append_workload(*wal, theirs, 700, 77);
      Materializer(other).run(*wal);
    }
    GitSyncConfig c = test_config(other, "");
    c.lineage_id = kTheirLineage;
    GitSync archive(c);
    archive.snapshot(700);
    git(fmt::format("--git-dir={} push -q --force {} finn/archive:finn/archive",
                    sh_quote(other + "/archive.git"), sh_quote(file_url())));
    return 700;
  }
  GitSyncConfig git_config(const std::string& url, int timeout_ms = 20000) const {
    GitSyncConfig c = test_config(data, url);
    c.lineage_id = kOurLineage;
    c.timeout = std::chrono::milliseconds(timeout_ms);
    return c;
  }
  RecoveryResult run(const RecoveryConfig& c, const GitSyncConfig& g) {
    GitSync archive(g);
    RecoveryTiers t;
    t.git = &archive;
    return run_recovery(c, t);
  }
  const RecoverySourceReport* source(const RecoveryResult& r, RecoverySource s) {
    for (const auto& l : r.sources)
      if (l.source == s) return &l;
    return nullptr;
  }

  TempDir tmp;
  std::string served = tmp / "served";
  std::string data = tmp / "data";
  Workload work;
  Workload theirs;  // the other data directory's entries (diverge())
};

TEST_F(GitRemoteFaultTest, ADivergedRemoteOfAnotherLineageIsNeverTakenForOursIntactOrDamaged) {
  append_and_archive(data, work, 300, 1, kOurLineage);
  {
    auto wal = Wal::open(quick_wal(data + "/wal"));
    append_workload(*wal, work, 100, 2);  // 301-400 only local
    Materializer(data).run(*wal);
  }
  const uint64_t theirs = diverge();
  ASSERT_GT(theirs, 400u);

  // An intact log: used in place, and the other history's newer seqs are
  // not entries this directory misses.
  RecoveryResult r = run(recovery_config(data), git_config(file_url()));
  ASSERT_EQ(r.state, RecoveryState::kRunning) << r.error << nlohmann::json(r.missing).dump();
  EXPECT_EQ(r.source, RecoverySource::kLocal);
  EXPECT_EQ(r.lineage_id, kOurLineage);
  EXPECT_TRUE(r.missing.empty()) << nlohmann::json(r.missing).dump();
  const RecoverySourceReport* g = source(r, RecoverySource::kGit);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->lineage_id, kTheirLineage);
  EXPECT_FALSE(g->used);

  // A record in the middle fails its CRC: the log is read whole to before
  // it (a new history), never replaced by theirs.
  const auto segs = segment_files(data + "/wal");
  ASSERT_GT(segs.size(), 3u);
  const std::string victim = segs[segs.size() - 2];
  std::string bytes = read_file(data + "/wal/" + victim);
  bytes[32 + 8] ^= 0x5a;
  write_file(data + "/wal/" + victim, bytes);
  const uint64_t readable = std::stoull(victim.substr(0, 20)) - 1;
  r = run(recovery_config(data), git_config(file_url()));
  ASSERT_EQ(r.state, RecoveryState::kDegraded) << r.error;
  EXPECT_EQ(r.source, RecoverySource::kLocal);
  EXPECT_EQ(r.seq_reached, readable);
  EXPECT_EQ(state_files(data + "/state"), work.state_at(readable));
  EXPECT_FALSE(source(r, RecoverySource::kGit)->used);
}

// With the WAL lost but lineage-id and state/ (at seq 400) kept, the
// lineage to continue came from the remotes only, so the other history's
// snapshot was restored in place of ours, in strict mode too, and our state
// set aside. state/ at a seq now makes the directory's own lineage the one
// it continues.
TEST_F(GitRemoteFaultTest, AWalLostWithItsLineageIdKeptIsNotReplacedByAnotherLineage) {
  append_and_archive(data, work, 300, 1, kOurLineage);
  {
    auto wal = Wal::open(quick_wal(data + "/wal"));
    append_workload(*wal, work, 100, 2);
    Materializer(data).run(*wal);
  }
  diverge();
  sfs::remove_all(data + "/wal");
  const auto before = data_bytes(data);
  RecoveryConfig strict = recovery_config(data);
  strict.mode = RecoveryMode::kStrict;
  RecoveryResult r = run(strict, git_config(file_url()));
  EXPECT_EQ(r.state, RecoveryState::kFailed) << "strict restored another lineage";
  auto after = data_bytes(data);
  after.erase(".recovery/");
  after.erase(".recovery/failures.json");
  EXPECT_EQ(after, before);
  r = run(recovery_config(data), git_config(file_url()));
  EXPECT_NE(r.source, RecoverySource::kGit) << "another lineage's snapshot was restored";
  EXPECT_FALSE(state_files(data + "/state") == theirs.state_at(700))
      << "another lineage's state/ was restored";
}

// The remote answers the probe (the branch is listed, the snapshot chosen)
// and is gone when the restore fetches; then one that never answers at all.
TEST_F(GitRemoteFaultTest, ARemoteGoneBetweenProbeAndRestoreOrSilentIsNamedAndBounded) {
  const uint64_t seq = append_and_archive(data, work, 300, 5, kOurLineage);
  sfs::remove_all(data + "/wal");
  const auto before = data_bytes(data);
  const std::string pristine = tmp / "pristine";
  sfs::copy(data, pristine, sfs::copy_options::recursive);
  for (const bool stall : {false, true}) {
    SCOPED_TRACE(stall ? "stalls after the probe" : "closes after the probe");
    VanishingGitRemote remote(served, /*serve=*/1, stall);
    RecoveryConfig strict = recovery_config(data);
    strict.mode = RecoveryMode::kStrict;
    strict.loop_max = 100;
    const auto start = std::chrono::steady_clock::now();
    RecoveryResult r = run(strict, git_config(remote.url("remote.git"), 1500));
    EXPECT_EQ(r.state, RecoveryState::kFailed);
    // The failing fetch is named with the remote (its URL) and the cause.
    EXPECT_NE(r.error.find("fetching finn/archive from " + remote.url("remote.git")),
              std::string::npos)
        << r.error;
    if (stall) EXPECT_NE(r.error.find("GIT_TIMEOUT_MS"), std::string::npos) << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
    EXPECT_GE(remote.connections(), 2);
    const RecoverySourceReport* g = source(r, RecoverySource::kGit);
    ASSERT_NE(g, nullptr);
    EXPECT_TRUE(g->reachable) << g->line;
    EXPECT_EQ(g->head_seq, seq);
    auto after = data_bytes(data);
    after.erase(".recovery/");
    after.erase(".recovery/failures.json");
    EXPECT_EQ(after, before);
  }
  {
    // Degraded: the failed restore is reported and the next source used.
    VanishingGitRemote remote(served, 1, false);
    RecoveryConfig c = recovery_config(data);
    c.loop_max = 100;
    const RecoveryResult r = run(c, git_config(remote.url("remote.git"), 1500));
    ASSERT_EQ(r.state, RecoveryState::kDegraded) << r.error;
    EXPECT_NE(r.source, RecoverySource::kGit);
    const std::string missing = nlohmann::json(r.missing).dump();
    EXPECT_NE(missing.find("git ("), std::string::npos) << missing;
    EXPECT_NE(missing.find(fmt::format("entries 1-{}", seq)), std::string::npos) << missing;
  }
  {
    // The degraded run started over (ours kept aside under .recovery/).
    sfs::remove_all(data);
    sfs::copy(pristine, data, sfs::copy_options::recursive);
  }
  {
    // Never answering, from the first byte: the probe gives up within
    // RECOVERY_PROBE_TIMEOUT_MS; strict fails naming it.
    TcpServer silent([](int fd) {
      pollfd p{fd, POLLIN, 0};
      char b[512];
      for (int i = 0; i < 50; ++i)
        if (::poll(&p, 1, 100) > 0 && ::recv(fd, b, sizeof(b), 0) <= 0) return;
    });
    RecoveryConfig strict = recovery_config(data);
    strict.mode = RecoveryMode::kStrict;
    strict.loop_max = 100;
    strict.probe_timeout = std::chrono::milliseconds(1000);
    const RecoveryResult r =
        run(strict, git_config(fmt::format("git://127.0.0.1:{}/remote.git", silent.port()), 4000));
    EXPECT_EQ(r.state, RecoveryState::kFailed);
    EXPECT_NE(r.error.find("git could not be read"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("RECOVERY_PROBE_TIMEOUT_MS"), std::string::npos) << r.error;
    auto after = data_bytes(data);
    after.erase(".recovery/");
    after.erase(".recovery/failures.json");
    EXPECT_EQ(after, before);
  }
}

}  // namespace
}  // namespace strata::testing
