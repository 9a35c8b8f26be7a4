// Bad input to the command line is a usage error (exit 2) naming what was
// wrong, and writes nothing (issue 10: numbers, --data-file, unknown
// commands, paths no tier can hold, sizes, bench options).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/cli_fixture.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

// Regression test (defect 3): `--data-file DIRECTORY` stored an empty entry
// and exited 0.
TEST_F(Cli, DataFileThatCannotBeReadIsAUsageErrorAndWritesNothing) {
  append("first", "x");
  fs::create_directories(tmp_ / "a-directory");
  write_file(tmp_ / "a-file", "content");
  for (const std::string& bad :
       {tmp_ / "a-directory", tmp_ / "missing", tmp_ / "a-file/under-a-file", std::string()}) {
    std::string err;
    EXPECT_EQ(run("append --type memory --op create --path m --data-file " + shell_quote(bad),
                  nullptr, &err),
              2)
        << bad << ": " << err;
    EXPECT_NE(err.find("--data-file"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  EXPECT_EQ(replay().size(), 1u) << "a refused --data-file wrote an entry";
  std::string out;
  ASSERT_EQ(
      run("append --type memory --op create --path m --data-file " + shell_quote(tmp_ / "a-file"),
          &out),
      0)
      << last_err_;
  EXPECT_EQ(replay().back()["data"], "content");
}

TEST_F(Cli, DataFileMayBeStdin) {
  append("first", "x");
  EXPECT_EQ(run("append --type memory --op create --path m --data-file /dev/stdin", nullptr,
                nullptr, "from stdin"),
            0)
      << last_err_;
  EXPECT_EQ(replay().back()["data"], "from stdin");
}

// Regression test: `get -1` and `get 18446744073709551616` became
// UINT64_MAX (exit 1), `replay --since -1` printed nothing and exited 0.
TEST_F(Cli, NumbersOutsideUint64AreUsageErrors) {
  for (int i = 0; i < 3; ++i) append(fmt::format("p{}", i), "x");
  for (const char* cmd :
       {"get -1", "get 18446744073709551616", "get +1", "get 1e2", "get 0x1", "get ''",
        "replay --since -1", "replay --since 18446744073709551616", "replay --limit -2",
        "truncate-after -1", "truncate-after 18446744073709551616"}) {
    std::string out, err;
    EXPECT_EQ(run(cmd, &out, &err), 2) << cmd << ": " << err;
    EXPECT_TRUE(out.empty()) << cmd << ": " << out;
  }
  EXPECT_EQ(replay().size(), 3u) << "a refused truncate-after truncated";
  EXPECT_EQ(run("get 18446744073709551615"), 1) << last_err_;  // the largest seq: not found
}

// Regression test: `strata bogus` said "A subcommand is required".
TEST_F(Cli, UnknownCommandIsNamed) {
  for (const auto& [cmd, where] :
       std::vector<std::pair<std::string, std::string>>{{"bogus", "strata --help"},
                                                        {"remote bogus", "strata remote --help"},
                                                        {"archive bogus", "strata archive --help"},
                                                        {"bench bogus", "strata bench --help"}}) {
    std::string err;
    EXPECT_EQ(run(cmd, nullptr, &err), 2) << cmd;
    EXPECT_NE(err.find("unknown command 'bogus'"), std::string::npos) << cmd << ": " << err;
    EXPECT_NE(err.find(where), std::string::npos) << cmd << ": " << err;
  }
  std::string err;
  EXPECT_EQ(run("", nullptr, &err), 2);
  EXPECT_NE(err.find("subcommand is required"), std::string::npos) << err;
}

// Regression test (defect 1): a 300-byte segment was accepted, then every
// materialize failed with "File name too long" and no later entry was ever
// applied.
TEST_F(Cli, PathSegmentOver255BytesIsRefusedAtAppend) {
  std::string err;
  EXPECT_EQ(run("append --type config --op create --path ok/" + std::string(300, 'b') + " --data y",
                nullptr, &err),
            2);
  EXPECT_NE(err.find("INVALID_PATH"), std::string::npos) << err;
  EXPECT_NE(err.find("255"), std::string::npos) << err;
  EXPECT_EQ(append("fine", "z"), 1u);
  std::string out;
  ASSERT_EQ(run("materialize", &out), 0) << last_err_;
  EXPECT_EQ(out, "1\n");
  EXPECT_EQ(read_file(data_ + "/state/fine"), "z");
}

// Regression test (defect 2): `.git/config`, `sub/.GIT` and `.git.` were
// accepted, then left out of every snapshot.
TEST_F(Cli, PathsGitReservesAreRefusedAtAppend) {
  append("first", "x");
  for (const char* p : {".git/config", "sub/.GIT", ".git.", "a/.Git../b"}) {
    std::string err;
    EXPECT_EQ(
        run(fmt::format("append --type config --op create --path {} --data y", shell_quote(p)),
            nullptr, &err),
        2)
        << p;
    EXPECT_NE(err.find("INVALID_PATH"), std::string::npos) << p << ": " << err;
    EXPECT_NE(err.find("git reserves"), std::string::npos) << p << ": " << err;
  }
  EXPECT_EQ(replay().size(), 1u);
}

// Regression test: the README's WAL_MAX_BYTES default, 1.5GiB, was refused.
TEST_F(Cli, FractionalSizesWithAUnitAreAccepted) {
  std::string out;
  EXPECT_EQ(run("append --type bead --op create --path p --data x", &out, nullptr, "",
                "WAL_MAX_BYTES=1.5GiB WAL_WARN_BYTES=0.5GiB"),
            0)
      << last_err_;
  EXPECT_EQ(out, "1\n");
  std::string err;
  EXPECT_EQ(run("status", nullptr, &err, "", "WAL_MAX_BYTES=1.5"), 3);
  EXPECT_NE(err.find("CONFIG_INVALID: WAL_MAX_BYTES"), std::string::npos) << err;
}

// Regression test: `bench fsync --dir FILE` printed a raw "filesystem error"
// without a code.
TEST_F(Cli, BenchDirThatIsAFileIsOneCodedLine) {
  write_file(tmp_ / "a-file", "x");
  std::string err;
  EXPECT_EQ(run("bench fsync --count 5 --dir " + shell_quote(tmp_ / "a-file"), nullptr, &err), 2);
  EXPECT_EQ(err.rfind("strata: INVALID_ARGUMENT: ", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  // Under a file: the file system refuses, still one coded line.
  EXPECT_EQ(run("bench fsync --count 5 --dir " + shell_quote(tmp_ / "a-file/sub"), nullptr, &err),
            3);
  EXPECT_EQ(err.rfind("strata: IO_ERROR: ", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

// Regression test: `bench append --segment-bytes 0` was accepted.
TEST_F(Cli, BenchSegmentBytesBelowTheWalsMinimumAreRefused) {
  for (const char* bytes : {"0", "4095", "1.5", "lots"}) {
    std::string err;
    EXPECT_EQ(run(fmt::format("bench append --no-baseline --count 10 --dir {} --segment-bytes {}",
                              shell_quote(tmp_ / "bench"), bytes),
                  nullptr, &err),
              2)
        << bytes << ": " << err;
    EXPECT_NE(err.find("--segment-bytes"), std::string::npos) << err;
  }
  EXPECT_FALSE(fs::exists(tmp_ / "bench")) << "a refused bench ran";
}

}  // namespace
}  // namespace strata
