// The CLI's object-store commands use the daemon's stand-in store:
// STRATA_LOCAL_REMOTE_DIR when set, else DATA_DIR/remote (issue 13). Before,
// `sync`, `remote` and `recover` always used DATA_DIR/remote, so a store the
// daemon shipped to elsewhere was invisible to them.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/cli_fixture.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

TEST_F(Cli, SyncRemoteAndRecoverUseStrataLocalRemoteDir) {
  const std::string store = tmp_ / "elsewhere";
  const std::string env = "STRATA_LOCAL_REMOTE_DIR=" + shell_quote(store);
  append("a", "one");
  append("b", "two");
  append("a", "three");

  std::string out;
  ASSERT_EQ(run("sync --json", &out, nullptr, "", env), 0) << last_err_;
  const auto synced = nlohmann::json::parse(out);
  EXPECT_EQ(synced["confirmed_seq"], 3);
  EXPECT_EQ(synced["store"], "file://" + store);
  EXPECT_TRUE(fs::exists(store + "/checkpoint.json"));
  EXPECT_FALSE(fs::exists(data_ + "/remote"));

  ASSERT_EQ(run("remote ls", &out, nullptr, "", env), 0) << last_err_;
  EXPECT_NE(out.find("checkpoint.json\n"), std::string::npos) << out;
  EXPECT_NE(out.find("log/"), std::string::npos) << out;

  // A fresh data directory recovers from that store, and only with it.
  data_ = tmp_ / "fresh";
  ASSERT_EQ(run("recover --json", &out, nullptr, "", env), 0) << last_err_;
  const auto recovered = nlohmann::json::parse(out);
  EXPECT_EQ(recovered["source"], "r2") << out;
  EXPECT_EQ(recovered["seq_reached"], 3) << out;
  const auto entries = replay();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2]["data"], "three");
  EXPECT_EQ(read_file(data_ + "/state/a"), "three");

  data_ = tmp_ / "other";
  ASSERT_EQ(run("recover --json", &out), 0) << last_err_;
  EXPECT_EQ(nlohmann::json::parse(out)["seq_reached"], 0) << out;
}

}  // namespace
}  // namespace strata
