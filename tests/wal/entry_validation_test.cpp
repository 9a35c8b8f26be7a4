// Entry rules: path validation (one test per rule), type/op parsing, the size
// limit, and that every refusal leaves the WAL directory byte-for-byte as it was.
#include <gtest/gtest.h>

#include <string>

#include "strata/entry.h"
#include "strata/error.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::dir_bytes;
using testing::make_entry;
using testing::TempDir;

// Expects validate_entry_path to refuse `path` with kInvalidPath and a message
// containing `why`.
void expect_bad_path(const std::string& path, const std::string& why) {
  try {
    validate_entry_path(path);
    ADD_FAILURE() << "path accepted: " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPath) << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos)
        << "message '" << e.what() << "' does not mention '" << why << "'";
  }
}

TEST(PathValidation, AcceptsOrdinaryRelativePaths) {
  for (const char* p : {"a", "a/b/c", "sessions/2024-01-01/log.txt", "A-Z_0.9", ".hidden/x", "...",
                        "a..b", "-dash"}) {
    EXPECT_NO_THROW(validate_entry_path(p)) << p;
  }
}

TEST(PathValidation, RejectsEmpty) {
  expect_bad_path("", "empty");
}

TEST(PathValidation, RejectsLeadingSlash) {
  expect_bad_path("/etc/passwd", "relative");
}

TEST(PathValidation, RejectsDotDotSegment) {
  expect_bad_path("..", "'..'");
  expect_bad_path("a/../b", "'..'");
  expect_bad_path("a/..", "'..'");
}

TEST(PathValidation, RejectsDotSegment) {
  expect_bad_path(".", "'.'");
  expect_bad_path("a/./b", "'.'");
}

TEST(PathValidation, RejectsEmptySegment) {
  expect_bad_path("a//b", "empty segment");
  expect_bad_path("a/", "empty segment");
}

TEST(PathValidation, RejectsNulByte) {
  expect_bad_path(std::string("a\0b", 3), "NUL");
  expect_bad_path(std::string("ab\0", 3), "NUL");
}

TEST(PathValidation, AcceptsExactly1024BytesRejects1025) {
  std::string segmented;
  while (segmented.size() < 1024) segmented += "abc/";
  segmented.resize(1024);
  if (segmented.back() == '/') segmented.back() = 'z';
  EXPECT_NO_THROW(validate_entry_path(segmented));
  expect_bad_path(std::string(1025, 'x'), "1024");
}

// Regression test (issue 10, defect 1): only the 1,024-byte total was
// checked, so a 300-byte segment was accepted and then failed every
// materialize with "File name too long", blocking every later entry.
TEST(PathValidation, RejectsSegmentsOver255Bytes) {
  EXPECT_NO_THROW(validate_entry_path(std::string(255, 'a')));
  EXPECT_NO_THROW(validate_entry_path("ok/" + std::string(255, 'b') + "/c"));
  expect_bad_path(std::string(256, 'a'), "256 bytes");
  expect_bad_path("ok/" + std::string(300, 'b'), "255");
  expect_bad_path(std::string(1024, 'x'), "255");
}

// Regression test (issue 10, defect 2): the WAL accepted names the Git tier
// then silently left out of every snapshot. These are exactly what git and
// libgit2 refuse in a tree (tests/git checks the list against both).
TEST(PathValidation, RejectsNamesGitReserves) {
  for (const char* p : {".git", ".git/config", "sub/.GIT", "a/.Git/b", ".git.", "x/.git..",
                        ".GIT...", "deep/er/.gIt"}) {
    expect_bad_path(p, "git reserves");
  }
}

TEST(PathValidation, AcceptsNamesThatOnlyLookLikeGit) {
  for (const char* p : {".gitx", ".gitmodules", ".gitignore", "a.git", "x/.git-y", "git", "GIT",
                        ".git_", "..git", "sub/.git.x"}) {
    EXPECT_NO_THROW(validate_entry_path(p)) << p;
  }
}

// Regression test (issue 10, defect 14): the "segment '...'" part of the
// message carried control characters raw to the terminal.
TEST(PathValidation, MessageEscapesControlCharacters) {
  try {
    validate_entry_path("ok/a\x1b]0;pwned\x07\x1b[2J/b");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (unsigned char c : msg) EXPECT_FALSE(c < 0x20 || c == 0x7f) << msg;
    EXPECT_NE(msg.find("segment 'a\\x1b]0;pwned\\x07\\x1b[2J'"), std::string::npos) << msg;
  }
}

TEST(PathValidation, RejectsNonAsciiUnicode) {
  expect_bad_path("caf\xc3\xa9", "[A-Za-z0-9._-]");
  expect_bad_path("\xe2\x98\x83/x", "[A-Za-z0-9._-]");
}

TEST(PathValidation, RejectsCharactersOutsideTheSet) {
  for (const char* p : {"a b", "a\\b", "a:b", "a*b", "a\nb", "~/x", "a?b"}) {
    expect_bad_path(p, "[A-Za-z0-9._-]");
  }
}

