// What the remote tiers use: framed reads after a seq within a byte budget,
// pinned sealed segments, deleting sealed segments up to the floor, importing
// framed records back, and segment names that identify their bytes.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "strata/error.h"
#include "strata/fs.h"
#include "strata/hash.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::code_of;
using testing::dir_bytes;
using testing::le32;
using testing::le64;
using testing::make_entry;
using testing::read_file;
using testing::TempDir;

std::string data_of(uint64_t seq) {
  return fmt::format("data-{}-{}", seq, std::string(seq % 37, 'x'));
}

// The seqs of the records in framed bytes, checking each frame's length.
std::vector<uint64_t> seqs_in(const std::string& framed) {
  std::vector<uint64_t> out;
  for (size_t off = 0; off < framed.size();) {
    EXPECT_GE(framed.size() - off, testing::kRecordOverheadBytes);
    const uint32_t body = le32(framed, off + 4);
    out.push_back(le64(framed, off + 8));
    off += 8 + body;
    EXPECT_LE(off, framed.size());
  }
  return out;
}

class WalShipping : public ::testing::Test {
 protected:
  WalOptions opts() {
    auto o = testing::test_options(dir_);
    o.segment_bytes = 4096;
    o.tiers = {"object"};
    o.sync = SyncMode::kNone;  // fast to fill; reads and imports drain themselves
    return o;
  }
  // n entries on 5 paths, several sealed segments.
  std::unique_ptr<Wal> make(uint64_t n, WalOptions o) {
    auto wal = Wal::open(o);
    for (uint64_t i = 1; i <= n; ++i) {
      Entry e = make_entry(fmt::format("p/{}", i % 5), data_of(i), EntryOp::kUpdate);
      e.timestamp_ms = 1000 + i;
      EXPECT_EQ(wal->append(e), i);
    }
    return wal;
  }
  std::unique_ptr<Wal> make(uint64_t n) { return make(n, opts()); }
  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
};

// ---- framed reads

TEST_F(WalShipping, FramedReadsHonourTheBudgetWithWholeRecords) {
  auto wal = make(200);
  const uint64_t one = testing::record_bytes(make_entry("p/1", data_of(1)));
  // A budget below one record still returns that record, alone.
  auto r = wal->read_framed(0, 1);
  EXPECT_EQ(r.count, 1u);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 1u);
  EXPECT_EQ(r.bytes.size(), one);
  EXPECT_EQ(r.last_timestamp_ms, 1001u);
  // Exactly three records' worth gives three; one byte less gives two.
  uint64_t three = 0;
  for (uint64_t s = 11; s <= 13; ++s) three += testing::record_bytes(make_entry("p/1", data_of(s)));
  r = wal->read_framed(10, three);
  EXPECT_EQ(seqs_in(r.bytes), (std::vector<uint64_t>{11, 12, 13}));
  EXPECT_EQ(r.bytes.size(), three);
  r = wal->read_framed(10, three - 1);
  EXPECT_EQ(seqs_in(r.bytes), (std::vector<uint64_t>{11, 12}));
  // A large budget crosses segments and ends at the head.
  r = wal->read_framed(37, 1 << 30);
  EXPECT_EQ(r.first_seq, 38u);
  EXPECT_EQ(r.last_seq, 200u);
  EXPECT_EQ(r.count, 163u);
  EXPECT_EQ(r.last_timestamp_ms, 1200u);
  std::vector<uint64_t> want;
  for (uint64_t s = 38; s <= 200; ++s) want.push_back(s);
  EXPECT_EQ(seqs_in(r.bytes), want);
  // Nothing after the head.
  r = wal->read_framed(200, 1 << 20);
  EXPECT_EQ(r.count, 0u);
  EXPECT_TRUE(r.bytes.empty());
  EXPECT_EQ(r.first_seq, 0u);
}

