// Smoke tests of `strata bench`: tiny counts, checking that every subcommand
// runs and prints the promised JSON fields. Nothing here asserts speed: the
// machine is shared and noisy, and speed is what the benchmark reports.
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

namespace {

using nlohmann::json;
using strata::testing::run_command;
using strata::testing::TempDir;

struct CmdRun {
  int status = -1;
  std::string out;
};

CmdRun bench(const TempDir& tmp, const std::string& args) {
  CmdRun r;
  const std::string cmd = std::string(STRATA_BINARY) + " --data-dir " + tmp.path() +
                          "/data bench " + args + " --dir " + tmp.path() + "/b 2>" + tmp.path() +
                          "/stderr";
  r.status = run_command(cmd, &r.out);
  return r;
}

std::vector<json> lines(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) v.push_back(json::parse(line));
  }
  return v;
}

// The fields every result carries, with sane relations between them.
void expect_common(const json& j) {
  for (const char* k : {"name", "params", "ops", "seconds", "ops_per_s", "mb_per_s", "p50_us",
                        "p99_us", "p999_us", "fsyncs", "mean_group_size"}) {
    EXPECT_TRUE(j.contains(k)) << k << " missing in " << j.dump();
  }
  EXPECT_TRUE(j["params"].is_object());
  EXPECT_GT(j["ops"].get<uint64_t>(), 0u);
  EXPECT_GE(j["p99_us"].get<double>(), j["p50_us"].get<double>());
  EXPECT_GE(j["p999_us"].get<double>(), j["p99_us"].get<double>());
}

bool dir_empty_or_missing(const std::string& path) {
  return !std::filesystem::exists(path) || std::filesystem::is_empty(path);
}

TEST(BenchCommand, FsyncReportsEachThreadCountAndFileKind) {
  TempDir tmp;
  CmdRun r = bench(tmp, "fsync --json --threads 1,2 --count 6 --size 64");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 4u);
  for (const auto& j : v) {
    expect_common(j);
    EXPECT_EQ(j["name"], "fsync");
    EXPECT_EQ(j["ops"], 6);
    EXPECT_EQ(j["fsyncs"], 6);
    EXPECT_EQ(j["params"]["size"], 64);
  }
  EXPECT_EQ(v[0]["params"]["threads"], 1);
  EXPECT_EQ(v[0]["params"]["file"], "growing");
  EXPECT_EQ(v[1]["params"]["file"], "preallocated");
  EXPECT_EQ(v[3]["params"]["threads"], 2);
  EXPECT_TRUE(dir_empty_or_missing(tmp / "b"));
}

TEST(BenchCommand, DurableAppendReportsGroupCommitAndRatio) {
  TempDir tmp;
  CmdRun r = bench(tmp,
                   "append --json --sync always --threads 1,3 --count 30 --size 100 "
                   "--baseline-seconds 0.05");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0]["name"], "fsync");
  for (size_t i = 1; i < 3; ++i) {
    const auto& j = v[i];
    expect_common(j);
    EXPECT_EQ(j["name"], "append");
    EXPECT_EQ(j["params"]["sync"], "always");
    EXPECT_EQ(j["ops"], 30);
    EXPECT_GE(j["fsyncs"].get<uint64_t>(), 1u);
    // Each entry is durable after at most one group commit of its own.
    EXPECT_GE(j["mean_group_size"].get<double>(), 1.0);
    EXPECT_TRUE(j.contains("ratio_to_fsync"));
    // The format's promise (issue 5): at most 40 bytes per entry beyond
    // payload and path, segment header included.
    EXPECT_LE(j["overhead_bytes_per_entry"].get<double>(), 40.0);
  }
  EXPECT_EQ(v[2]["params"]["threads"], 3);
  EXPECT_TRUE(dir_empty_or_missing(tmp / "b"));
}

TEST(BenchCommand, BufferedAppendWithoutBaseline) {
  TempDir tmp;
  CmdRun r = bench(tmp, "append --json --sync none --count 2000 --no-baseline");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 1u);
  expect_common(v[0]);
  EXPECT_EQ(v[0]["params"]["sync"], "none");
  EXPECT_EQ(v[0]["ops"], 2000);
  EXPECT_FALSE(v[0].contains("ratio_to_fsync"));
}

TEST(BenchCommand, ReplayCountsEveryEntry) {
  TempDir tmp;
  CmdRun r = bench(tmp, "replay --json --entries 700 --size 50 --passes 2");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 1u);
  expect_common(v[0]);
  EXPECT_EQ(v[0]["name"], "replay");
  EXPECT_EQ(v[0]["ops"], 700);
  EXPECT_GT(v[0]["params"]["log_bytes"].get<uint64_t>(), 700u * 50u);
  EXPECT_LE(v[0]["overhead_bytes_per_entry"].get<double>(), 40.0);
}

TEST(BenchCommand, OpenAtGrowingLogSizes) {
  TempDir tmp;
  CmdRun r = bench(tmp, "open --json --log-sizes 64K,256K --segment-bytes 32K --times 2");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 2u);
  for (const auto& j : v) {
    expect_common(j);
    EXPECT_EQ(j["name"], "open");
    EXPECT_EQ(j["ops"], 2);
    EXPECT_TRUE(j.contains("open_ms_median"));
  }
  EXPECT_GT(v[1]["params"]["segments"].get<uint64_t>(), v[0]["params"]["segments"].get<uint64_t>());
  EXPECT_GT(v[1]["params"]["entries"].get<uint64_t>(), v[0]["params"]["entries"].get<uint64_t>());
}

