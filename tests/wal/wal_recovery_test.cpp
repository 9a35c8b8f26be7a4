// Opening after a crash: torn tails are cut and reported, corruption in the
// middle of the log is refused (or skipped on request), sealed-segment damage
// is found by Wal::verify, leftovers of an interrupted compaction or seal are
// repaired, and the lock keeps a second owner out.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <vector>

#include "strata/error.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::file_size;
using testing::flip_byte;
using testing::patch_file;
using testing::read_file;
using testing::record_bytes;
using testing::segment_files;

class WalRecovery : public testing::SmallLogTest {
 protected:
  void expect_intact(Wal& wal, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i <= to; ++i) {
      auto e = wal.read_entry(i);
      ASSERT_TRUE(e) << "seq " << i;
      EXPECT_EQ(*e, ([&] {
        Entry want = entry(i);
        want.seq = i;
        want.timestamp_ms = e->timestamp_ms;
        return want;
      })());
    }
  }
};

TEST_F(WalRecovery, ActiveSizeMatchesDocumentedRecordLayout) {
  auto [seg, end] = write_and_close(10);
  EXPECT_EQ(end, offset_of(11));
}

TEST_F(WalRecovery, GarbageAfterLastRecordIsCutAndReported) {
  auto [seg, end] = write_and_close(10);
  patch_file(seg, end, "GARBAGE");  // 7 non-zero bytes where the next record would start
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_file, seg);
  EXPECT_EQ(rep.torn_offset, end);
  EXPECT_EQ(rep.torn_bytes_dropped, 7u);
  EXPECT_FALSE(rep.notes.empty());
  EXPECT_EQ(wal->metrics().torn_bytes_dropped, 7u);
  EXPECT_EQ(wal->status().head_seq, 10u);
  expect_intact(*wal, 1, 10);
  EXPECT_EQ(wal->append(entry(11)), 11u);
  wal->close();
  OpenReport rep2;
  auto again = Wal::open(opts(), &rep2);
  EXPECT_EQ(rep2.torn_bytes_dropped, 0u);
  expect_intact(*again, 1, 11);
}

TEST_F(WalRecovery, GarbageAppendedAtEndOfFileIsCut) {
  auto [seg, end] = write_and_close(5);
  const uint64_t size = file_size(seg);
  {
    std::string content = read_file(seg);
    content += "\x01\x02\x03tail";
    testing::write_file(seg, content);
  }
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_file, seg);
  EXPECT_EQ(rep.torn_offset, end);
  EXPECT_EQ(rep.torn_bytes_dropped, size + 7 - end);
  EXPECT_EQ(wal->status().head_seq, 5u);
  expect_intact(*wal, 1, 5);
  EXPECT_EQ(wal->append(entry(6)), 6u);
}

TEST_F(WalRecovery, LastRecordCutInHalfIsDropped) {
  auto [seg, end] = write_and_close(10);
  const uint64_t last = offset_of(10);
  const uint64_t half = record_bytes(entry(10)) / 2;  // lands inside the 'x' data
  testing::truncate_file(seg, last + half);
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_file, seg);
  EXPECT_EQ(rep.torn_offset, last);
  EXPECT_EQ(rep.torn_bytes_dropped, half);
  EXPECT_EQ(wal->status().head_seq, 9u);
  EXPECT_FALSE(wal->read_entry(10).has_value());
  expect_intact(*wal, 1, 9);
  EXPECT_EQ(wal->append(entry(10)), 10u);
  expect_intact(*wal, 1, 10);
}

TEST_F(WalRecovery, LastRecordWithBadCrcIsTornNotCorrupt) {
  auto [seg, end] = write_and_close(10);
  flip_byte(seg, offset_of(10) + 50);
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_offset, offset_of(10));
  EXPECT_EQ(rep.torn_bytes_dropped, record_bytes(entry(10)));
  EXPECT_EQ(wal->status().head_seq, 9u);
  expect_intact(*wal, 1, 9);
}

TEST_F(WalRecovery, OnlyTheHeaderSurvivesMeansAnEmptyLog) {
  auto [seg, end] = write_and_close(3);
  testing::truncate_file(seg, testing::kSegHeaderBytes + 5);
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_bytes_dropped, 5u);
  EXPECT_EQ(wal->status().head_seq, 0u);
  EXPECT_EQ(wal->append(entry(1)), 1u);
}

