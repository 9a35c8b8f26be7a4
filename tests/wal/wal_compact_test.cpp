// compact(): keeps the latest entry per path among sealed segments with the
// original seqs, drops only confirmed entries unless forced, survives reopen
// and verify, and leftovers of an interrupted compaction are repaired.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "strata/error.h"
#include "strata/wal.h"
#include "support/openssl_sha256.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::make_entry;
using testing::read_file;
using testing::TempDir;

using testing::openssl_sha256_hex;

constexpr uint64_t kN = 300;
std::string path_of(uint64_t i) {
  return fmt::format("p{}", i % 5);
}
std::string data_of(uint64_t i) {
  return fmt::format("v{}-{}", i, std::string(60, 'd'));
}

class WalCompact : public ::testing::Test {
 protected:
  WalOptions opts() {
    auto o = testing::test_options(dir_);
    o.segment_bytes = 4096;
    o.tiers = {"object"};
    return o;
  }
  void SetUp() override {
    wal_ = Wal::open(opts());
    for (uint64_t i = 1; i <= kN; ++i) {
      ASSERT_EQ(wal_->append(make_entry(path_of(i), data_of(i), EntryOp::kUpdate)), i);
    }
    auto snap = wal_->snapshot();
    ASSERT_GE(snap.sealed.size(), 5u);
    sealed_last_ = snap.sealed.back().last_seq;
    for (uint64_t i = 1; i <= sealed_last_; ++i) latest_[path_of(i)] = i;
  }
  // The seqs that must survive a compaction that may drop up to `confirmed`.
  std::vector<uint64_t> survivors(uint64_t confirmed) {
    std::vector<uint64_t> out;
    for (uint64_t i = 1; i <= kN; ++i) {
      if (i > sealed_last_ || latest_[path_of(i)] == i || i > confirmed) out.push_back(i);
    }
    return out;
  }
  void expect_exactly(Wal& wal, const std::vector<uint64_t>& want) {
    std::vector<uint64_t> got;
    wal.replay(0, 0, [&](const Entry& e) {
      got.push_back(e.seq);
      EXPECT_EQ(e.path, path_of(e.seq));
      EXPECT_EQ(e.data, data_of(e.seq));
      return true;
    });
    EXPECT_EQ(got, want);
    std::set<uint64_t> keep(want.begin(), want.end());
    for (uint64_t i = 1; i <= kN; ++i) {
      auto e = wal.read_entry(i);
      EXPECT_EQ(e.has_value(), keep.count(i) == 1) << "seq " << i;
      if (e) {
        EXPECT_EQ(e->data, data_of(i));
      }
    }
  }
  void expect_shas_match_files(Wal& wal) {
    for (const auto& s : wal.snapshot().sealed) {
      const std::string bytes = read_file(dir_ + "/" + s.file);
      EXPECT_EQ(bytes.size(), s.bytes) << s.file;
      EXPECT_EQ(s.sha256, openssl_sha256_hex(bytes.substr(0, bytes.size() - 88 + 48))) << s.file;
    }
  }

  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
  std::unique_ptr<Wal> wal_;
  uint64_t sealed_last_ = 0;
  std::map<std::string, uint64_t> latest_;
};