TEST_F(WalShipping, FramedBytesAreTheSegmentsOwnBytes) {
  auto wal = make(30, testing::test_options(dir_));  // one active segment
  const auto r = wal->read_framed(0, 1 << 20);
  wal->flush();
  const std::string seg = read_file(testing::segment_path(dir_, 1));
  EXPECT_EQ(seg.substr(testing::kSegHeaderBytes, r.bytes.size()), r.bytes);
}

TEST_F(WalShipping, FramedReadsInIntervalModeReturnOnlyDurableEntriesAfterDraining) {
  auto o = opts();
  o.sync = SyncMode::kInterval;
  o.sync_interval_ms = 100000;
  auto wal = make(20, o);
  EXPECT_LT(wal->status().durable_seq, 20u);
  const auto r = wal->read_framed(0, 1 << 20);
  EXPECT_EQ(r.last_seq, 20u);
  EXPECT_EQ(wal->status().durable_seq, 20u);
}

// ---- import

TEST_F(WalShipping, ShippedRecordsImportIntoAnEmptyLogWithTheirSeqsAndTimestamps) {
  auto src = make(300);
  const auto part = src->read_framed(120, 1 << 30);
  TempDir other;
  auto o = opts();
  o.dir = other / "wal";
  {
    auto dst = Wal::open(o);
    const auto r = dst->import_framed(part.bytes);
    EXPECT_EQ(r.first_seq, 121u);
    EXPECT_EQ(r.last_seq, 300u);
    EXPECT_EQ(r.count, 180u);
    EXPECT_EQ(dst->status().head_seq, 300u);
    EXPECT_EQ(dst->status().first_seq, 121u);
    EXPECT_EQ(dst->metrics().imported_entries, 180u);
    EXPECT_EQ(dst->append(make_entry("next")), 301u);
  }
  // Durable and identical after reopening; sealed segments verify.
  auto dst = Wal::open(o);
  EXPECT_GT(dst->snapshot().sealed.size(), 3u);
  std::vector<Entry> a, b;
  src->replay(120, 0, [&](const Entry& e) { return a.push_back(e), true; });
  dst->replay(0, 180, [&](const Entry& e) { return b.push_back(e), true; });
  EXPECT_EQ(a, b);
  EXPECT_EQ(dst->read_framed(120, 1 << 30).bytes.substr(0, part.bytes.size()), part.bytes);
  EXPECT_TRUE(Wal::verify(o.dir).ok);
}

TEST_F(WalShipping, ImportContinuesALogWhoseHeadIsJustBelow) {
  auto src = make(50);
  TempDir other;
  auto o = opts();
  o.dir = other / "wal";
  auto dst = Wal::open(o);
  EXPECT_EQ(dst->import_framed(src->read_framed(0, 1 << 30).bytes).last_seq, 50u);
  for (uint64_t i = 51; i <= 70; ++i) src->append(make_entry("p/3", data_of(i)));
  const auto r = dst->import_framed(src->read_framed(50, 1 << 20).bytes);
  EXPECT_EQ(r.first_seq, 51u);
  EXPECT_EQ(r.last_seq, 70u);
  EXPECT_EQ(dst->status().head_seq, 70u);
  EXPECT_EQ(dst->read_entry(70)->data, data_of(70));
}

