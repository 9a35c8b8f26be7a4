// The commit pipeline with several fdatasyncs in flight: seqs stay gapless,
// every acknowledged entry survives a reopen, a failed sync stops everyone
// and never lets a later group's success acknowledge an earlier group; the
// background preallocation keeps zeros ahead of the writers; open defers the
// tail's digest to sealing.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "strata/error.h"
#include "strata/testing/fault_injection_file_system.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::make_entry;
using testing::TempDir;

class Pipeline : public ::testing::TestWithParam<uint32_t> {
 protected:
  WalOptions opts() {
    auto o = testing::test_options(dir_);
    o.fs = &fi_;
    o.syncs_in_flight = GetParam();
    return o;
  }
  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
  FaultInjectionFileSystem fi_;
};

INSTANTIATE_TEST_SUITE_P(SyncsInFlight, Pipeline, ::testing::Values(1u, 2u, 4u),
                         [](const auto& info) { return fmt::format("n{}", info.param); });

std::string payload(int t, int i) {
  return fmt::format("{}:{}:", t, i) + std::string(200 + (t * 31 + i) % 300, 'a' + t % 26);
}

TEST_P(Pipeline, ManyThreadsAcrossRotationsKeepEverySeqAndItsData) {
  constexpr int kThreads = 24, kPer = 60;
  auto o = opts();
  o.segment_bytes = 64 * 1024;  // many rotations while groups are in flight
  std::vector<std::vector<uint64_t>> seqs(kThreads);
  {
    auto wal = Wal::open(o);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPer; ++i) {
          seqs[t].push_back(wal->append(make_entry(fmt::format("t{}/{}", t, i), payload(t, i))));
        }
      });
    }
    for (auto& th : threads) th.join();
    auto m = wal->metrics();
    EXPECT_LT(m.group_commits, m.appends) << "no group held more than one entry";
    EXPECT_GT(m.rotations, 3u);
    wal->close();
  }
  std::vector<uint64_t> all;
  for (const auto& v : seqs) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPer));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i + 1) << "gap or duplicate";

  OpenReport rep;
  auto wal = Wal::open(testing::test_options(dir_), &rep);
  EXPECT_EQ(rep.torn_bytes_dropped, 0u);
  EXPECT_EQ(rep.corrupt_records_skipped, 0u);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPer; ++i) {
      auto e = wal->read_entry(seqs[t][i]);
      ASSERT_TRUE(e) << seqs[t][i];
      EXPECT_EQ(e->path, fmt::format("t{}/{}", t, i));
      EXPECT_EQ(e->data, payload(t, i));
    }
  }
  wal->close();
  auto v = Wal::verify(dir_);
  EXPECT_TRUE(v.ok) << v.problem;
}

