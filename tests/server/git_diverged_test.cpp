// A Git remote that diverges under the running daemon: someone force-pushes
// the archive branch to another data directory's history (an unrelated
// snapshot of another lineage, at a seq far past ours). The Git tier must
// stop with an error that names the divergence, never count the other
// history as ours (before or after a restart), and so never let the
// pruner drop what only the local log holds; the object tier goes on.
#include <signal.h>

#include <filesystem>

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

// The WAL's persisted mark of tier `name` (GET /v1/status), or -1.
int64_t diverged_wal_mark(httplib::Client& c, const std::string& name) {
  const nlohmann::json status = get(c, "/v1/status").json();
  for (const auto& m : status["wal"]["tiers"])
    if (m["tier"] == name) return m["confirmed_seq"].get<int64_t>();
  return -1;
}

// The value of the sample `name` (with its labels) in Prometheus text, or -1.
double diverged_metric(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

// Commits a snapshot of another data directory (lineage `lineage`, WAL seq
// `seq`) in a fresh repository and force-pushes it over `branch` of
// `bare`: a history that shares nothing with the daemon's.
std::string force_push_unrelated(const std::string& work, const std::string& bare,
                                 const std::string& branch, const std::string& lineage,
                                 uint64_t seq) {
  using testing::git;
  using testing::sh_quote;
  testing::write_tree(work, {{"state/other/file", "not ours"},
                             {"snapshot-manifest.json",
                              fmt::format("{{\"format\":1,\"snapshot_id\":\"other\",\"created_at\":"
                                          "\"2026-01-01T00:00:00Z\",\"wal_seq\":{},\"lineage_id\":"
                                          "\"{}\",\"file_count\":1,\"total_bytes\":8,\"sources\":["
                                          "\"state\"],\"empty_dirs\":[],\"skipped\":[]}}\n",
                                          seq, lineage)}});
  const std::string w = "-C " + sh_quote(work);
  git("init -q " + sh_quote(work));
  git(w + " add -A");
  git(w + " commit -q -m 'another data directory'");
  git(w + " push -q --force " + sh_quote("file://" + bare) + " HEAD:refs/heads/" + branch);
  return git(w + " rev-parse HEAD");
}

TEST(GitDiverged, TheGitTierStopsNamingItNeverCountsTheOtherHistoryAndNothingIsPrunedPastIt) {
  TempDir tmp;
  testing::isolate_git_env(tmp / "githome");
  const std::string served = tmp / "served";
  const std::string bare = served + "/archive.git";
  testing::git_init_bare(bare);
  testing::GitDaemon gitd(served);
  // Small segments and no segment kept past the floor: whatever the floor
  // allows is pruned at once.
  DaemonProcess d(tmp.path(), {{"GIT_REMOTE", gitd.url("archive.git")},
                               {"GIT_SYNC_INTERVAL_MS", "200"},
                               {"GIT_TIMEOUT_MS", "5000"},
                               {"SYNC_INTERVAL_MS", "200"},
                               {"WAL_SEGMENT_BYTES", "16384"},
                               {"PRUNE_KEEP_SEGMENTS", "0"},
                               {"STRATA_BREAKER_FAILURES", "3"},
                               {"STRATA_BREAKER_RESET_MS", "1000"}});
  d.start();
  auto c = d.client();
  const std::string pad(1500, 'p');
  uint64_t head = 0;
  auto append = [&](int n, const std::string& prefix) {
    for (int i = 0; i < n; ++i) {
      const auto r = post(*c, "/v1/entries", entry_body(fmt::format("{}/{}", prefix, i), pad));
      ASSERT_EQ(r.status, 200) << r.body;
      head = r.json()["seq"].get<uint64_t>();
    }
  };
  append(20, "ours");
  ASSERT_TRUE(eventually([&] { return tier(*c, "git")["confirmed_seq"] == head; }))
      << tier(*c, "git").dump() << d.log();
  const uint64_t archived = head;
  // The daemon's snapshots carry its lineage: recovery and the tier's own
  // confirmation tell another history by it.
  const std::string lineage = testing::read_file(d.data_dir() + "/lineage-id").substr(0, 26);
  const std::string manifest = testing::git(fmt::format(
      "--git-dir={} show finn/archive:snapshot-manifest.json", testing::sh_quote(bare)));
  EXPECT_NE(manifest.find(fmt::format("\"lineage_id\": \"{}\"", lineage)), std::string::npos)
      << manifest;

  const std::string other = force_push_unrelated(tmp / "other", bare, "finn/archive",
                                                 "01J0TTTTTTTTTTTTTTTTTTTTTT", 100000);
  append(40, "after");  // about 60 KiB: several segments past the Git tier's mark
  ASSERT_TRUE(eventually([&] {
    const auto t = tier(*c, "git");
    return t["breaker"] != "closed" &&
           t["last_error"].get<std::string>().find("diverged") != std::string::npos;
  })) << tier(*c, "git").dump();
  const auto t = tier(*c, "git");
  EXPECT_NE(t["last_error"].get<std::string>().find("GIT_CONFLICT"), std::string::npos) << t.dump();
  EXPECT_EQ(t["confirmed_seq"], archived) << t.dump();
  // The object tier goes on to the head.
  ASSERT_TRUE(eventually([&] { return tier(*c, "object")["confirmed_seq"] == head; }))
      << tier(*c, "object").dump();
  // /metrics shows the failures and the confirmation held where it was.
  const std::string metrics = get(*c, "/metrics").body;
  EXPECT_GE(diverged_metric(metrics, "strata_tier_failures_total{tier=\"git\"}"), 3.0) << metrics;
  EXPECT_EQ(diverged_metric(metrics, "strata_tier_confirmed_seq{tier=\"git\"}"),
            static_cast<double>(archived))
      << metrics;
  EXPECT_EQ(diverged_wal_mark(*c, "git"), static_cast<int64_t>(archived));
  // Nothing the Git tier does not hold was pruned, and every entry reads.
  const auto wal = get(*c, "/v1/status").json()["wal"];
  EXPECT_LE(wal["retention_floor"].get<uint64_t>(), archived) << wal.dump();
  EXPECT_LE(wal["first_seq"].get<uint64_t>(), archived + 1) << wal.dump();
  for (uint64_t s = archived + 1; s <= head; ++s)
    EXPECT_EQ(get(*c, fmt::format("/v1/entries/{}", s)).status, 200) << s;
  // The remote is left as the other writer left it.
  EXPECT_EQ(
      testing::git(fmt::format("--git-dir={} rev-parse finn/archive", testing::sh_quote(bare))),
      other);

  // After a restart the tier reads its confirmation from the remote tip it
  // last fetched: the other history's must not count (seq 100000, which the
  // daemon would clamp to its head and take as everything archived).
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0) << d.log();
  d.start();
  c = d.client();
  append(5, "restarted");
  ASSERT_TRUE(eventually([&] {
    const auto g = tier(*c, "git");
    return g["failures"].get<int>() >= 1 &&
           g["last_error"].get<std::string>().find("diverged") != std::string::npos;
  })) << tier(*c, "git").dump();
  const auto g = tier(*c, "git");
  EXPECT_TRUE(g["confirmed_seq"].is_null() || g["confirmed_seq"].get<uint64_t>() <= archived)
      << g.dump();
  EXPECT_EQ(diverged_wal_mark(*c, "git"), static_cast<int64_t>(archived));
  const auto wal2 = get(*c, "/v1/status").json()["wal"];
  EXPECT_LE(wal2["retention_floor"].get<uint64_t>(), archived) << wal2.dump();
  EXPECT_LE(wal2["first_seq"].get<uint64_t>(), archived + 1) << wal2.dump();
}

}  // namespace
}  // namespace strata