TEST_F(WalCompact, WithoutConfirmationDropsNothing) {
  auto r = wal_->compact();
  EXPECT_EQ(r.entries_dropped, 0u);
  expect_exactly(*wal_, survivors(0));
  EXPECT_EQ(wal_->metrics().compactions, 1u);
  EXPECT_EQ(wal_->metrics().compaction_entries_dropped, 0u);
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

TEST_F(WalCompact, ConfirmedSeqLetsItDropConfirmedSupersededEntries) {
  const uint64_t confirmed = sealed_last_ / 2;
  wal_->confirm("object", confirmed);
  EXPECT_EQ(wal_->confirmed("object"), confirmed);
  EXPECT_EQ(wal_->status().retention_floor, confirmed);
  auto want = survivors(confirmed);
  auto r = wal_->compact();
  EXPECT_EQ(r.entries_dropped, kN - want.size());
  EXPECT_GT(r.entries_dropped, 0u);
  EXPECT_LT(r.bytes_after, r.bytes_before);
  expect_exactly(*wal_, want);
  EXPECT_EQ(wal_->metrics().compaction_entries_dropped, r.entries_dropped);
  expect_shas_match_files(*wal_);
  auto v = Wal::verify(dir_);
  EXPECT_TRUE(v.ok) << v.bad_file << ": " << v.problem;
}

TEST_F(WalCompact, ConfirmedSeqNeverMovesBackwards) {
  wal_->confirm("object", 100);
  wal_->confirm("object", 10);
  EXPECT_EQ(wal_->confirmed("object"), 100u);
  EXPECT_EQ(wal_->retention_floor(), 100u);
}

TEST_F(WalCompact, ForceDropsEverySupersededEntryInSealedSegments) {
  auto want = survivors(UINT64_MAX);
  auto r = wal_->compact(true);
  EXPECT_EQ(r.entries_dropped, kN - want.size());
  EXPECT_LT(r.segments_after, r.segments_before);
  expect_exactly(*wal_, want);
  // Kept entries keep their seqs; the head and the next seq are unchanged.
  EXPECT_EQ(wal_->status().head_seq, kN);
  EXPECT_EQ(wal_->append(make_entry("p0", data_of(kN + 1))), kN + 1);
  expect_shas_match_files(*wal_);
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

TEST_F(WalCompact, ReopenAfterCompactionKeepsTheSurvivors) {
  auto want = survivors(UINT64_MAX);
  wal_->compact(true);
  const auto snap = wal_->snapshot();
  wal_->close();
  wal_.reset();
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(rep.torn_bytes_dropped, 0u);
  expect_exactly(*wal, want);
  EXPECT_EQ(wal->status().head_seq, kN);
  EXPECT_EQ(wal->status().first_seq, want.front());
  auto again = wal->snapshot();
  ASSERT_EQ(again.sealed.size(), snap.sealed.size());
  for (size_t i = 0; i < again.sealed.size(); ++i) {
    EXPECT_EQ(again.sealed[i].sha256, snap.sealed[i].sha256);
  }
  EXPECT_EQ(wal->append(make_entry("p1", data_of(kN + 1))), kN + 1);
  auto v = Wal::verify(dir_);
  EXPECT_TRUE(v.ok) << v.problem;
}

TEST_F(WalCompact, TruncateAfterIntoACompactedSegment) {
  auto want = survivors(UINT64_MAX);
  wal_->compact(true);
  const uint64_t cut = sealed_last_ - 3;
  wal_->truncate_after(cut);
  EXPECT_EQ(wal_->status().head_seq, cut);
  EXPECT_EQ(wal_->append(make_entry("p2", data_of(cut + 1))), cut + 1);
  wal_->close();
  wal_.reset();
  auto wal = Wal::open(opts());
  EXPECT_EQ(wal->status().head_seq, cut + 1);
  for (uint64_t s : want) {
    if (s <= cut) {
      EXPECT_TRUE(wal->read_entry(s).has_value()) << s;
    }
  }
  auto v = Wal::verify(dir_);
  EXPECT_TRUE(v.ok) << v.bad_file << ": " << v.problem;
}

TEST_F(WalCompact, SegmentLeftOverAfterCompactionCommitIsRemovedAtOpen) {
  // Keep copies of the inputs, compact (merging them), then put back an
  // input the compaction removed: the state after a crash between the
  // rename (commit) and the removal of the inputs it covers.
  const std::string backup = tmp_ / "backup";
  std::filesystem::create_directories(backup);
  for (const auto& s : wal_->snapshot().sealed) {
    std::filesystem::copy_file(dir_ + "/" + s.file, backup + "/" + s.file);
  }
  auto want = survivors(UINT64_MAX);
  wal_->compact(true);
  wal_->close();
  wal_.reset();
  int restored = 0;
  for (const auto& e : std::filesystem::directory_iterator(backup)) {
    const std::string name = e.path().filename().string();
    if (!std::filesystem::exists(dir_ + "/" + name)) {
      std::filesystem::copy_file(e.path(), dir_ + "/" + name);
      restored++;
    }
  }
  ASSERT_GT(restored, 0) << "compaction merged nothing";
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_FALSE(rep.notes.empty());
  expect_exactly(*wal, want);
  wal->close();
  auto v = Wal::verify(dir_);
  EXPECT_TRUE(v.ok) << v.bad_file << ": " << v.problem;
}

TEST_F(WalCompact, FailedRenameLeavesTheLogIntact) {
  wal_->close();
  wal_.reset();
  FaultInjectionFileSystem fi;
  auto o = opts();
  o.fs = &fi;
  auto wal = Wal::open(o);
  fi.add_rule(testing::fault(FsOp::kRename, "", 0, -1));
  EXPECT_THROW(wal->compact(true), Error);
  fi.clear_rules();
  expect_exactly(*wal, survivors(0));
  wal->close();
  wal.reset();
  OpenReport rep;
  auto again = Wal::open(opts(), &rep);
  expect_exactly(*again, survivors(0));
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_FALSE(e.path().string().ends_with(".compact")) << e.path();
  }
}

}  // namespace
}  // namespace strata
