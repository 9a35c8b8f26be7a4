// Appending, reading, replaying, rotation and snapshots, reopening, and
// truncate_after, checked against the contract in strata/wal.h and the
// byte layout in docs/format.md.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/wal.h"
#include "support/openssl_sha256.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::file_size;
using testing::le32;
using testing::le64;
using testing::make_entry;
using testing::read_file;
using testing::segment_files;
using testing::TempDir;

using testing::openssl_sha256_hex;

std::string data_for(uint64_t i) {
  return fmt::format("data-{}-{}", i, std::string(100 + i % 37, 'z'));
}
std::string path_for(uint64_t i) {
  return fmt::format("dir{}/file{}", i % 3, i);
}

class WalBasic : public ::testing::Test {
 protected:
  WalOptions opts() { return testing::test_options(dir_); }
  // Appends entries 1..n with path_for/data_for.
  void fill(Wal& wal, uint64_t n, uint64_t start = 1) {
    for (uint64_t i = start; i < start + n; ++i) {
      ASSERT_EQ(wal.append(make_entry(path_for(i), data_for(i))), i);
    }
  }
  void expect_entries(Wal& wal, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i <= to; ++i) {
      auto e = wal.read_entry(i);
      ASSERT_TRUE(e.has_value()) << "seq " << i;
      EXPECT_EQ(e->seq, i);
      EXPECT_EQ(e->path, path_for(i));
      EXPECT_EQ(e->data, data_for(i));
    }
  }
  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
};

TEST_F(WalBasic, OpenCreatesDirectoryLockAndEmptyLog) {
  auto wal = Wal::open(opts());
  EXPECT_TRUE(std::filesystem::is_directory(dir_));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/LOCK"));
  auto st = wal->status();
  EXPECT_TRUE(st.open);
  EXPECT_EQ(st.head_seq, 0u);
  EXPECT_EQ(st.first_seq, 0u);
  EXPECT_FALSE(wal->read_entry(1).has_value());
  EXPECT_EQ(wal->replay(0, 0, [](const Entry&) { return true; }), 0u);
}

TEST_F(WalBasic, OpenWithEmptyDirIsInvalidArgument) {
  WalOptions o;
  try {
    Wal::open(o);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST_F(WalBasic, SeqsStartAtOneWithoutGaps) {
  auto wal = Wal::open(opts());
  fill(*wal, 20);
  EXPECT_EQ(wal->status().head_seq, 20u);
  EXPECT_EQ(wal->status().first_seq, 1u);
  EXPECT_EQ(wal->status().durable_seq, 20u);
}

TEST_F(WalBasic, AppendBatchReturnsLastSeqAndWritesAll) {
  auto wal = Wal::open(opts());
  ASSERT_EQ(wal->append(make_entry("a")), 1u);
  std::vector<Entry> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(make_entry(fmt::format("b/{}", i), "x"));
  EXPECT_EQ(wal->append_batch(batch), 6u);
  for (int i = 0; i < 5; ++i) {
    auto e = wal->read_entry(2 + i);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->path, fmt::format("b/{}", i));
  }
  EXPECT_EQ(wal->append(make_entry("c")), 7u);
  EXPECT_EQ(wal->metrics().appends, 7u);
  EXPECT_EQ(wal->metrics().append_batches, 3u);
}

TEST_F(WalBasic, ReadEntryReturnsAllFields) {
  auto wal = Wal::open(opts());
  Entry e = make_entry("cfg/app.json", std::string("bin\0ary\xff", 8), EntryOp::kUpdate,
                       EntryType::kConfig);
  e.timestamp_ms = 1700000000123;
  e.seq = 999;  // ignored
  ASSERT_EQ(wal->append(e), 1u);
  auto got = wal->read_entry(1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->seq, 1u);
  EXPECT_EQ(got->timestamp_ms, 1700000000123u);
  EXPECT_EQ(got->type, EntryType::kConfig);
  EXPECT_EQ(got->op, EntryOp::kUpdate);
  EXPECT_EQ(got->path, "cfg/app.json");
  EXPECT_EQ(got->data, std::string("bin\0ary\xff", 8));
}

TEST_F(WalBasic, ZeroTimestampIsSetToNow) {
  auto wal = Wal::open(opts());
  const auto before = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  wal->append(make_entry("t"));
  auto got = wal->read_entry(1);
  ASSERT_TRUE(got);
  EXPECT_GE(got->timestamp_ms, before);
  EXPECT_LT(got->timestamp_ms, before + 60000);
}

TEST_F(WalBasic, DeleteAndEmptyDataRoundTrip) {
  auto wal = Wal::open(opts());
  wal->append(make_entry("x", ""));
  wal->append(make_entry("x", "", EntryOp::kDelete));
  auto a = wal->read_entry(1), b = wal->read_entry(2);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->data, "");
  EXPECT_EQ(b->op, EntryOp::kDelete);
}