TEST_F(WalRecovery, MidLogCorruptionRefusesToOpenNamingFileAndOffset) {
  auto [seg, end] = write_and_close(10);
  const uint64_t bad = offset_of(3);
  flip_byte(seg, bad + 40);
  const auto before = testing::dir_bytes(dir_);
  try {
    Wal::open(opts());
    ADD_FAILURE() << "opened a log with a corrupt record in the middle";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt);
    const std::string msg = e.what();
    EXPECT_NE(msg.find(seg), std::string::npos) << msg;
    EXPECT_NE(msg.find(fmt::format("offset {}", bad)), std::string::npos) << msg;
  }
  // Refusing to open does not "repair" anything.
  auto after = testing::dir_bytes(dir_);
  after.erase("LOCK");
  auto b = before;
  b.erase("LOCK");
  EXPECT_EQ(after, b);
}

// A power loss can lose any write that was not yet synced, page by page and
// in any order: the synced prefix may be followed by a block that reads back
// as zeros and then by records that did reach the disk. None of those was
// acknowledged (an acknowledgement needs an fdatasync issued after every
// earlier write), so this is a torn tail to cut, not corruption.
TEST_F(WalRecovery, UnwrittenBlockBeforeValidRecordsIsATornTail) {
  for (bool skip : {false, true}) {
    SCOPED_TRACE(skip ? "skip_corrupt" : "default");
    std::filesystem::remove_all(dir_);
    auto [seg, end] = write_and_close(200);
    const uint64_t block = 3 * 4096;
    ASSERT_GT(end, block + 2 * 4096);
    patch_file(seg, block, std::string(4096, '\0'));
    uint64_t first_lost = 1;
    while (offset_of(first_lost + 1) <= block) first_lost++;  // the record holding `block`
    auto o = opts();
    o.skip_corrupt = skip;
    OpenReport rep;
    auto wal = Wal::open(o, &rep);
    EXPECT_EQ(rep.torn_offset, offset_of(first_lost));
    EXPECT_GT(rep.torn_bytes_dropped, 0u);
    EXPECT_EQ(rep.corrupt_records_skipped, 0u);
    bool noted = false;
    for (const auto& n : rep.notes)
      noted = noted || n.find("never reached the disk") != std::string::npos;
    EXPECT_TRUE(noted);
    EXPECT_EQ(wal->status().head_seq, first_lost - 1);
    expect_intact(*wal, 1, first_lost - 1);
    EXPECT_EQ(wal->append(entry(first_lost)), first_lost);
    wal->close();
    auto v = Wal::verify(dir_);
    EXPECT_TRUE(v.ok) << v.problem;
  }
}

// The older content of an unsynced block is what was synced into its start,
// then zeros: a zero run from the first bad record up to a block boundary.
TEST_F(WalRecovery, ZerosFromABadRecordToTheBlockEndAreATornTail) {
  auto [seg, end] = write_and_close(200);
  uint64_t k = 1;
  while (offset_of(k + 1) < 2 * 4096) k++;
  // Record k crosses the boundary at 8192; zero from it to the boundary.
  ASSERT_LT(offset_of(k), 2u * 4096);
  ASSERT_GT(offset_of(k + 1), 2u * 4096);
  patch_file(seg, offset_of(k), std::string(2 * 4096 - offset_of(k), '\0'));
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_offset, offset_of(k));
  EXPECT_EQ(wal->status().head_seq, k - 1);
}

// Zeros that do not reach a block boundary cannot be a lost page write,
// whether they start inside a record or exactly at one.
TEST_F(WalRecovery, ZeroedBytesInsideABlockAreStillCorruption) {
  for (uint64_t skew : {10u, 0u}) {
    SCOPED_TRACE(fmt::format("zeros start {} bytes into record 5", skew));
    std::filesystem::remove_all(dir_);
    auto [seg, end] = write_and_close(20);
    const uint64_t at = offset_of(5) + skew;
    ASSERT_LT(at + 60, 4096u);
    patch_file(seg, at, std::string(60, '\0'));
    try {
      Wal::open(opts());
      ADD_FAILURE() << "opened a log with zeroed bytes in the middle of a block";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt) << e.what();
    }
  }
}

