// What the command line prints: exactly one `strata: CODE: message` line on
// failure, names escaped so nothing drives the terminal, the state's own
// damage reported rather than failing `status` (issue 10).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/cli_fixture.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

bool has_control_byte(const std::string& s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
  }
  return false;
}

// Regression test (defect 14): the "segment '...'" part of the path error
// reached the terminal raw.
TEST_F(Cli, PathErrorEscapesControlCharacters) {
  std::string err;
  EXPECT_EQ(
      run("append --type bead --op create --path \"$(printf 'ok/a\\033]0;pwned\\007')\" --data x",
          nullptr, &err),
      2);
  EXPECT_FALSE(has_control_byte(err)) << err;
  EXPECT_NE(err.find("segment 'a\\x1b]0;pwned\\x07'"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

// Regression test (defect 14): `remote ls` printed names with control
// characters raw (a name can hold them on disk, or in an S3 listing).
TEST_F(Cli, RemoteLsEscapesControlCharactersInNames) {
  fs::create_directories(data_ + "/remote");
  write_file(data_ + "/remote/a\x1b[31mb", "x");
  write_file(data_ + "/remote/ok", "y");
  std::string out;
  ASSERT_EQ(run("remote ls", &out), 0) << last_err_;
  EXPECT_FALSE(has_control_byte(out)) << out;
  EXPECT_EQ(out, "a\\x1b[31mb\nok\n");
}

// Regression test: a failure printed a log line besides the one
// `strata: CODE: message` line (here the WAL's "refusing writes").
TEST_F(Cli, FailurePrintsExactlyOneLine) {
  append("a", "1");
  std::string out, err;
  EXPECT_EQ(
      run("append --type bead --op create --path b --data 2", &out, &err, "",
          "WAL_MIN_FREE_BYTES=18446744073709551615 WAL_RESUME_FREE_BYTES=18446744073709551615"),
      3);
  EXPECT_EQ(err.rfind("strata: DISK_FULL: ", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_TRUE(out.empty()) << out;
}

TEST_F(Cli, WarningsOfASuccessfulCommandAreStillPrinted) {
  append("a", "1");
  // A torn tail is cut (and logged) when the WAL is opened for writing
  // (`status` reads without the lock and cuts nothing).
  const std::string seg = testing::segment_path(data_ + "/wal", 1);
  const std::string bytes = read_file(seg);
  write_file(seg, bytes + std::string("\x07garbage", 8));
  std::string err;
  ASSERT_EQ(run("append --type bead --op create --path b --data 2", nullptr, &err), 0) << err;
  EXPECT_NE(err.find("warning"), std::string::npos) << err;
  EXPECT_FALSE(has_control_byte(err)) << err;
}

// Regression test: a damaged state.seq made `status` fail.
TEST_F(Cli, DamagedStateSeqIsReportedByStatus) {
  append("a", "1");
  write_file(data_ + "/state.seq", "garbage\n");
  std::string out, err;
  ASSERT_EQ(run("status", &out, &err), 0) << err;
  EXPECT_NE(out.find("head seq:       1"), std::string::npos) << out;
  EXPECT_NE(out.find("state applied:  unknown (IO_ERROR"), std::string::npos) << out;
  ASSERT_EQ(run("status --json", &out, &err), 0) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["head_seq"], 1);
  EXPECT_TRUE(j["state_applied_seq"].is_null());
  EXPECT_NE(j["state_error"].get<std::string>().find("state.seq"), std::string::npos);
}

// Regression test: an empty state.tmp/ was left after every materialize.
TEST_F(Cli, MaterializeLeavesNoStagingDirectory) {
  append("a/b", "1");
  ASSERT_EQ(run("materialize"), 0) << last_err_;
  EXPECT_TRUE(fs::exists(data_ + "/state/a/b"));
  EXPECT_FALSE(fs::exists(data_ + "/state.tmp"));
}

// Regression test (defect 9), the steps: append a; copy wal/ aside;
// append b; materialize; put the old wal/ back; append c and d;
// materialize. The state held a, b (in no log) and d, and no c.
TEST_F(Cli, RolledBackWalThenAppendsMaterializesWhatTheWalHolds) {
  append("a", "A");
  fs::copy(data_ + "/wal", tmp_ / "wal.aside", fs::copy_options::recursive);
  append("b", "B");
  ASSERT_EQ(run("materialize"), 0) << last_err_;
  fs::remove_all(data_ + "/wal");
  fs::copy(tmp_ / "wal.aside", data_ + "/wal", fs::copy_options::recursive);
  EXPECT_EQ(append("c", "C"), 2u);
  EXPECT_EQ(append("d", "D"), 3u);
  std::string out, err;
  ASSERT_EQ(run("materialize", &out, &err), 0) << err;
  EXPECT_EQ(out, "3\n");
  EXPECT_NE(err.find("rebuilding"), std::string::npos) << err;
  EXPECT_EQ(testing::dir_bytes(data_ + "/state"),
            (std::map<std::string, std::string>{{"a", "A"}, {"c", "C"}, {"d", "D"}}));
}

}  // namespace
}  // namespace strata
