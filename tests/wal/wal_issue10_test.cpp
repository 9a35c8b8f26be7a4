// Regression tests for the WAL-side defects of issue #10, one suite per
// defect (Issue10Defect<N>) so a closing note can list "defect -> test".
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "strata/error.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::patch_file;

class Issue10 : public testing::SmallLogTest {};

// ---- defect 7: status said "normal" while appends were refused

TEST_F(Issue10, Defect7StatusReportsLowFreeSpaceBeforeAnyWriteFails) {
  { write_and_close(3); }
  WalOptions o = opts();
  o.stop_free_bytes = 1ull << 62;  // more than any disk has
  o.resume_free_bytes = 1ull << 62;
  auto wal = Wal::open(o);
  // No write was tried yet: status must judge free space by itself.
  WalStatus st = wal->status();
  EXPECT_TRUE(st.low_free_space);
  EXPECT_EQ(st.pressure, DiskPressure::kCritical);
  try {
    wal->append(entry(4));
    ADD_FAILURE() << "append succeeded below WAL_MIN_FREE_BYTES";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDiskFull) << e.what();
  }
  st = wal->status();
  EXPECT_TRUE(st.low_free_space);
  EXPECT_EQ(st.pressure, DiskPressure::kCritical);
}

TEST_F(Issue10, Defect7StatusIsNormalWithRoom) {
  write_and_close(1);
  auto wal = Wal::open(opts());
  WalStatus st = wal->status();
  EXPECT_FALSE(st.low_free_space);
  EXPECT_EQ(st.pressure, DiskPressure::kNormal);
  EXPECT_GT(st.free_bytes, 0u);
}

// ---- defect 8: the corrupt-record error names `strata repair`; what a
// skip_corrupt open drops is reported exactly

TEST_F(Issue10, Defect8CorruptRecordErrorNamesStrataRepair) {
  auto [seg, end] = write_and_close(5);
  testing::flip_byte(seg, offset_of(2) + 40);
  try {
    Wal::open(opts());
    ADD_FAILURE() << "opened a WAL with a corrupt record";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalCorrupt);
    EXPECT_NE(std::string(e.what()).find("strata repair"), std::string::npos) << e.what();
  }
}

// The one corrupt record, seq 2 of write_and_close's segment `seg`.
void expect_only_record_2(const std::vector<DroppedRange>& dropped, const std::string& seg,
                          uint64_t offset, uint64_t bytes) {
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].file, seg);
  EXPECT_EQ(dropped[0].offset, offset);
  EXPECT_EQ(dropped[0].bytes, bytes);
  EXPECT_EQ(dropped[0].first_seq, 2u);
  EXPECT_EQ(dropped[0].last_seq, 2u);
  EXPECT_FALSE(dropped[0].torn_tail);
}

TEST_F(Issue10, Defect8SkipCorruptOpenReportsFileOffsetBytesAndSeqs) {
  auto [seg, end] = write_and_close(5);
  testing::flip_byte(seg, offset_of(2) + 40);
  // verify (the dry run) lists the same as the repair drops, and changes nothing.
  const auto before = testing::dir_bytes(dir_);
  VerifyResult v = Wal::verify(dir_);
  EXPECT_FALSE(v.ok);
  EXPECT_TRUE(v.repairable);
  EXPECT_FALSE(v.torn_tail_only());
  expect_only_record_2(v.dropped, seg, offset_of(2), testing::record_bytes(entry(2)));
  EXPECT_EQ(testing::dir_bytes(dir_), before);

  WalOptions o = opts();
  o.skip_corrupt = true;
  OpenReport rep;
  auto wal = Wal::open(o, &rep);
  expect_only_record_2(rep.dropped, seg, offset_of(2), testing::record_bytes(entry(2)));
  ASSERT_FALSE(rep.damaged_copy.empty());
  EXPECT_EQ(testing::read_file(rep.damaged_copy), before.at(seg.substr(dir_.size() + 1)));
  EXPECT_FALSE(wal->read_entry(2));
  EXPECT_TRUE(wal->read_entry(3));
  EXPECT_EQ(wal->status().head_seq, 5u);
  wal->close();
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

// ---- verify on an ordinary torn tail: repairable, not corruption

TEST_F(Issue10, VerifyReportsAnOrdinaryTornTailAsRepairable) {
  auto [seg, end] = write_and_close(4);
  patch_file(seg, end, "GARBAGE");
  VerifyResult v = Wal::verify(dir_);
  EXPECT_FALSE(v.ok);
  EXPECT_TRUE(v.repairable);
  EXPECT_TRUE(v.torn_tail_only());
  ASSERT_EQ(v.dropped.size(), 1u);
  EXPECT_TRUE(v.dropped[0].torn_tail);
  EXPECT_EQ(v.dropped[0].offset, end);
  EXPECT_EQ(v.dropped[0].bytes, 7u);
  EXPECT_EQ(v.records, 4u);
  // Opening cuts it; then verify is clean.
  Wal::open(opts())->close();
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

// ---- a SHA-256 mismatch names the segment, not "offset 0"

TEST_F(Issue10, VerifyShaMismatchNamesTheSegmentWithoutAnOffset) {
  {
    auto wal = Wal::open(opts());
    for (uint64_t i = 1; i <= 3; ++i) wal->append(entry(i));
    wal->rotate();
    wal->close();
  }
  const std::string seg = testing::segment_path(dir_, 1);
  // A byte of the sealed segment's index (right after the records): every
  // record still checks, only the digest sees it.
  testing::flip_byte(seg, offset_of(4) + 7);
  VerifyResult v = Wal::verify(dir_);
  ASSERT_FALSE(v.ok);
  EXPECT_FALSE(v.repairable);
  EXPECT_EQ(v.bad_file, seg);
  EXPECT_FALSE(v.offset_known) << v.problem;
  EXPECT_NE(v.problem.find("SHA-256 mismatch"), std::string::npos) << v.problem;
}

// ---- writers wait for the lock (--lock-timeout, default 5 s)

TEST_F(Issue10, Defect5WriterWaitsForTheLockUpToItsTimeout) {
  auto holder = Wal::open(opts());
  holder->append(entry(1));
  std::atomic<bool> opened{false};
  std::thread t([&] {
    WalOptions o = opts();
    o.lock_timeout_ms = 30000;
    auto wal = Wal::open(o);
    opened = true;
    EXPECT_EQ(wal->append(entry(2)), 2u);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(opened.load());
  holder->close();
  t.join();
  EXPECT_TRUE(opened.load());
}

TEST_F(Issue10, Defect5LockTimeoutExpiresWithTheWaitInTheMessage) {
  auto holder = Wal::open(opts());
  WalOptions o = opts();
  o.lock_timeout_ms = 100;
  try {
    Wal::open(o);
    ADD_FAILURE() << "opened a held WAL";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kWalLockFailed);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("100 ms"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--lock-timeout"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fmt::format("pid {}", getpid())), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace strata