TEST_F(WalRecovery, CorruptLengthFieldInTheMiddleIsCorruption) {
  auto [seg, end] = write_and_close(10);
  patch_file(seg, offset_of(4) + 4, std::string("\xff\xff\x00\x00", 4));
  try {
    Wal::open(opts());
    ADD_FAILURE() << "opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find(fmt::format("offset {}", offset_of(4))), std::string::npos)
        << e.what();
  }
}

TEST_F(WalRecovery, SkipCorruptOpensAndCountsTheSkip) {
  auto [seg, end] = write_and_close(10);
  flip_byte(seg, offset_of(3) + 40);
  auto o = opts();
  o.skip_corrupt = true;
  OpenReport rep;
  auto wal = Wal::open(o, &rep);
  EXPECT_EQ(rep.corrupt_records_skipped, 1u);
  EXPECT_EQ(wal->metrics().corrupt_records_skipped, 1u);
  bool noted = false;
  for (const auto& n : rep.notes) {
    if (n.find(fmt::format("offset {}", offset_of(3))) != std::string::npos) noted = true;
  }
  EXPECT_TRUE(noted) << "no note names the skipped record's offset";
  EXPECT_EQ(wal->status().head_seq, 10u);
  EXPECT_EQ(wal->append(entry(11)), 11u);
}

// Regression test (a bug the black-box suite found, since fixed): after opening with skip_corrupt,
// the skipped bytes stay in the segment and every read that crosses them throws WAL_CORRUPT, so the
// entries the open "kept" cannot be read or replayed.
TEST_F(WalRecovery, SkipCorruptKeepsTheOtherEntriesReadable) {
  auto [seg, end] = write_and_close(10);
  flip_byte(seg, offset_of(3) + 40);
  auto o = opts();
  o.skip_corrupt = true;
  auto wal = Wal::open(o);
  EXPECT_FALSE(wal->read_entry(3).has_value());
  std::vector<uint64_t> seen;
  try {
    wal->replay(0, 0, [&](const Entry& e) { return seen.push_back(e.seq), true; });
  } catch (const Error& e) {
    ADD_FAILURE() << "replay after skip_corrupt threw: " << e.what();
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 4, 5, 6, 7, 8, 9, 10}));
  try {
    auto e = wal->read_entry(7);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->path, "k/7");
  } catch (const Error& e) {
    ADD_FAILURE() << "read_entry(7) after skip_corrupt threw: " << e.what();
  }
}

TEST_F(WalRecovery, VerifyReportsTornTailWithoutChangingIt) {
  auto [seg, end] = write_and_close(4);
  patch_file(seg, end, "junk");
  const auto before = testing::dir_bytes(dir_);
  auto r = Wal::verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_file, seg);
  EXPECT_EQ(r.bad_offset, end);
  EXPECT_EQ(testing::dir_bytes(dir_), before);
}

TEST_F(WalRecovery, VerifyFindsMidLogCorruptionInActiveSegment) {
  auto [seg, end] = write_and_close(10);
  flip_byte(seg, offset_of(2) + 30);
  auto r = Wal::verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_file, seg);
  EXPECT_NE(r.problem.find(fmt::format("offset {}", offset_of(2))), std::string::npos) << r.problem;
}

TEST_F(WalRecovery, VerifyOnMissingDirectoryFails) {
  auto r = Wal::verify(tmp_ / "nope");
  EXPECT_FALSE(r.ok);
}

class SealedDamage : public WalRecovery {
 protected:
  // Many sealed segments; returns the snapshot taken before closing.
  WalSnapshot build() {
    auto o = opts();
    o.segment_bytes = 4096;
    auto wal = Wal::open(o);
    for (uint64_t i = 1; i <= 150; ++i) wal->append(entry(i));
    auto snap = wal->snapshot();
    wal->close();
    return snap;
  }
};