TEST_F(WalShipping, BadImportsAreRefusedAndWriteNothing) {
  auto src = make(60);
  auto framed = [&](uint64_t after, uint64_t n) {
    std::string out;
    uint64_t at = after;
    for (uint64_t i = 0; i < n; ++i) {
      auto r = src->read_framed(at, 1);
      out += r.bytes;
      at = r.last_seq;
    }
    return out;
  };
  TempDir other;
  auto o = opts();
  o.dir = other / "wal";
  auto dst = Wal::open(o);
  dst->import_framed(framed(0, 10));  // head 10
  const auto before = dir_bytes(o.dir);

  struct Case {
    std::string name;
    std::string bytes;
    ErrorCode code;
    std::string says;
  };
  std::string bad_crc = framed(10, 3);
  bad_crc[bad_crc.size() - 1] ^= 0x40;
  std::string bad_path = framed(10, 1);
  {
    // Rewrite the path "p/1" to "../" and fix the CRC: a record append
    // would refuse must not come in through import either.
    const size_t p = 8 + 20;
    bad_path.replace(p, 3, "../");
    const uint32_t crc = crc32c(bad_path.data() + 4, bad_path.size() - 4);
    std::memcpy(bad_path.data(), &crc, 4);
  }
  const std::vector<Case> cases = {
      {"gap after the head", framed(11, 3), ErrorCode::kInvalidArgument, "gap"},
      {"overlap with the head", framed(8, 4), ErrorCode::kInvalidArgument, "overlap"},
      {"gap inside", framed(10, 2) + framed(13, 2), ErrorCode::kInvalidArgument, "a gap"},
      {"repeat inside", framed(10, 2) + framed(11, 2), ErrorCode::kInvalidArgument, "overlap"},
      {"bad crc", bad_crc, ErrorCode::kWalCorrupt, "bad record"},
      {"cut short", framed(10, 3).substr(0, 70), ErrorCode::kWalCorrupt, "cut short"},
      {"trailing zeros", framed(10, 2) + std::string(16, '\0'), ErrorCode::kWalCorrupt, "zero"},
      {"bad path", bad_path, ErrorCode::kInvalidPath, "seq 11"},
      {"nothing", "", ErrorCode::kInvalidArgument, "no records"},
  };
  for (const auto& c : cases) {
    std::string msg;
    EXPECT_EQ(code_of([&] { dst->import_framed(c.bytes); }, &msg), c.code) << c.name << ": " << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << c.name << ": " << msg;
    EXPECT_EQ(dst->status().head_seq, 10u) << c.name;
    EXPECT_EQ(dir_bytes(o.dir), before) << c.name;
  }
  // The log still takes the right continuation.
  EXPECT_EQ(dst->import_framed(framed(10, 5)).last_seq, 15u);
  EXPECT_EQ(dst->append(make_entry("x")), 16u);
}

TEST_F(WalShipping, ImportIntoALogWithEntriesMustStartRightAfterItsHead) {
  auto src = make(40);
  TempDir other;
  auto o = opts();
  o.dir = other / "wal";
  auto dst = Wal::open(o);
  dst->append(make_entry("mine"));
  std::string msg;
  EXPECT_EQ(code_of([&] { dst->import_framed(src->read_framed(20, 1 << 20).bytes); }, &msg),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("head is 1"), std::string::npos) << msg;
  EXPECT_EQ(dst->import_framed(src->read_framed(1, 1 << 20).bytes).first_seq, 2u);
}