TEST_F(WalBasic, ReadEntryOutOfRangeIsEmpty) {
  auto wal = Wal::open(opts());
  fill(*wal, 3);
  EXPECT_FALSE(wal->read_entry(0).has_value());
  EXPECT_FALSE(wal->read_entry(4).has_value());
  EXPECT_FALSE(wal->read_entry(UINT64_MAX).has_value());
}

TEST_F(WalBasic, ReplayAllInOrder) {
  auto wal = Wal::open(opts());
  fill(*wal, 10);
  std::vector<uint64_t> seen;
  EXPECT_EQ(wal->replay(0, 0,
                        [&](const Entry& e) {
                          seen.push_back(e.seq);
                          EXPECT_EQ(e.data, data_for(e.seq));
                          return true;
                        }),
            10u);
  std::vector<uint64_t> want = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(seen, want);
}

TEST_F(WalBasic, ReplaySinceSkipsEarlierEntries) {
  auto wal = Wal::open(opts());
  fill(*wal, 10);
  std::vector<uint64_t> seen;
  EXPECT_EQ(wal->replay(7, 0, [&](const Entry& e) { return seen.push_back(e.seq), true; }), 3u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(wal->replay(10, 0, [&](const Entry&) { return true; }), 0u);
  EXPECT_EQ(wal->replay(50, 0, [&](const Entry&) { return true; }), 0u);
}

TEST_F(WalBasic, ReplayLimitStopsAfterN) {
  auto wal = Wal::open(opts());
  fill(*wal, 10);
  std::vector<uint64_t> seen;
  EXPECT_EQ(wal->replay(3, 4, [&](const Entry& e) { return seen.push_back(e.seq), true; }), 4u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{4, 5, 6, 7}));
}

TEST_F(WalBasic, ReplayCallbackReturningFalseStops) {
  auto wal = Wal::open(opts());
  fill(*wal, 10);
  std::vector<uint64_t> seen;
  uint64_t n = wal->replay(0, 0, [&](const Entry& e) {
    seen.push_back(e.seq);
    return e.seq < 2;
  });
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(n, seen.size());
}

TEST_F(WalBasic, ReplayViewMatchesReplay) {
  auto wal = Wal::open(opts());
  fill(*wal, 5);
  std::vector<Entry> a, b;
  wal->replay(1, 0, [&](const Entry& e) { return a.push_back(e), true; });
  wal->replay_view(1, 0, [&](const EntryView& e) { return b.push_back(e.to_entry()), true; });
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 4u);
}

// ---- rotation and snapshots

class WalRotation : public WalBasic {
 protected:
  WalOptions small() {
    auto o = opts();
    o.segment_bytes = 4096;
    return o;
  }
};

TEST_F(WalRotation, SmallSegmentsRotateIntoManySealedSegments) {
  auto wal = Wal::open(small());
  fill(*wal, 200);
  auto snap = wal->snapshot();
  EXPECT_EQ(snap.head_seq, 200u);
  ASSERT_GE(snap.sealed.size(), 5u);
  EXPECT_EQ(wal->metrics().rotations, snap.sealed.size());
  uint64_t next = 1;
  for (const auto& s : snap.sealed) {
    EXPECT_TRUE(s.sealed);
    EXPECT_EQ(s.first_seq, next) << s.file;
    EXPECT_EQ(s.base_seq, s.first_seq);
    EXPECT_GE(s.last_seq, s.first_seq);
    EXPECT_EQ(s.entries, s.last_seq - s.first_seq + 1);
    EXPECT_TRUE(testing::is_segment_name(s.file)) << s.file;
    EXPECT_EQ(s.file.substr(0, 20), fmt::format("{:020}", s.base_seq));
    EXPECT_LE(s.bytes, 4096u) << s.file;
    EXPECT_EQ(s.bytes, file_size(dir_ + "/" + s.file)) << s.file;
    next = s.last_seq + 1;
  }
  EXPECT_FALSE(snap.active.sealed);
  EXPECT_EQ(snap.active.base_seq, next);
  EXPECT_EQ(snap.active.first_seq, next);
  EXPECT_EQ(snap.active.last_seq, 200u);
  EXPECT_EQ(segment_files(dir_).size(), snap.sealed.size() + 1);
  expect_entries(*wal, 1, 200);
}