TEST_F(SealedDamage, FlippedRecordByteInSealedSegmentFailsVerify) {
  auto snap = build();
  ASSERT_GE(snap.sealed.size(), 3u);
  EXPECT_TRUE(Wal::verify(dir_).ok);
  const std::string victim = dir_ + "/" + snap.sealed[1].file;
  flip_byte(victim, testing::kSegHeaderBytes + 60);
  auto r = Wal::verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_file, victim);
  EXPECT_FALSE(r.problem.empty());
}

TEST_F(SealedDamage, FlippedIndexByteInSealedSegmentFailsVerify) {
  auto snap = build();
  const std::string victim = dir_ + "/" + snap.sealed[0].file;
  // The byte just before the trailer belongs to the sparse index.
  flip_byte(victim, file_size(victim) - testing::kTrailerBytes - 1);
  auto r = Wal::verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_file, victim);
}

TEST_F(SealedDamage, MissingMiddleSegmentFailsVerifyAndOpen) {
  auto snap = build();
  std::filesystem::remove(dir_ + "/" + snap.sealed[1].file);
  auto r = Wal::verify(dir_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_file, dir_ + "/" + snap.sealed[2].file);
  try {
    Wal::open(opts());
    ADD_FAILURE() << "opened a log with a hole";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt) << e.what();
  }
}

TEST_F(SealedDamage, ReadingADamagedSealedRecordThrowsWalCorrupt) {
  auto snap = build();
  const auto& s = snap.sealed[0];
  flip_byte(dir_ + "/" + s.file, testing::kSegHeaderBytes + 4);  // first record's length
  auto wal = Wal::open(opts());
  try {
    wal->read_entry(s.first_seq);
    ADD_FAILURE() << "a damaged record was read without complaint";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt);
  }
  // Entries in other segments are still there.
  auto e = wal->read_entry(snap.sealed[1].first_seq);
  ASSERT_TRUE(e);
}

// A crash between writing a seal's trailer and cutting the preallocated
// space leaves trailer + zeros at the end of the last segment. Reopening
// should finish the seal; at the very least it must not lose entries.
TEST_F(SealedDamage, CrashAfterTrailerBeforeCutKeepsEntries) {
  auto snap = build();
  // Make the last sealed segment the last file, then re-add the zero padding.
  std::filesystem::remove(dir_ + "/" + snap.active.file);
  const auto& s = snap.sealed.back();
  const std::string path = dir_ + "/" + s.file;
  testing::truncate_file(path, file_size(path) + 8192);
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(wal->status().head_seq, s.last_seq);
  for (uint64_t i = 1; i <= s.last_seq; ++i) ASSERT_TRUE(wal->read_entry(i)) << i;
  EXPECT_EQ(wal->append(entry(s.last_seq + 1)), s.last_seq + 1);
}

// The same, but checking the documented repair: the seal is finished (not
// reported as a torn tail of index+trailer bytes).
TEST_F(SealedDamage, CrashAfterTrailerBeforeCutFinishesTheSeal) {
  auto snap = build();
  std::filesystem::remove(dir_ + "/" + snap.active.file);
  const auto& s = snap.sealed.back();
  const std::string path = dir_ + "/" + s.file;
  const uint64_t sealed_size = file_size(path);
  testing::truncate_file(path, sealed_size + 8192);
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_bytes_dropped, 0u) << "the trailer was cut as a torn tail";
  auto after = wal->snapshot();
  ASSERT_FALSE(after.sealed.empty());
  EXPECT_EQ(after.sealed.back().file, s.file);
  EXPECT_EQ(after.sealed.back().sha256, s.sha256);
}

// A power loss between writing index + trailer and syncing them can keep the
// trailer's page and lose (or garble) an index page. Such a seal must not be
// "finished": its index would send reads to the wrong offsets and its SHA-256
// would not match the file. The records are kept and sealed again later.
TEST_F(SealedDamage, InterruptedSealWithADamagedIndexIsDroppedNotFinished) {
  auto snap = build();
  std::filesystem::remove(dir_ + "/" + snap.active.file);
  const auto& s = snap.sealed.back();
  const std::string path = dir_ + "/" + s.file;
  const uint64_t sealed_size = file_size(path);
  // 4 KiB segments hold one index entry (16 bytes) before the 88-byte trailer.
  flip_byte(path, sealed_size - 88 - 16 + 3);
  testing::truncate_file(path, sealed_size + 8192);
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  bool noted = false;
  for (const auto& n : rep.notes) noted = noted || n.find("unfinished seal") != std::string::npos;
  EXPECT_TRUE(noted);
  EXPECT_EQ(wal->status().head_seq, s.last_seq);
  expect_intact(*wal, s.first_seq, s.last_seq);
  EXPECT_EQ(wal->append(entry(s.last_seq + 1)), s.last_seq + 1);
  wal->rotate();
  wal->close();
  auto v = Wal::verify(dir_);
  EXPECT_TRUE(v.ok) << v.bad_file << ": " << v.problem;
}

