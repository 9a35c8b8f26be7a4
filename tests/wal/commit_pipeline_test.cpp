// The commit pipeline against a model sink (no files): what each sync mode
// acknowledges and when, log-order writes without holes, stops that name
// the last seq that reached the sink, and many writers at once
// (CommitPipelineConcurrency.*, for ThreadSanitizer).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "strata/error.h"
#include "support/wal_helpers.h"
#include "wal/commit_pipeline.h"

namespace strata {
namespace {

using testing::code_of;
using wal::CommitPipeline;
using wal::PipelineOptions;

constexpr size_t kRec = 8;  // a model record: its seq, 8 bytes

// Keeps what was written and what a sync covered; checks the sink's side of
// the contract (writes in order, one at a time, no hole).
class ModelSink final : public wal::CommitSink {
 public:
  void write(std::string_view bytes, uint64_t offset) override {
    if (writing_.exchange(true)) overlapping_writes_++;
    {
      std::lock_guard lk(mu_);
      if (fail_writes_) {
        writing_ = false;
        throw Error(ErrorCode::kIoError, "injected write failure (ENOSPC)");
      }
      if (offset != bytes_.size()) holes_or_reorders_++;
      bytes_.append(bytes);
      writes_++;
    }
    std::this_thread::yield();
    writing_ = false;
  }
  void sync(size_t) override {
    uint64_t covers;
    {
      std::lock_guard lk(mu_);
      covers = bytes_.size();  // what completed before the call
      syncs_++;
      if (fail_sync_after_ >= 0 && syncs_ > fail_sync_after_) {
        throw Error(ErrorCode::kIoError, "injected fdatasync failure");
      }
    }
    std::this_thread::yield();
    std::lock_guard lk(mu_);
    synced_ = std::max(synced_, covers);
  }
  std::string name() const override { return "model"; }

  uint64_t synced() {
    std::lock_guard lk(mu_);
    return synced_;
  }
  std::string bytes() {
    std::lock_guard lk(mu_);
    return bytes_;
  }
  int syncs() {
    std::lock_guard lk(mu_);
    return syncs_;
  }
  void fail_writes() {
    std::lock_guard lk(mu_);
    fail_writes_ = true;
  }
  void fail_sync_after(int n) {
    std::lock_guard lk(mu_);
    fail_sync_after_ = n;
  }
  std::atomic<int> overlapping_writes_{0};
  std::atomic<int> holes_or_reorders_{0};

 private:
  std::mutex mu_;
  std::atomic<bool> writing_{false};
  std::string bytes_;
  uint64_t synced_ = 0;
  int writes_ = 0;
  int syncs_ = 0;
  bool fail_writes_ = false;
  int fail_sync_after_ = -1;
};

// The owner's side: a mutex, a condition variable, seqs encoded as records.
struct Owner {
  explicit Owner(SyncMode mode, size_t slots = 1, size_t buffered = 1 << 20)
      : pipe(cv, PipelineOptions{mode, slots, buffered, "model log"}) {
    pipe.reset(sink, 0, 0);
  }
  // Appends n records and commits them; returns (last seq, end offset).
  std::pair<uint64_t, uint64_t> append(size_t n = 1) {
    std::unique_lock lk(mu);
    const uint64_t first = pipe.next_seq();
    char* out = pipe.add(n * kRec);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t seq = first + i;
      std::memcpy(out + i * kRec, &seq, kRec);
    }
    const uint64_t last = first + n - 1;
    pipe.add_done(n, last);
    const uint64_t end = pipe.end();
    pipe.commit(lk, last);
    return {last, end};
  }
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<ModelSink> sink = std::make_shared<ModelSink>();
  CommitPipeline pipe;
};

// The sink holds seqs 1..n in order, each once.
void expect_seqs(const std::string& bytes, uint64_t n) {
  ASSERT_EQ(bytes.size(), n * kRec);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t seq;
    std::memcpy(&seq, bytes.data() + i * kRec, kRec);
    ASSERT_EQ(seq, i + 1) << "at record " << i;
  }
}

TEST(CommitPipeline, AlwaysAcknowledgesOnlyWhatASyncCovered) {
  Owner o(SyncMode::kAlways);
  for (int i = 0; i < 10; ++i) {
    auto [last, end] = o.append(i % 3 + 1);
    EXPECT_GE(o.sink->synced(), end) << "seq " << last << " acknowledged before a sync covered it";
    std::lock_guard lk(o.mu);
    EXPECT_EQ(o.pipe.ack_seq(), last);
    EXPECT_EQ(o.pipe.durable_seq(), last);
    EXPECT_EQ(o.pipe.ack_end(), end);
  }
  expect_seqs(o.sink->bytes(), 19);
  EXPECT_EQ(o.sink->syncs(), 10);  // one writer: one group, one sync per commit
  EXPECT_EQ(o.pipe.counters().group_commits, 10u);
  EXPECT_EQ(o.sink->holes_or_reorders_, 0);
}

TEST(CommitPipeline, IntervalWritesAtCommitAndIsDurableOnlyAfterSyncWritten) {
  Owner o(SyncMode::kInterval);
  auto [last, end] = o.append(3);
  EXPECT_EQ(o.sink->bytes().size(), end);
  EXPECT_EQ(o.sink->syncs(), 0);
  std::unique_lock lk(o.mu);
  EXPECT_EQ(o.pipe.ack_seq(), last);
  EXPECT_EQ(o.pipe.durable_seq(), 0u);
  o.pipe.sync_written(lk);
  EXPECT_EQ(o.pipe.durable_seq(), last);
  EXPECT_EQ(o.sink->synced(), end);
  o.pipe.sync_written(lk);  // nothing new: no sync
  EXPECT_EQ(o.sink->syncs(), 1);
}

