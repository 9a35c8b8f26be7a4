// The `strata` command line, run as a separate process: exit codes (0 ok,
// 1 not found / check failed, 2 usage, 3 other), output formats, and that a
// bad input line writes nothing.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_fixture.h"
#include "strata/hash.h"

namespace strata {
namespace {

TEST_F(Cli, HelpEverywhereExitsZero) {
  for (const char* cmd : {"", "append", "get", "replay", "status", "metrics", "snapshot", "verify",
                          "truncate-after", "compact", "materialize"}) {
    std::string out;
    EXPECT_EQ(run(fmt::format("{} --help", cmd), &out), 0) << cmd << ": " << last_err_;
    EXPECT_NE(out.find("Usage"), std::string::npos) << cmd << ": " << out;
  }
}

TEST_F(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run(""), 2);                                // no subcommand
  EXPECT_EQ(run("frobnicate"), 2);                      // unknown subcommand
  EXPECT_EQ(run("replay --bogus"), 2);                  // unknown option
  EXPECT_EQ(run("get"), 2);                             // missing SEQ
  EXPECT_EQ(run("get abc"), 2);                         // not a number
  EXPECT_EQ(run("append --type bead --op create"), 2);  // no --path
  EXPECT_EQ(run("append --type bead --op create --path p --data a --data-file f"), 2);
  EXPECT_EQ(run("append --jsonl --type bead"), 2);
  EXPECT_FALSE(std::filesystem::exists(data_ + "/wal")) << "a usage error touched the data dir";
}

TEST_F(Cli, AppendPrintsSeqs) {
  EXPECT_EQ(append("a/b", "one"), 1u);
  EXPECT_EQ(append("a/c", "two"), 2u);
}

TEST_F(Cli, AppendBadTypeIsUsageErrorAndWritesNothing) {
  append("first", "x");
  std::string err;
  EXPECT_EQ(run("append --type nonsense --op create --path p --data x", nullptr, &err), 2);
  EXPECT_NE(err.find("nonsense"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one clear line: " << err;
  EXPECT_EQ(run("append --type bead --op explode --path p --data x"), 2);
  EXPECT_EQ(replay().size(), 1u);
}

TEST_F(Cli, AppendBadPathIsUsageErrorAndWritesNothing) {
  append("first", "x");
  std::string err;
  EXPECT_EQ(run("append --type bead --op create --path ../etc/passwd --data x", nullptr, &err), 2);
  EXPECT_NE(err.find("INVALID_PATH"), std::string::npos) << err;
  EXPECT_EQ(run("append --type bead --op create --path /abs --data x"), 2);
  EXPECT_EQ(replay().size(), 1u);
}

TEST_F(Cli, OtherFailuresExitThree) {
  std::string err;
  EXPECT_EQ(run("append --type bead --op create --path p --data x", nullptr, &err, "",
                "WAL_SYNC=sometimes"),
            3);
  EXPECT_NE(err.find("CONFIG_INVALID"), std::string::npos) << err;
  EXPECT_NE(err.find("WAL_SYNC"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST_F(Cli, GetMissingExitsOne) {
  append("a", "1");
  std::string out, err;
  EXPECT_EQ(run("get 2", &out, &err), 1);
  EXPECT_TRUE(out.empty());
  EXPECT_NE(err.find("NOT_FOUND"), std::string::npos) << err;
  EXPECT_EQ(run("get 0"), 1);
}

TEST_F(Cli, GetPrintsAllFieldsWithSha256) {
  append("cfg/x.json", "{\"k\":\"v\"} caf\xc3\xa9");
  std::string out;
  ASSERT_EQ(run("get 1", &out), 0) << last_err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["seq"], 1);
  EXPECT_TRUE(j["timestamp"].is_number_unsigned());
  EXPECT_GT(j["timestamp"].get<uint64_t>(), 1600000000000u);
  EXPECT_EQ(j["type"], "bead");
  EXPECT_EQ(j["op"], "create");
  EXPECT_EQ(j["path"], "cfg/x.json");
  EXPECT_EQ(j["data"], "{\"k\":\"v\"} caf\xc3\xa9");
  EXPECT_FALSE(j.contains("data_b64"));
  EXPECT_EQ(j["sha256"], sha256_hex("{\"k\":\"v\"} caf\xc3\xa9"));
}

TEST_F(Cli, GetUsesDataB64ForNonUtf8) {
  const std::string bin("\xff\xfe\x00\x01binary\x80", 11);
  write_file(tmp_ / "blob", bin);
  std::string out;
  ASSERT_EQ(run(fmt::format("append --type memory --op update --path m/blob --data-file {}",
                            shell_quote(tmp_ / "blob")),
                &out),
            0)
      << last_err_;
  ASSERT_EQ(run("get 1", &out), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_FALSE(j.contains("data"));
  EXPECT_EQ(base64_decode(j["data_b64"].get<std::string>()), bin);
  EXPECT_EQ(j["sha256"], sha256_hex(bin));
  EXPECT_EQ(j["type"], "memory");
  EXPECT_EQ(j["op"], "update");
}

TEST_F(Cli, AppendJsonlReportsBadLinesByNumberAndWritesOnlyGoodOnes) {
  const std::string in =
      "{\"type\":\"session\",\"op\":\"create\",\"path\":\"s/1\",\"data\":\"a\"}\n"      // 1
      "{not json\n"                                                                     // 2
      "{\"type\":\"session\",\"op\":\"create\",\"path\":\"../x\",\"data\":\"b\"}\n"     // 3
      "{\"type\":\"bead\",\"op\":\"update\",\"path\":\"b/2\",\"data_b64\":\"AAEC\"}\n"  // 4
      "{\"type\":\"nope\",\"op\":\"create\",\"path\":\"s/3\"}\n"                        // 5
      "{\"type\":\"config\",\"op\":\"delete\",\"path\":\"s/1\"}\n"                      // 6
      "{\"type\":\"config\",\"op\":\"create\",\"path\":\"s/9\",\"extra\":1}\n";         // 7
  std::string out, err;
  // Regression test (issue 10): bad lines exited 3 where the single-entry
  // form exits 2, and the seq lines did not say which line they were for.
  EXPECT_EQ(run("append --jsonl", &out, &err, in), 2) << "bad lines are bad input: exit 2";
  EXPECT_EQ(out, "1 line 1\n2 line 4\n3 line 6\n");
  for (int bad : {2, 3, 5, 7}) {
    EXPECT_NE(err.find(fmt::format("line {}:", bad)), std::string::npos) << bad << ": " << err;
  }
  for (int good : {1, 4, 6}) {
    EXPECT_EQ(err.find(fmt::format("line {}:", good)), std::string::npos) << good << ": " << err;
  }
  auto lines = replay();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["path"], "s/1");
  EXPECT_EQ(lines[1]["path"], "b/2");
  EXPECT_EQ(lines[1]["sha256"], sha256_hex(std::string("\x00\x01\x02", 3)));
  EXPECT_EQ(lines[2]["op"], "delete");
}

TEST_F(Cli, AppendJsonlAllGoodExitsZero) {
  std::string out;
  EXPECT_EQ(run("append --jsonl", &out, nullptr,
                "{\"type\":\"session\",\"op\":\"create\",\"path\":\"a\",\"data\":\"1\"}\n\n"
                "{\"type\":\"session\",\"op\":\"create\",\"path\":\"b\"}\n"),
            0)
      << last_err_;
  EXPECT_EQ(out, "1 line 1\n2 line 3\n") << "blank lines count as lines";
}

// Regression test: a number beyond a double is nlohmann-json's out_of_range,
// not its parse_error; it escaped the per-line report and ended the command
// (the daemon's body parser had the same hole, found by fuzz/entries_fuzz.cpp).
TEST_F(Cli, AppendJsonlReportsANumberBeyondADoubleAsABadLine) {
  std::string out, err;
  EXPECT_EQ(run("append --jsonl", &out, &err,
                "{\"type\":\"session\",\"op\":\"create\",\"path\":\"a\",\"data\":1e999}\n"
                "{\"type\":\"session\",\"op\":\"create\",\"path\":\"b\"}\n"),
            2);
  EXPECT_EQ(out, "1 line 2\n");
  EXPECT_NE(err.find("line 1:"), std::string::npos) << err;
}

TEST_F(Cli, ReplaySinceAndLimit) {
  for (int i = 1; i <= 10; ++i) append(fmt::format("p/{}", i), fmt::format("v{}", i));
  auto all = replay();
  ASSERT_EQ(all.size(), 10u);
  auto some = replay("--since 3 --limit 4");
  ASSERT_EQ(some.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(some[i]["seq"], 4 + i);
    EXPECT_EQ(some[i]["data"], fmt::format("v{}", 4 + i));
  }
  EXPECT_TRUE(replay("--since 10").empty());
}

TEST_F(Cli, VerifyHealthyExitsZero) {
  for (int i = 0; i < 5; ++i) append(fmt::format("p{}", i), "x");
  std::string out;
  EXPECT_EQ(run("verify", &out), 0) << last_err_;
  EXPECT_NE(out.find("ok"), std::string::npos);
}

TEST_F(Cli, VerifyCorruptedExitsNonZeroNamingFileAndOffset) {
  for (int i = 0; i < 5; ++i) append(fmt::format("p{}", i), std::string(50, 'x'));
  const std::string seg = testing::segment_path(data_ + "/wal", 1);
  const uint64_t second = 32 + 28 + 2 + 50;  // header + first record ("p0", 50 bytes)
  testing::flip_byte(seg, second + 40);
  std::string err;
  int rc = run("verify", nullptr, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find(seg), std::string::npos) << err;
  EXPECT_NE(err.find(std::to_string(second)), std::string::npos) << err;
}

TEST_F(Cli, VerifyCorruptSealedSegmentExitsNonZero) {
  append_many(60, 60, "WAL_SEGMENT_BYTES=4096");
  const std::string seg = testing::segment_path(data_ + "/wal", 1);
  testing::flip_byte(seg, 100);
  std::string err;
  EXPECT_NE(run("verify", nullptr, &err), 0);
  EXPECT_NE(err.find(seg), std::string::npos) << err;
}

TEST_F(Cli, StatusJson) {
  append("a", "1");
  append("b", "2");
  std::string out;
  ASSERT_EQ(run("status --json", &out), 0) << last_err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["head_seq"], 2);
  EXPECT_EQ(j["first_seq"], 1);
  EXPECT_EQ(j["durable_seq"], 2);
  EXPECT_EQ(j["sync"], "always");
  EXPECT_EQ(j["disk_pressure"], "normal");
  EXPECT_EQ(j["stopped"], false);
  EXPECT_EQ(j["state_applied_seq"], 0);
  EXPECT_EQ(run("status", &out), 0);
  EXPECT_NE(out.find("head seq"), std::string::npos);
}

TEST_F(Cli, MetricsJson) {
  append("a", "1");
  std::string out;
  ASSERT_EQ(run("metrics --json", &out), 0) << last_err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j.contains("fsyncs"));
  EXPECT_TRUE(j.contains("torn_bytes_dropped"));
}

TEST_F(Cli, SnapshotJsonListsSealedSegmentsWithSha256) {
  append_many(60, 60, "WAL_SEGMENT_BYTES=4096");
  std::string out;
  ASSERT_EQ(run("snapshot --json", &out, nullptr, "", "WAL_SEGMENT_BYTES=4096"), 0) << last_err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["head_seq"], 60);
  ASSERT_GE(j["sealed"].size(), 2u);
  uint64_t next = 1;
  for (const auto& s : j["sealed"]) {
    EXPECT_EQ(s["first_seq"], next);
    EXPECT_EQ(s["sealed"], true);
    const std::string bytes = read_file(data_ + "/wal/" + s["file"].get<std::string>());
    EXPECT_EQ(s["bytes"], bytes.size());
    EXPECT_EQ(s["sha256"], sha256_hex(bytes.substr(0, bytes.size() - 40)));
    next = s["last_seq"].get<uint64_t>() + 1;
  }
  EXPECT_EQ(j["active"]["sealed"], false);
  EXPECT_EQ(j["active"]["base_seq"], next);
}

TEST_F(Cli, TruncateAfterThenAppendContinues) {
  for (int i = 1; i <= 6; ++i) append(fmt::format("p{}", i), "x");
  std::string out;
  ASSERT_EQ(run("truncate-after 3", &out), 0) << last_err_;
  EXPECT_NE(out.find("3"), std::string::npos);
  EXPECT_EQ(run("get 4"), 1);
  EXPECT_EQ(append("q", "y"), 4u);
  EXPECT_EQ(run("truncate-after x"), 2);
}

TEST_F(Cli, CompactRuns) {
  append_many(60, 2, "WAL_SEGMENT_BYTES=4096");
  std::string out;
  ASSERT_EQ(run("compact", &out, nullptr, "", "WAL_SEGMENT_BYTES=4096"), 0) << last_err_;
  EXPECT_NE(out.find("dropped 0 entries"), std::string::npos) << out;
  ASSERT_EQ(run("compact --force", &out, nullptr, "", "WAL_SEGMENT_BYTES=4096"), 0) << last_err_;
  EXPECT_EQ(out.find("dropped 0 entries"), std::string::npos) << out;
  EXPECT_EQ(run("verify"), 0) << last_err_;
  auto lines = replay();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["seq"], 60);
}

TEST_F(Cli, MaterializeWritesStateAndPrintsSeq) {
  append("dir/a", "A");
  append("dir/b", "B");
  std::string out;
  ASSERT_EQ(run("append --type bead --op delete --path dir/b", &out), 0) << last_err_;
  ASSERT_EQ(run("materialize", &out), 0) << last_err_;
  EXPECT_EQ(out, "3\n");
  EXPECT_EQ(read_file(data_ + "/state/dir/a"), "A");
  EXPECT_FALSE(std::filesystem::exists(data_ + "/state/dir/b"));
  {
    // First line: the seq; second: the WAL history it was applied from.
    const std::string seq_file = read_file(data_ + "/state.seq");
    EXPECT_EQ(seq_file.substr(0, seq_file.find('\n') + 1), "3\n");
    EXPECT_EQ(seq_file.substr(seq_file.find('\n') + 1, 8), "history ");
  }
  ASSERT_EQ(run("status --json", &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["state_applied_seq"], 3);
}

}  // namespace
}  // namespace strata