TEST_P(Pipeline, FailedSyncAmongOverlappingOnesStopsEveryWriterAndKeepsAcknowledged) {
  for (int skip : {3, 11, 40}) {
    SCOPED_TRACE(fmt::format("fdatasync {} fails", skip + 1));
    std::filesystem::remove_all(dir_);
    fi_.clear_rules();
    // Judge acknowledgements by what a power loss leaves, not by the WAL's
    // own bookkeeping: blocks no completed sync covers may revert.
    fi_.track_unsynced_writes(true);
    auto wal = Wal::open(opts());
    fi_.add_rule(testing::fault(FsOp::kSyncData, ".seg", skip));
    std::mutex mu;
    std::vector<uint64_t> acked;
    std::atomic<int> stopped{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) {
          try {
            const uint64_t seq =
                wal->append(make_entry(fmt::format("t{}/{}", t, i), payload(t, i)));
            std::lock_guard lk(mu);
            acked.push_back(seq);
          } catch (const Error& e) {
            if (e.code() == ErrorCode::kWalStopped) stopped++;
            return;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(stopped.load(), 12) << "every writer must see the stop";
    const auto st = wal->status();
    EXPECT_TRUE(st.stopped);
    // Nothing past the durable prefix was acknowledged.
    for (uint64_t seq : acked) EXPECT_LE(seq, st.durable_seq);
    wal.reset();
    fi_.clear_rules();
    fi_.lose_unsynced_writes(static_cast<uint64_t>(skip));
    fi_.track_unsynced_writes(false);
    auto again = Wal::open(testing::test_options(dir_));
    for (uint64_t seq : acked) ASSERT_TRUE(again->read_entry(seq).has_value()) << seq;
  }
}

TEST_P(Pipeline, EachOverlappingSyncUsesItsOwnDescriptor) {
  // Linux reports a writeback error once per open file description; two
  // fdatasyncs sharing one could let the second miss the first's error.
  // Each sync slot (plus preallocation) therefore opens the segment itself.
  auto o = opts();
  const uint64_t opens_before = fi_.count(FsOp::kOpen);
  auto wal = Wal::open(o);
  const uint64_t opens = fi_.count(FsOp::kOpen) - opens_before;
  // LOCK, HISTORY (write + rename source), the segment, and one per slot + 1.
  EXPECT_GE(opens, GetParam() + 2u);
  wal->append(make_entry("a"));
  wal->rotate();
  const uint64_t after_rotate = fi_.count(FsOp::kOpen) - opens_before - opens;
  EXPECT_EQ(after_rotate, 1u + GetParam() + 1u) << "new segment + its sync descriptors";
}

class WalOpenTail : public ::testing::Test {
 protected:
  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
};

TEST_F(WalOpenTail, SealingAfterReopenDigestsTheWholeSegment) {
  // Open does not hash the unsealed tail (so open time does not grow with
  // it); sealing must then digest the bytes written before the reopen too.
  for (SyncMode mode : {SyncMode::kAlways, SyncMode::kInterval, SyncMode::kNone}) {
    SCOPED_TRACE(sync_mode_name(mode));
    std::filesystem::remove_all(dir_);
    auto o = testing::test_options(dir_);
    o.sync = mode;
    for (int round = 0; round < 3; ++round) {
      auto wal = Wal::open(o);
      for (int i = 0; i < 50; ++i) wal->append(make_entry(fmt::format("r{}/{}", round, i), "data"));
      wal->close();
    }
    auto wal = Wal::open(o);
    wal->rotate();
    wal->close();
    auto v = Wal::verify(dir_);
    EXPECT_TRUE(v.ok) << v.bad_file << ": " << v.problem;
    EXPECT_EQ(v.records, 150u);
  }
}

TEST_F(WalOpenTail, BackgroundPreallocationStaysAheadOfTheWriters) {
  auto o = testing::test_options(dir_);
  o.segment_bytes = 64ull << 20;
  auto wal = Wal::open(o);
  const std::string big(64 * 1024, 'p');
  // Write 9 MiB, past two 4 MiB chunks; the file must be zero-filled beyond
  // the records, and never by less than the data itself.
  for (int i = 0; i < 144; ++i) wal->append(make_entry(fmt::format("b/{}", i), big));
  const auto snap = wal->snapshot();
  const uint64_t size = testing::file_size(dir_ + "/" + snap.active.file);
  // Zeros lie beyond the records, and they were synced by the background
  // thread: one appender makes one fdatasync per append, so any more are
  // the preallocation's.
  EXPECT_GT(size, snap.active.bytes);
  const auto m = wal->metrics();
  EXPECT_GT(m.fsyncs, m.group_commits);
  wal->close();
  auto again = Wal::open(o);
  EXPECT_EQ(again->status().head_seq, 144u);
}

// truncate_after cuts the active segment in place; readers working on the
// files without the WAL mutex must never meet the cut (a false WAL_CORRUPT
// from a record that was whole when their read began).
TEST_F(WalOpenTail, ReadersRunningDuringTruncateAfterNeverSeeATornLog) {
  auto o = testing::test_options(dir_);
  o.sync = SyncMode::kNone;
  auto wal = Wal::open(o);
  const std::string data(200, 'd');
  for (int i = 1; i <= 20000; ++i) wal->append(make_entry(fmt::format("k/{}", i % 97), data));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> replays{0};
  std::atomic<bool> failed{false};
  std::string problem;  // written by the reader only, read after join
  std::thread reader([&] {
    try {
      while (!done && !failed) {
        uint64_t prev = 0;
        wal->replay_view(0, 0, [&](const EntryView& v) {
          if (v.seq != prev + 1 && !failed) {
            problem = fmt::format("seq {} after {}", v.seq, prev);
            failed = true;
          }
          prev = v.seq;
          // A slow consumer, so that cuts land in the middle of its pass.
          if (v.seq % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
          return true;
        });
        replays++;
      }
    } catch (const Error& e) {
      problem = e.what();
      failed = true;
    }
  });
  for (int round = 0; round < 15 && !failed; ++round) {
    // Grow the log, let the reader start a pass, then cut most of the
    // active segment away while it is likely still reading it.
    for (int i = 0; i < 10000; ++i) {
      wal->append(make_entry(fmt::format("r{}/{}", round, i % 97), data));
    }
    const uint64_t seen = replays.load();
    while (replays.load() == seen && !failed) std::this_thread::yield();
    wal->truncate_after(wal->status().head_seq - 10000);
  }
  done = true;
  reader.join();
  EXPECT_EQ(problem, "");
}

}  // namespace
}  // namespace strata