TEST_F(WalShipping, AnEmptyLogCanStartAfterASnapshotSeq) {
  {
    auto wal = Wal::open(opts());
    wal->start_after(500);
    EXPECT_EQ(wal->status().head_seq, 500u);
    wal->start_after(500);  // already there
  }
  auto wal = Wal::open(opts());
  EXPECT_EQ(wal->status().head_seq, 500u);
  EXPECT_EQ(wal->append(make_entry("a")), 501u);
  std::string msg;
  EXPECT_EQ(code_of([&] { wal->start_after(900); }, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("holds entries"), std::string::npos) << msg;
  // Emptied again, it may start elsewhere, but never below its head.
  wal->truncate_after(0);
  wal->start_after(0);
  wal->start_after(10);
  EXPECT_EQ(code_of([&] { wal->start_after(9); }, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("head is already 10"), std::string::npos) << msg;
  EXPECT_EQ(wal->append(make_entry("b")), 11u);
}

// ---- pins and deletion

TEST_F(WalShipping, PinnedSegmentsAreNeitherCompactedNorDeleted) {
  auto wal = make(600);
  wal->confirm("object", 600);
  const auto snap = wal->snapshot();
  ASSERT_GE(snap.sealed.size(), 6u);
  const uint64_t since = snap.sealed[2].last_seq - 1;  // pins sealed[2] and after
  SegmentPin pin = wal->pin_sealed_since(since);
  ASSERT_EQ(pin.segments().size(), snap.sealed.size() - 2);
  EXPECT_EQ(pin.segments().front().info.file, snap.sealed[2].file);
  std::map<std::string, std::string> held;
  for (const auto& p : pin.segments()) held[p.info.file] = read_file(dir_ + "/" + p.info.file);

  wal->compact(true);
  for (const auto& [name, bytes] : held) EXPECT_EQ(read_file(dir_ + "/" + name), bytes) << name;
  // Deletion stops at the first pinned segment.
  const auto deleted = wal->delete_sealed_through(UINT64_MAX);
  for (const auto& d : deleted) EXPECT_LT(d.last_seq, snap.sealed[2].base_seq) << d.file;
  for (const auto& [name, bytes] : held) EXPECT_TRUE(std::filesystem::exists(dir_ + "/" + name));

  pin.release();
  wal->compact(true);
  for (const auto& [name, bytes] : held) EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + name));
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

TEST_F(WalShipping, APinKeepsItsBytesReadableAndMayOutliveTheWal) {
  auto wal = make(100);
  auto pin = wal->pin_sealed_since(0);
  ASSERT_FALSE(pin.empty());
  const auto& first = pin.segments().front();
  const std::string bytes = read_file(dir_ + "/" + first.info.file);
  EXPECT_EQ(bytes.size(), first.info.bytes);
  EXPECT_EQ(sha256_hex(bytes.substr(0, bytes.size() - 88 + 48)), first.info.sha256);
  // truncate_after removes the file; the pin's handle still reads it whole.
  wal->truncate_after(0);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + first.info.file));
  std::string again(bytes.size(), '\0');
  EXPECT_EQ(first.file->pread(again.data(), again.size(), 0), bytes.size());
  EXPECT_EQ(again, bytes);
  wal.reset();
  pin.release();
}

TEST_F(WalShipping, DeletingSealedSegmentsStopsAtTheFloorAndNeverTouchesTheActiveOne) {
  auto wal = make(600);
  const auto snap = wal->snapshot();
  ASSERT_GE(snap.sealed.size(), 6u);
  const uint64_t mark = snap.sealed[3].last_seq + 2;            // inside sealed[4]
  EXPECT_TRUE(wal->delete_sealed_through(UINT64_MAX).empty());  // nothing confirmed
  wal->confirm("object", mark);
  // Asked for less than the floor: the request bounds it.
  auto d = wal->delete_sealed_through(snap.sealed[1].last_seq);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].file, snap.sealed[0].file);
  EXPECT_EQ(d[1].file, snap.sealed[1].file);
  // Asked for everything: the floor bounds it.
  d = wal->delete_sealed_through(UINT64_MAX);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1].file, snap.sealed[3].file);
  for (const auto& s : {snap.sealed[0], snap.sealed[1], snap.sealed[2], snap.sealed[3]}) {
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + s.file)) << s.file;
  }
  EXPECT_EQ(wal->status().first_seq, snap.sealed[4].base_seq);
  EXPECT_FALSE(wal->read_entry(1));
  EXPECT_TRUE(wal->read_entry(mark));
  // With everything confirmed every sealed segment goes, the active one stays.
  wal->confirm("object", 600);
  wal->delete_sealed_through(UINT64_MAX);
  EXPECT_TRUE(wal->snapshot().sealed.empty());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/" + snap.active.file));
  EXPECT_EQ(wal->metrics().sealed_segments_deleted, snap.sealed.size());
  wal.reset();
  auto again = Wal::open(opts());
  EXPECT_EQ(again->status().head_seq, 600u);
  EXPECT_EQ(again->status().first_seq, snap.active.base_seq);
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

// ---- segment identity

