// The lineage id: a ULID made once per data directory, older 32-hex ids
// still read, reading never creates, and creation under injected failures.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/random_id.h"
#include "strata/error.h"
#include "strata/lineage.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::fault;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

TEST(Lineage, MadeOnceAsAUlidAndKept) {
  TempDir t;
  const std::string id = lineage::load_or_create(FileSystem::real(), t.path());
  EXPECT_TRUE(is_ulid(id)) << id;
  EXPECT_EQ(read_file(t / "lineage-id"), id + "\n");
  EXPECT_EQ(lineage::load_or_create(FileSystem::real(), t.path()), id);
  EXPECT_EQ(lineage::read(FileSystem::real(), t.path()), id);
  // Only the id file: no temporary file is left.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(t.path()))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"lineage-id"});
}

TEST(Lineage, CreatesAMissingDataDirectory) {
  TempDir t;
  const std::string id = lineage::load_or_create(FileSystem::real(), t / "new/data");
  EXPECT_EQ(read_file(t / "new/data/lineage-id"), id + "\n");
}

TEST(Lineage, ReadNeverCreates) {
  TempDir t;
  EXPECT_EQ(lineage::read(FileSystem::real(), t.path()), std::nullopt);
  EXPECT_EQ(lineage::read(FileSystem::real(), t / "typo"), std::nullopt);
  EXPECT_FALSE(std::filesystem::exists(t / "lineage-id"));
  EXPECT_FALSE(std::filesystem::exists(t / "typo"));
}

TEST(Lineage, IdsFromEarlierVersionsStayValid) {
  TempDir t;
  write_file(t / "lineage-id", "0123456789abcdef0123456789abcdef\n");
  EXPECT_EQ(lineage::load_or_create(FileSystem::real(), t.path()),
            "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(read_file(t / "lineage-id"), "0123456789abcdef0123456789abcdef\n");
  EXPECT_TRUE(lineage::is_valid("01ARYZ6S41TSV4RRFFQ69G5FAV"));
  EXPECT_FALSE(lineage::is_valid("0123456789ABCDEF0123456789ABCDEF"));  // hex was lower case
}

TEST(Lineage, ARefusedFileIsNamedAndKept) {
  TempDir t;
  write_file(t / "lineage-id", "not an id\n");
  for (auto fn : {+[](const std::string& d) { lineage::read(FileSystem::real(), d); },
                  +[](const std::string& d) { lineage::load_or_create(FileSystem::real(), d); }}) {
    try {
      fn(t.path());
      ADD_FAILURE() << "a bad id was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIoError);
      EXPECT_NE(std::string(e.what()).find(t / "lineage-id"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(read_file(t / "lineage-id"), "not an id\n");
}

TEST(Lineage, RacingProcessesAgreeOnOneId) {
  TempDir t;
  constexpr int kProcs = 6;
  struct Child {
    pid_t pid;
    int out;  // read end of the pipe the child writes its id to
  };
  std::vector<Child> children;
  for (int i = 0; i < kProcs; ++i) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      int rc = 0;
      try {
        const std::string id = lineage::load_or_create(FileSystem::real(), t / "data");
        rc = ::write(fds[1], id.data(), id.size()) == static_cast<ssize_t>(id.size()) ? 0 : 1;
      } catch (...) {
        rc = 2;
      }
      ::_exit(rc);
    }
    ::close(fds[1]);
    children.push_back({pid, fds[0]});
  }
  std::set<std::string> ids;
  for (const Child& c : children) {
    char buf[64] = {};
    ssize_t n = ::read(c.out, buf, sizeof(buf));
    ::close(c.out);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ids.insert(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0));
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(read_file(t / "data/lineage-id"), *ids.begin() + "\n");
}

// Creation goes through write-once: every failure leaves no id (so the next
// run makes one) or the id that is then kept; never a torn or partial file.
TEST(Lineage, InjectedFailuresLeaveNoIdOrAWholeOne) {
  for (FsOp op : {FsOp::kOpen, FsOp::kWrite, FsOp::kSync, FsOp::kLink, FsOp::kSyncDir}) {
    TempDir t;
    FaultInjectionFileSystem fi;
    fi.add_rule(fault(op, op == FsOp::kSyncDir ? "" : "lineage-id"));
    EXPECT_THROW(lineage::load_or_create(fi, t.path()), Error) << static_cast<int>(op);
    auto left = lineage::read(FileSystem::real(), t.path());
    if (op == FsOp::kSyncDir) {
      ASSERT_TRUE(left);  // linked, then the directory fsync failed
      EXPECT_TRUE(is_ulid(*left));
    } else {
      EXPECT_EQ(left, std::nullopt) << static_cast<int>(op);
    }
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(t.path())) ++entries;
    EXPECT_EQ(entries, left ? 1u : 0u) << static_cast<int>(op);
    // The next attempt (no fault left) keeps or makes exactly one id.
    const std::string id = lineage::load_or_create(fi, t.path());
    if (left) {
      EXPECT_EQ(id, *left);
    }
    EXPECT_EQ(lineage::load_or_create(FileSystem::real(), t.path()), id);
  }
}

}  // namespace
}  // namespace strata