TEST_F(WalRotation, SealedSegmentSha256MatchesFileBytes) {
  auto wal = Wal::open(small());
  fill(*wal, 120);
  auto snap = wal->snapshot();
  ASSERT_GE(snap.sealed.size(), 2u);
  for (const auto& s : snap.sealed) {
    const std::string bytes = read_file(dir_ + "/" + s.file);
    ASSERT_EQ(bytes.size(), s.bytes);
    ASSERT_GE(bytes.size(), testing::kSegHeaderBytes + testing::kTrailerBytes);
    // The digest covers every byte before the trailer's SHA-256 field.
    const size_t covered = bytes.size() - testing::kTrailerBytes + testing::kTrailerShaOffset;
    EXPECT_EQ(s.sha256, openssl_sha256_hex(bytes.substr(0, covered))) << s.file;
    EXPECT_EQ(s.sha256.size(), 64u);
    // Header and trailer as documented.
    EXPECT_EQ(bytes.substr(0, 8), "STRATAWL");
    EXPECT_EQ(le32(bytes, 8), 1u);
    EXPECT_EQ(le64(bytes, 16), s.base_seq);
    const size_t t = bytes.size() - testing::kTrailerBytes;
    EXPECT_EQ(bytes.substr(t, 8), "STRATAFT");
    EXPECT_EQ(le64(bytes, t + 8), s.entries);
    EXPECT_EQ(le64(bytes, t + 16), s.first_seq);
    EXPECT_EQ(le64(bytes, t + 24), s.last_seq);
    EXPECT_EQ(fmt::format("{:02x}", static_cast<unsigned char>(bytes[t + 48])),
              s.sha256.substr(0, 2));
  }
}

TEST_F(WalRotation, RecordsAreFramedWithCrc32cAsDocumented) {
  auto wal = Wal::open(small());
  fill(*wal, 60);
  auto snap = wal->snapshot();
  ASSERT_FALSE(snap.sealed.empty());
  const auto& s = snap.sealed.front();
  const std::string bytes = read_file(dir_ + "/" + s.file);
  const uint64_t index_offset = le64(bytes, bytes.size() - testing::kTrailerBytes + 32);
  uint64_t off = testing::kSegHeaderBytes, seq = s.first_seq;
  while (off < index_offset) {
    const uint32_t crc = le32(bytes, off);
    const uint32_t len = le32(bytes, off + 4);
    EXPECT_EQ(crc, crc32c(bytes.data() + off + 4, 4 + len)) << "record at " << off;
    EXPECT_EQ(le64(bytes, off + 8), seq);
    const uint16_t path_len =
        static_cast<uint16_t>(static_cast<unsigned char>(bytes[off + 26]) |
                              static_cast<unsigned char>(bytes[off + 27]) << 8);
    EXPECT_EQ(bytes.substr(off + 28, path_len), path_for(seq));
    EXPECT_EQ(bytes.substr(off + 28 + path_len, len - 20 - path_len), data_for(seq));
    off += 8 + len;
    seq++;
  }
  EXPECT_EQ(off, index_offset);
  EXPECT_EQ(seq, s.last_seq + 1);
}

TEST_F(WalRotation, VerifyPassesOnAHealthyLog) {
  {
    auto wal = Wal::open(small());
    fill(*wal, 150);
    auto r = Wal::verify(dir_);
    EXPECT_TRUE(r.ok) << r.bad_file << " " << r.bad_offset << " " << r.problem;
    EXPECT_EQ(r.records, 150u);
    EXPECT_EQ(r.segments, wal->snapshot().sealed.size() + 1);
  }
  auto r = Wal::verify(dir_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 150u);
}

TEST_F(WalRotation, ExplicitRotateSealsTheActiveSegment) {
  auto wal = Wal::open(opts());
  fill(*wal, 3);
  wal->rotate();
  auto snap = wal->snapshot();
  ASSERT_EQ(snap.sealed.size(), 1u);
  EXPECT_EQ(snap.sealed[0].last_seq, 3u);
  EXPECT_EQ(snap.active.base_seq, 4u);
  EXPECT_EQ(snap.active.entries, 0u);
  wal->rotate();  // nothing to seal: no empty sealed segment
  EXPECT_EQ(wal->snapshot().sealed.size(), 1u);
  EXPECT_EQ(wal->append(make_entry("x")), 4u);
}