TEST(EntryNames, TypeAndOpRoundTrip) {
  for (auto t : {EntryType::kSession, EntryType::kBead, EntryType::kMemory, EntryType::kConfig}) {
    EXPECT_EQ(parse_entry_type(entry_type_name(t)), t);
  }
  for (auto o : {EntryOp::kCreate, EntryOp::kUpdate, EntryOp::kDelete}) {
    EXPECT_EQ(parse_entry_op(entry_op_name(o)), o);
  }
  EXPECT_EQ(entry_type_name(EntryType::kBead), "bead");
  EXPECT_EQ(entry_op_name(EntryOp::kDelete), "delete");
}

TEST(EntryNames, UnknownTypeNamesAcceptedValues) {
  for (const char* bad : {"Session", "", "beads", "session "}) {
    try {
      parse_entry_type(bad);
      ADD_FAILURE() << "accepted type '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("session, bead, memory or config"), std::string::npos)
          << e.what();
    }
  }
}

TEST(EntryNames, UnknownOpNamesAcceptedValues) {
  for (const char* bad : {"Create", "", "remove"}) {
    try {
      parse_entry_op(bad);
      ADD_FAILURE() << "accepted op '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("create, update or delete"), std::string::npos)
          << e.what();
    }
  }
}

// ---- refusals through the WAL change nothing on disk

class WalRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = testing::test_options(dir_);
    o.max_entry_bytes = 100;
    wal_ = Wal::open(o);
    ASSERT_EQ(wal_->append(make_entry("first", "one")), 1u);
    before_ = dir_bytes(dir_);
  }
  // Runs f, expects strata::Error with `code`, and that nothing changed.
  template <typename F>
  void expect_refused(F f, ErrorCode code) {
    try {
      f();
      ADD_FAILURE() << "not refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
    EXPECT_EQ(dir_bytes(dir_), before_) << "a refusal changed the WAL directory";
    EXPECT_EQ(wal_->status().head_seq, 1u);
    // The log continues without a gap.
    EXPECT_EQ(wal_->append(make_entry("after", "x")), 2u);
  }

  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
  std::unique_ptr<Wal> wal_;
  std::map<std::string, std::string> before_;
};

TEST_F(WalRefusal, BadPathChangesNothing) {
  expect_refused([&] { wal_->append(make_entry("../escape")); }, ErrorCode::kInvalidPath);
}

TEST_F(WalRefusal, NulInPathChangesNothing) {
  expect_refused([&] { wal_->append(make_entry(std::string("a\0b", 3))); },
                 ErrorCode::kInvalidPath);
}

TEST_F(WalRefusal, OverlongPathChangesNothing) {
  expect_refused([&] { wal_->append(make_entry(std::string(1025, 'p'), "")); },
                 ErrorCode::kInvalidPath);
}

TEST_F(WalRefusal, InvalidTypeValueChangesNothing) {
  Entry e = make_entry("p");
  e.type = static_cast<EntryType>(9);
  expect_refused([&] { wal_->append(e); }, ErrorCode::kInvalidArgument);
}

TEST_F(WalRefusal, InvalidOpValueChangesNothing) {
  Entry e = make_entry("p");
  e.op = static_cast<EntryOp>(0);
  expect_refused([&] { wal_->append(e); }, ErrorCode::kInvalidArgument);
}

TEST_F(WalRefusal, DeleteWithDataChangesNothing) {
  expect_refused([&] { wal_->append(make_entry("p", "data", EntryOp::kDelete)); },
                 ErrorCode::kInvalidArgument);
}

TEST_F(WalRefusal, EntryOverMaxEntryBytesChangesNothing) {
  // path (1 byte) + data (100 bytes) = 101 > 100
  try {
    wal_->append(make_entry("p", std::string(100, 'd')));
    ADD_FAILURE() << "not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kEntryTooLarge);
    EXPECT_NE(std::string(e.what()).find("WAL_MAX_ENTRY_BYTES"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dir_bytes(dir_), before_);
  EXPECT_EQ(wal_->status().head_seq, 1u);
}

TEST_F(WalRefusal, EntryExactlyAtMaxEntryBytesIsAccepted) {
  EXPECT_EQ(wal_->append(make_entry("p", std::string(99, 'd'))), 2u);
}

TEST_F(WalRefusal, BatchWithOneBadEntryWritesNothing) {
  std::vector<Entry> batch = {make_entry("ok/1"), make_entry("ok/2"), make_entry("bad//path"),
                              make_entry("ok/3")};
  expect_refused([&] { wal_->append_batch(batch); }, ErrorCode::kInvalidPath);
  EXPECT_FALSE(wal_->read_entry(3).has_value());
}

TEST_F(WalRefusal, BatchWithOneTooLargeEntryWritesNothing) {
  std::vector<Entry> batch = {make_entry("ok/1"), make_entry("big", std::string(200, 'x'))};
  expect_refused([&] { wal_->append_batch(batch); }, ErrorCode::kEntryTooLarge);
}

TEST_F(WalRefusal, EmptyBatchChangesNothing) {
  expect_refused([&] { wal_->append_batch({}); }, ErrorCode::kInvalidArgument);
}

TEST_F(WalRefusal, AppendAfterCloseThrowsWalClosed) {
  wal_->close();
  try {
    wal_->append(make_entry("p"));
    ADD_FAILURE() << "append after close accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalClosed);
  }
  EXPECT_EQ(dir_bytes(dir_), before_);
}

}  // namespace
}  // namespace strata