TEST(CommitPipeline, NoneBuffersUntilTheLimitAndDrainWritesAndSyncs) {
  Owner o(SyncMode::kNone, 1, /*buffered=*/4 * kRec);
  o.append(3);
  EXPECT_TRUE(o.sink->bytes().empty());
  {
    std::lock_guard lk(o.mu);
    EXPECT_EQ(o.pipe.ack_seq(), 3u);  // acknowledged before it was written
    EXPECT_EQ(o.pipe.written_seq(), 0u);
  }
  o.append(1);  // the buffer reaches the limit
  expect_seqs(o.sink->bytes(), 4);
  o.append(2);
  std::unique_lock lk(o.mu);
  o.pipe.drain(lk);
  expect_seqs(o.sink->bytes(), 6);
  EXPECT_EQ(o.pipe.durable_seq(), 6u);
  EXPECT_EQ(o.sink->synced(), 6 * kRec);
}

// Issue #10 defect 4: in `none` mode the stop must name the last seq that
// reached the file, not the last acknowledged one, and say which
// acknowledged seqs are gone.
TEST(CommitPipeline, NoneFailedWriteNamesTheLastSeqInTheSinkAndTheLostAcknowledgedOnes) {
  Owner o(SyncMode::kNone, 1, /*buffered=*/8 * kRec);
  o.append(8);  // written
  o.append(5);  // acknowledged, buffered
  o.sink->fail_writes();
  std::unique_lock lk(o.mu);
  EXPECT_EQ(code_of([&] { o.pipe.write_pending(); }), ErrorCode::kWalStopped);
  const std::string why = o.pipe.stop_reason();
  EXPECT_NE(why.find("Entries up to seq 8 reached the segment"), std::string::npos) << why;
  EXPECT_NE(why.find("seqs 9 to 13 were acknowledged"), std::string::npos) << why;
  EXPECT_EQ(why.find("after seq 13"), std::string::npos) << why;
  lk.unlock();
  EXPECT_EQ(code_of([&] { o.append(); }), ErrorCode::kWalStopped);
}

TEST(CommitPipeline, FailedSyncStopsForGoodAndIsNeverRetried) {
  Owner o(SyncMode::kAlways);
  o.append();
  o.sink->fail_sync_after(1);
  EXPECT_EQ(code_of([&] { o.append(); }), ErrorCode::kWalStopped);
  const int syncs = o.sink->syncs();
  EXPECT_EQ(code_of([&] { o.append(); }), ErrorCode::kWalStopped);
  std::unique_lock lk(o.mu);
  EXPECT_EQ(code_of([&] { o.pipe.drain(lk); }), ErrorCode::kWalStopped);
  EXPECT_EQ(o.sink->syncs(), syncs);
  EXPECT_EQ(o.pipe.ack_seq(), 1u);
  EXPECT_FALSE(o.pipe.io_running());
  EXPECT_NE(o.pipe.stop_reason().find("fdatasync of segment model failed"), std::string::npos);
  EXPECT_NE(o.pipe.stop_reason().find("after seq 1 were not acknowledged"), std::string::npos)
      << o.pipe.stop_reason();
}

// ---- many writers (labelled `concurrency`: run under ThreadSanitizer)

TEST(CommitPipelineConcurrency, ManyWritersGetGaplessSeqsWrittenInOrderAndSyncedBeforeAck) {
  for (size_t slots : {1u, 3u}) {
    SCOPED_TRACE(slots);
    Owner o(SyncMode::kAlways, slots);
    constexpr int kThreads = 16, kEach = 150;
    std::atomic<int> early{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          auto [last, end] = o.append((t + i) % 2 + 1);
          if (o.sink->synced() < end) early++;
        }
      });
    }
    for (auto& th : threads) th.join();
    uint64_t total = 0;
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kEach; ++i) total += (t + i) % 2 + 1;
    }
    EXPECT_EQ(early, 0) << "a commit returned before a sync covered it";
    EXPECT_EQ(o.sink->overlapping_writes_, 0);
    EXPECT_EQ(o.sink->holes_or_reorders_, 0);
    expect_seqs(o.sink->bytes(), total);
    std::lock_guard lk(o.mu);
    EXPECT_EQ(o.pipe.ack_seq(), total);
    EXPECT_TRUE(o.pipe.idle());
  }
}

TEST(CommitPipelineConcurrency, FailedSyncWakesEveryWriterAndKeepsWhatWasAcknowledged) {
  Owner o(SyncMode::kAlways, 2);
  o.sink->fail_sync_after(25);
  constexpr int kThreads = 12;
  std::atomic<uint64_t> max_acked{0};
  std::atomic<int> stopped{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (true) {
        try {
          auto [last, end] = o.append();
          uint64_t prev = max_acked.load();
          while (prev < last && !max_acked.compare_exchange_weak(prev, last)) {
          }
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kWalStopped);
          stopped++;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();  // a writer left waiting would hang here
  EXPECT_EQ(stopped, kThreads);
  std::lock_guard lk(o.mu);
  EXPECT_TRUE(o.pipe.stopped());
  EXPECT_FALSE(o.pipe.io_running());
  EXPECT_EQ(o.pipe.ack_seq(), max_acked.load());
  EXPECT_GE(o.sink->synced(), o.pipe.ack_end());
}

}  // namespace
}  // namespace strata