TEST(BenchCommand, RandomReads) {
  TempDir tmp;
  CmdRun r = bench(tmp, "read --json --entries 500 --count 40 --threads 1,2");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 2u);
  for (const auto& j : v) {
    expect_common(j);
    EXPECT_EQ(j["name"], "read");
    EXPECT_EQ(j["ops"], 40);
    EXPECT_EQ(j["params"]["entries"], 500);
  }
}

TEST(BenchCommand, HumanTable) {
  TempDir tmp;
  CmdRun r = bench(tmp, "append --count 5 --baseline-seconds 0.02");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  EXPECT_NE(r.out.find("ops/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p999 us"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ratio_to_fsync="), std::string::npos) << r.out;
}

TEST(BenchCommand, SyncShipsEachCompressionAndANothingNewSyncOnlyReadsTheManifest) {
  TempDir tmp;
  CmdRun r = bench(tmp, "sync --json --mb 1");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 2u);
  for (const auto& j : v) {
    EXPECT_EQ(j["name"], "sync");
    EXPECT_GT(j["ops"].get<uint64_t>(), 0u) << j.dump();  // objects uploaded
    EXPECT_GE(j["payload_bytes"].get<uint64_t>(), 1000000u);
    // Log objects hold the WAL's records: exactly its bytes, minus segment
    // headers, uncompressed.
    EXPECT_GT(j["record_bytes"].get<uint64_t>(), j["payload_bytes"].get<uint64_t>());
    EXPECT_LE(j["record_bytes"].get<uint64_t>(), j["wal_bytes"].get<uint64_t>());
    EXPECT_EQ(j["idle_requests"]["writes"], 0) << j.dump();
    EXPECT_EQ(j["idle_requests"]["deletes"], 0) << j.dump();
    EXPECT_EQ(j["idle_requests"]["reads"], 1) << j.dump();
    EXPECT_GT(j["requests"]["writes"].get<uint64_t>(), j["ops"].get<uint64_t>());  // + manifest
  }
  EXPECT_EQ(v[0]["params"]["compression"], "none");
  EXPECT_EQ(v[0]["stored_bytes"], v[0]["record_bytes"]);
  EXPECT_EQ(v[1]["params"]["compression"], "zstd");
  EXPECT_LT(v[1]["stored_bytes"].get<uint64_t>(), v[1]["record_bytes"].get<uint64_t>() / 2);
  // The generated data directories and the store's objects are removed.
  EXPECT_TRUE(dir_empty_or_missing(tmp / "b")) << tmp.path();
}

TEST(BenchCommand, RecoverRestoresFromTheStoreAndFromTheLocalWalInTurn) {
  TempDir tmp;
  // 64 entries of 1 KiB in the snapshot, 256 updates of the same paths after it.
  CmdRun r = bench(tmp,
                   "recover --json --snapshot-kib 64 --log-kib 256 --entry-bytes 1024 "
                   "--repeat 2");
  ASSERT_EQ(r.status, 0) << r.out << strata::testing::read_file(tmp / "stderr");
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 4u) << r.out;
  for (size_t i = 0; i < v.size(); ++i) {
    const json& j = v[i];
    expect_common(j);
    EXPECT_EQ(j["name"], "recover");
    EXPECT_EQ(j["params"]["source"], i % 2 == 0 ? "r2" : "local") << j.dump();
    EXPECT_EQ(j["params"]["run"], static_cast<int>(i / 2 + 1));
    EXPECT_EQ(j["snapshot_entries"], 64);
    EXPECT_EQ(j["log_entries"], 256);
    EXPECT_EQ(j["payload_bytes"], 320 * 1024);
    EXPECT_EQ(j["seq_reached"], 320);
    EXPECT_GT(j["mb_per_s"].get<double>(), 0.0);
  }
  // From the store: the snapshot (64 files), then the 256 entries after it.
  EXPECT_EQ(v[0]["files_restored"], 64);
  EXPECT_EQ(v[0]["entries_restored"], 256);
  EXPECT_EQ(v[0]["entries_replayed"], 256);
  EXPECT_GE(v[0]["objects_downloaded"].get<uint64_t>(), 2u);
  EXPECT_EQ(v[0]["verified"], true);
  // From the local WAL alone: every entry replayed, nothing downloaded.
  EXPECT_EQ(v[1]["entries_replayed"], 320);
  EXPECT_EQ(v[1]["objects_downloaded"], 0);
  EXPECT_TRUE(dir_empty_or_missing(tmp / "b")) << tmp.path();
}

TEST(BenchCommand, UsageErrorsExitTwo) {
  TempDir tmp;
  EXPECT_EQ(bench(tmp, "append --sync sometimes").status, 2);
  EXPECT_EQ(bench(tmp, "append --count 5 --seconds 1").status, 2);
  EXPECT_EQ(bench(tmp, "open --log-sizes 1G,1M").status, 2);
  EXPECT_EQ(bench(tmp, "open --log-sizes 12Q").status, 2);
  EXPECT_EQ(bench(tmp, "sync --compression lz4").status, 2);
  EXPECT_EQ(bench(tmp, "sync --mb 0").status, 2);
  EXPECT_EQ(bench(tmp, "recover --snapshot-kib 0").status, 2);
  EXPECT_EQ(bench(tmp, "recover --repeat 0").status, 2);
}

}  // namespace