TEST_F(WalRotation, EntryLargerThanSegmentStillFits) {
  auto wal = Wal::open(small());
  fill(*wal, 5);
  const std::string big(10000, 'B');
  ASSERT_EQ(wal->append(make_entry("big", big)), 6u);
  ASSERT_EQ(wal->append(make_entry("after", "a")), 7u);
  auto e = wal->read_entry(6);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->data, big);
  wal->close();
  auto r = Wal::verify(dir_);
  EXPECT_TRUE(r.ok) << r.problem;
}

TEST_F(WalRotation, ReopenKeepsEverything) {
  std::vector<SegmentInfo> sealed_before;
  {
    auto wal = Wal::open(small());
    fill(*wal, 150);
    sealed_before = wal->snapshot().sealed;
    wal->close();
  }
  OpenReport rep;
  auto wal = Wal::open(small(), &rep);
  EXPECT_EQ(rep.torn_bytes_dropped, 0u);
  EXPECT_EQ(rep.corrupt_records_skipped, 0u);
  EXPECT_EQ(rep.segments, sealed_before.size() + 1);
  auto snap = wal->snapshot();
  EXPECT_EQ(snap.head_seq, 150u);
  ASSERT_EQ(snap.sealed.size(), sealed_before.size());
  for (size_t i = 0; i < snap.sealed.size(); ++i) {
    EXPECT_EQ(snap.sealed[i].sha256, sealed_before[i].sha256);
    EXPECT_EQ(snap.sealed[i].last_seq, sealed_before[i].last_seq);
  }
  expect_entries(*wal, 1, 150);
  EXPECT_EQ(wal->append(make_entry(path_for(151), data_for(151))), 151u);
  std::vector<uint64_t> seqs;
  wal->replay(140, 0, [&](const Entry& e) { return seqs.push_back(e.seq), true; });
  EXPECT_EQ(seqs.size(), 11u);
}

TEST_F(WalRotation, ReopenWithoutCloseKeepsEverything) {
  {
    auto wal = Wal::open(small());
    fill(*wal, 40);
  }  // destructor
  auto wal = Wal::open(small());
  EXPECT_EQ(wal->status().head_seq, 40u);
  expect_entries(*wal, 1, 40);
}

TEST_F(WalRotation, ReplaySinceAndLimitAcrossSegments) {
  auto wal = Wal::open(small());
  fill(*wal, 200);
  ASSERT_GE(wal->snapshot().sealed.size(), 3u);
  std::vector<uint64_t> seen;
  EXPECT_EQ(wal->replay(57, 100, [&](const Entry& e) { return seen.push_back(e.seq), true; }),
            100u);
  ASSERT_EQ(seen.size(), 100u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 58 + i);
}

// ---- truncate_after

TEST_F(WalBasic, TruncateAfterWithinActiveSegmentContinuesAtSeqPlusOne) {
  auto wal = Wal::open(opts());
  fill(*wal, 10);
  wal->truncate_after(7);
  EXPECT_EQ(wal->status().head_seq, 7u);
  EXPECT_FALSE(wal->read_entry(8).has_value());
  EXPECT_EQ(wal->append(make_entry("new/8", "n8")), 8u);
  EXPECT_EQ(wal->read_entry(8)->data, "n8");
  EXPECT_FALSE(wal->read_entry(9).has_value());
  expect_entries(*wal, 1, 7);
  wal->close();
  auto again = Wal::open(opts());
  EXPECT_EQ(again->status().head_seq, 8u);
  EXPECT_EQ(again->read_entry(8)->data, "n8");
  expect_entries(*again, 1, 7);
  EXPECT_EQ(again->append(make_entry("new/9")), 9u);
}

TEST_F(WalRotation, TruncateAfterAcrossSealedSegments) {
  auto wal = Wal::open(small());
  fill(*wal, 200);
  auto snap = wal->snapshot();
  ASSERT_GE(snap.sealed.size(), 4u);
  // A seq in the middle of the second sealed segment.
  const auto& target = snap.sealed[1];
  const uint64_t cut = target.first_seq + (target.last_seq - target.first_seq) / 2;
  wal->truncate_after(cut);
  EXPECT_EQ(wal->status().head_seq, cut);
  EXPECT_FALSE(wal->read_entry(cut + 1).has_value());
  expect_entries(*wal, 1, cut);
  auto after = wal->snapshot();
  EXPECT_EQ(after.sealed.size(), 1u);
  EXPECT_EQ(after.active.base_seq, target.base_seq);
  EXPECT_EQ(segment_files(dir_).size(), 2u);
  EXPECT_EQ(wal->append(make_entry("again", "A")), cut + 1);
  fill(*wal, 50, cut + 2);
  wal->close();
  auto r = Wal::verify(dir_);
  EXPECT_TRUE(r.ok) << r.bad_file << " " << r.problem;
  auto again = Wal::open(small());
  EXPECT_EQ(again->status().head_seq, cut + 51);
  EXPECT_EQ(again->read_entry(cut + 1)->data, "A");
  expect_entries(*again, 1, cut);
  expect_entries(*again, cut + 2, cut + 51);
}