TEST_F(WalShipping, CompactionAndTruncationNeverChangeTheBytesBehindAName) {
  auto wal = make(300);
  wal->confirm("object", 300);
  std::map<std::string, std::string> seen;  // every sealed name ever seen -> bytes
  auto record = [&] {
    for (const auto& s : wal->snapshot().sealed) {
      const std::string bytes = read_file(dir_ + "/" + s.file);
      auto [it, fresh] = seen.emplace(s.file, bytes);
      EXPECT_EQ(it->second, bytes) << s.file << " changed under its name";
    }
  };
  record();
  // A reader holding a sealed segment sees the same bytes after compaction.
  const auto first = wal->snapshot().sealed.front();
  auto held = FileSystem::real().open(dir_ + "/" + first.file, OpenMode::kRead);
  const auto r = wal->compact();
  EXPECT_GT(r.entries_dropped, 0u);
  EXPECT_LT(r.segments_after, r.segments_before);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + first.file));
  record();
  std::string bytes(first.bytes, '\0');
  EXPECT_EQ(held->pread(bytes.data(), bytes.size(), 0), first.bytes);
  EXPECT_EQ(bytes, seen.at(first.file));
  // Truncating into a sealed segment moves what stays to a new name.
  const auto snap = wal->snapshot();
  const auto& mid = snap.sealed[snap.sealed.size() / 2];
  const uint64_t cut = mid.first_seq + 1;
  wal->truncate_after(cut);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + mid.file));
  EXPECT_NE(wal->snapshot().active.file, mid.file);
  for (uint64_t s = 301; s < 400; ++s) wal->append(make_entry("p/1", data_of(s)));
  record();
  // No name seen before now holds other bytes.
  for (const auto& name : testing::segment_files(dir_)) {
    auto it = seen.find(name);
    if (it != seen.end()) {
      EXPECT_EQ(read_file(dir_ + "/" + name), it->second) << name;
    }
  }
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

TEST_F(WalShipping, AnInterruptedTruncationIntoASealedSegmentFinishesAtOpen) {
  FaultInjectionFileSystem fi;
  auto o = opts();
  o.fs = &fi;
  auto wal = make(600, o);
  const auto snap = wal->snapshot();
  ASSERT_GE(snap.sealed.size(), 4u);
  const auto& mid = snap.sealed[2];
  const uint64_t cut = mid.first_seq + 1;
  // The new file is in place; removing the sealed one it replaces fails.
  fi.add_rule(testing::fault(FsOp::kRemove, mid.file, 0, -1));
  EXPECT_EQ(code_of([&] { wal->truncate_after(cut); }), ErrorCode::kWalStopped);
  wal.reset();
  fi.clear_rules();
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/" + mid.file));
  OpenReport rep;
  auto again = Wal::open(opts(), &rep);
  EXPECT_EQ(again->status().head_seq, cut);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + mid.file));
  bool noted = false;
  for (const auto& n : rep.notes) noted = noted || n.find("interrupted truncate_after") != n.npos;
  EXPECT_TRUE(noted);
  for (uint64_t s = 1; s <= cut; ++s) EXPECT_EQ(again->read_entry(s)->data, data_of(s)) << s;
  EXPECT_EQ(again->append(make_entry("next")), cut + 1);
}

TEST_F(WalShipping, DirectoriesWithTheOldSegmentNamesStillOpen) {
  auto wal = make(150);
  wal.reset();
  // Names before segment names carried an id: "<base>.seg".
  for (const auto& name : testing::segment_files(dir_)) {
    std::filesystem::rename(dir_ + "/" + name, dir_ + "/" + name.substr(0, 20) + ".seg");
  }
  wal = Wal::open(opts());
  EXPECT_EQ(wal->status().head_seq, 150u);
  for (uint64_t s = 1; s <= 150; ++s) ASSERT_EQ(wal->read_entry(s)->data, data_of(s)) << s;
  wal->confirm("object", 150);
  EXPECT_GT(wal->compact().entries_dropped, 0u);
  for (uint64_t s = 151; s <= 250; ++s) wal->append(make_entry("p/2", data_of(s)));
  wal.reset();
  wal = Wal::open(opts());
  EXPECT_EQ(wal->status().head_seq, 250u);
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

}  // namespace
}  // namespace strata
