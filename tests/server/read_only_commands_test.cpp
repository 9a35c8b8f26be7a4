// `strata status|get|replay|snapshot|verify` while `strata serve` owns the
// WAL: they read it through WalReader (no lock, nothing written), so they
// answer while the daemon runs and see what it has acknowledged.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "server/daemon_process.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::DaemonProcess;
using testing::entry_body;
using testing::get;
using testing::post;
using testing::run_strata;
using testing::TempDir;

TEST(ReadOnlyCommands, StatusGetReplaySnapshotAndVerifyWorkWhileTheDaemonRuns) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.start();
  auto c = d.client();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(post(*c, "/v1/entries", entry_body(fmt::format("beads/{}", i), "v")).status, 200);
  }
  auto strata = [&](std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {"--data-dir", d.data_dir()});
    std::string err;
    const int rc = run_strata(args, d.env(), out, &err);
    EXPECT_EQ(rc, 0) << fmt::format("strata {}: {}", fmt::join(args, " "), err);
    return rc;
  };

  std::string out;
  ASSERT_EQ(strata({"status", "--json"}, &out), 0);
  const auto status = nlohmann::json::parse(out);
  EXPECT_EQ(status["head_seq"], 5) << out;

  ASSERT_EQ(strata({"get", "5"}, &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["path"], "beads/4") << out;

  ASSERT_EQ(strata({"replay", "--since", "2"}, &out), 0);
  std::vector<uint64_t> seqs;
  size_t at = 0;
  while (at < out.size()) {
    const size_t end = out.find('\n', at);
    seqs.push_back(nlohmann::json::parse(out.substr(at, end - at))["seq"].get<uint64_t>());
    at = end == std::string::npos ? out.size() : end + 1;
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 4, 5})) << out;

  ASSERT_EQ(strata({"snapshot"}, &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["head_seq"], 5) << out;
  ASSERT_EQ(strata({"verify"}, &out), 0);

  // The daemon still owns the WAL and goes on.
  const auto next = post(*c, "/v1/entries", entry_body("beads/next", "v"));
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.json()["seq"], 6);
  ASSERT_EQ(strata({"status", "--json"}, &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["head_seq"], 6) << out;
}

}  // namespace
}  // namespace strata