TEST_F(WalRotation, TruncateAfterAtSegmentBoundary) {
  auto wal = Wal::open(small());
  fill(*wal, 100);
  auto snap = wal->snapshot();
  ASSERT_GE(snap.sealed.size(), 2u);
  const uint64_t cut = snap.sealed[0].last_seq;
  wal->truncate_after(cut);
  EXPECT_EQ(wal->status().head_seq, cut);
  EXPECT_EQ(wal->append(make_entry("b")), cut + 1);
  wal->close();
  auto again = Wal::open(small());
  EXPECT_EQ(again->status().head_seq, cut + 1);
  expect_entries(*again, 1, cut);
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

TEST_F(WalRotation, TruncateAfterZeroEmptiesTheLog) {
  auto wal = Wal::open(small());
  fill(*wal, 80);
  wal->truncate_after(0);
  EXPECT_EQ(wal->status().head_seq, 0u);
  EXPECT_EQ(wal->status().first_seq, 0u);
  EXPECT_FALSE(wal->read_entry(1).has_value());
  EXPECT_EQ(wal->replay(0, 0, [](const Entry&) { return true; }), 0u);
  EXPECT_EQ(segment_files(dir_).size(), 1u);
  EXPECT_EQ(wal->append(make_entry("fresh", "F")), 1u);
  wal->close();
  auto again = Wal::open(small());
  EXPECT_EQ(again->status().head_seq, 1u);
  EXPECT_EQ(again->read_entry(1)->data, "F");
}

TEST_F(WalBasic, TruncateAfterHeadOrBeyondIsANoOp) {
  auto wal = Wal::open(opts());
  fill(*wal, 5);
  const auto before = testing::dir_bytes(dir_);
  wal->truncate_after(5);
  wal->truncate_after(100);
  EXPECT_EQ(testing::dir_bytes(dir_), before);
  EXPECT_EQ(wal->append(make_entry("x")), 6u);
}

// ---- sync modes

TEST_F(WalBasic, SyncNoneDataVisibleAndSurvivesCloseReopen) {
  auto o = opts();
  o.sync = SyncMode::kNone;
  {
    auto wal = Wal::open(o);
    fill(*wal, 30);
    expect_entries(*wal, 1, 30);
    EXPECT_EQ(wal->replay(0, 0, [](const Entry&) { return true; }), 30u);
    EXPECT_EQ(wal->status().sync, SyncMode::kNone);
    wal->close();
  }
  auto wal = Wal::open(o);
  EXPECT_EQ(wal->status().head_seq, 30u);
  expect_entries(*wal, 1, 30);
}

TEST_F(WalBasic, SyncIntervalDataVisibleAndSurvivesCloseReopen) {
  auto o = opts();
  o.sync = SyncMode::kInterval;
  o.sync_interval_ms = 5;
  {
    auto wal = Wal::open(o);
    fill(*wal, 30);
    expect_entries(*wal, 1, 30);
    EXPECT_EQ(wal->replay(10, 0, [](const Entry&) { return true; }), 20u);
    // The background thread makes the appended entries durable on its own.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (wal->status().durable_seq < 30 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(wal->status().durable_seq, 30u);
    wal->close();
  }
  auto wal = Wal::open(o);
  EXPECT_EQ(wal->status().head_seq, 30u);
  expect_entries(*wal, 1, 30);
}

TEST_F(WalBasic, FlushMakesEverythingDurableInNoneMode) {
  auto o = opts();
  o.sync = SyncMode::kNone;
  auto wal = Wal::open(o);
  fill(*wal, 10);
  wal->flush();
  EXPECT_EQ(wal->status().durable_seq, 10u);
}

TEST_F(WalRotation, SyncNoneRotatesAndReopens) {
  auto o = small();
  o.sync = SyncMode::kNone;
  {
    auto wal = Wal::open(o);
    fill(*wal, 150);
    EXPECT_GE(wal->snapshot().sealed.size(), 3u);
    expect_entries(*wal, 1, 150);
  }
  auto wal = Wal::open(o);
  EXPECT_EQ(wal->status().head_seq, 150u);
  expect_entries(*wal, 1, 150);
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

}  // namespace
}  // namespace strata