TEST_F(WalRecovery, UnfinishedSegmentCreationIsRemoved) {
  {
    auto wal = Wal::open(opts());
    for (uint64_t i = 1; i <= 3; ++i) wal->append(entry(i));
    wal->rotate();
    wal->close();
  }
  // The active segment (base 4) never got its header on disk.
  const std::string name = testing::segment_path(dir_, 4);
  ASSERT_FALSE(name.empty());
  testing::write_file(name, std::string(10, '\0'));
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(wal->status().head_seq, 3u);
  EXPECT_EQ(wal->append(entry(4)), 4u);
}

TEST_F(WalRecovery, ZeroedHeaderInFrontOfRecordsIsCorruptionNotAnUnfinishedSegment) {
  auto [seg, end] = write_and_close(3);
  patch_file(seg, 0, std::string(32, '\0'));
  try {
    Wal::open(opts());
    ADD_FAILURE() << "opened (and so removed) a segment holding records";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt);
  }
  EXPECT_TRUE(std::filesystem::exists(seg));
}

TEST_F(WalRecovery, BadHeaderInLastSegmentIsCorruption) {
  auto [seg, end] = write_and_close(3);
  patch_file(seg, 0, "XXXXXXXX");
  try {
    Wal::open(opts());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt);
    EXPECT_NE(std::string(e.what()).find(seg), std::string::npos);
  }
}

// ---- the lock

TEST_F(WalRecovery, SecondOpenInSameProcessFailsNamingPid) {
  auto wal = Wal::open(opts());
  try {
    Wal::open(opts());
    ADD_FAILURE() << "second open succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalLockFailed);
    EXPECT_NE(std::string(e.what()).find(fmt::format("pid {}", getpid())), std::string::npos)
        << e.what();
  }
  wal->close();
  EXPECT_NO_THROW(Wal::open(opts()));  // released by close
}

TEST_F(WalRecovery, SecondProcessFailsWithLockErrorNamingHolderPid) {
  auto wal = Wal::open(opts());
  wal->append(entry(1));
  std::string out;
  const std::string cmd = fmt::format(
      "WAL_MIN_FREE_BYTES=0 WAL_RESUME_FREE_BYTES=0 {} --data-dir {} append --type "
      "session --op create --path x --data y 2>&1",
      STRATA_BINARY, testing::shell_quote(tmp_.path()));
  int rc = testing::run_command(cmd, &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("WAL_LOCK_FAILED"), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("pid {}", getpid())), std::string::npos) << out;
  EXPECT_EQ(wal->status().head_seq, 1u);
  EXPECT_EQ(wal->append(entry(2)), 2u);
}

TEST_F(WalRecovery, ForkedChildCannotOpenHeldWal) {
  auto wal = Wal::open(opts());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    std::string msg;
    try {
      Wal::open(opts());
      msg = "opened";
    } catch (const Error& e) {
      msg = std::string(e.code_name()) + ": " + e.what();
    }
    (void)!write(fds[1], msg.data(), msg.size());
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(msg.starts_with("WAL_LOCK_FAILED")) << msg;
  EXPECT_NE(msg.find(fmt::format("pid {}", getpid())), std::string::npos) << msg;
}

// ---- compaction leftovers

TEST_F(WalRecovery, UnfinishedCompactionOutputIsRemovedAtOpen) {
  auto [seg, end] = write_and_close(5);
  const std::string leftover = dir_ + "/" + fmt::format("{:020}.seg.compact", 1);
  testing::write_file(leftover, "half-written compaction output");
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_FALSE(rep.notes.empty());
  expect_intact(*wal, 1, 5);
}

}  // namespace
}  // namespace strata
