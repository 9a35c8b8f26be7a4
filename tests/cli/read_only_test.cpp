// Commands that only read create nothing: a mistyped DATA_DIR is one clear
// error line, not a new empty WAL (issue 10, defect 6).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/cli_fixture.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

// Every entry under dir, recursively (names only).
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const char* const kReadOnly[] = {"status",   "status --json", "get 1",  "replay",
                                 "snapshot", "metrics",       "verify", "archive log"};

// Regression test: `DATA_DIR=./typo strata status` exited 0 showing head 0
// and created wal/LOCK, HISTORY and a segment; so did get, replay, snapshot,
// metrics and verify; `archive log` created a bare repository.
TEST_F(Cli, ReadOnlyCommandsCreateNothingForAMissingDataDir) {
  for (const char* cmd : kReadOnly) {
    std::string out, err;
    EXPECT_EQ(run(cmd, &out, &err), 3) << cmd << ": " << err;
    EXPECT_TRUE(out.empty()) << cmd << ": " << out;
    EXPECT_NE(err.find("strata: NOT_FOUND: "), std::string::npos) << cmd << ": " << err;
    EXPECT_NE(err.find(data_), std::string::npos) << cmd << ": " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << cmd << ": " << err;
    EXPECT_FALSE(fs::exists(data_)) << cmd << " created the data directory";
  }
}

TEST_F(Cli, ReadOnlyCommandsCreateNothingInADataDirWithoutAWal) {
  fs::create_directories(data_ + "/state");
  write_file(data_ + "/state/kept", "x");
  const auto before = listing(data_);
  for (const char* cmd : kReadOnly) {
    std::string err;
    EXPECT_EQ(run(cmd, nullptr, &err), 3) << cmd << ": " << err;
    EXPECT_NE(err.find("NOT_FOUND"), std::string::npos) << cmd << ": " << err;
    EXPECT_EQ(listing(data_), before) << cmd << " created something";
  }
}

TEST_F(Cli, ReadOnlyCommandsStillWorkOnAnExistingWal) {
  append("a", "1");
  for (const char* cmd : {"status", "get 1", "replay", "snapshot", "metrics", "verify"}) {
    EXPECT_EQ(run(cmd), 0) << cmd << ": " << last_err_;
  }
}

// Regression test: `--data-dir ""` created /wal at the file-system root.
TEST_F(Cli, EmptyDataDirIsAUsageError) {
  for (const char* cmd : {"status", "append --type bead --op create --path p --data x"}) {
    std::string err;
    EXPECT_EQ(run_bare(std::string("--data-dir '' ") + cmd, &err), 2) << cmd << ": " << err;
    EXPECT_NE(err.find("--data-dir"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace strata
