// The commit pipeline: turns encoded records into acknowledged ones as the
// sync mode promises, through a CommitSink (the active segment, or a fake in
// tests), knowing nothing of files, segments or entries.
//
// An appender adds its records to the pending buffer under the owner's
// mutex (seq assignment and encoding are the owner's), then commits: in
// `always` mode it waits until a leader has written and synced past its
// seq. Whoever finds its records still pending and a sync slot free becomes
// the leader: it takes everything pending and, without the mutex, writes it
// with one sink write and syncs, while the next group gathers. The records
// pending together form a batch (the group a leader takes); its writers
// sleep on the batch's futex word without the mutex, so a finished group is
// acknowledged with one wake-up call for all of its writers, who return
// without taking the mutex again. Up to `slots` leaders run at once. Their
// writes happen in log order (so the sink never has a hole a process crash
// could expose); their syncs overlap, each through its own slot, and a group
// is acknowledged only when it and every group before it are synced.
// `interval` writes at commit and syncs from the owner's background thread
// (sync_written); `none` buffers up to buffered_write_bytes and acknowledges
// at once.
//
// Contract:
//  - Every method runs with the owner's mutex held (the unique_lock passed
//    in, or the one the owner holds); methods taking the lock may release it
//    while they write or sync and hold it again when they return or throw,
//    except commit(), which returns with it released.
//  - The sink is called without the mutex, writes strictly in log order and
//    one at a time; syncs of different slots may overlap each other and a
//    write.
//  - ack_seq() only grows (until reset) and never passes what the mode
//    promises: in `always`, durable_seq(); in `interval`, written_seq().
//  - Any failed write or sync stops the pipeline for good: every waiter and
//    every later call throws kWalStopped, naming the last seq that reached
//    the sink and the last acknowledged one. A sync is never retried.
//  - Progress (a group written or synced, a leader done, a stop) is
//    signalled on the owner's condition variable, so the owner may wait on
//    it for idle().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "strata/error.h"
#include "strata/wal.h"

namespace strata::wal {

// Where committed bytes go.
class CommitSink {
 public:
  virtual ~CommitSink() = default;
  // Writes bytes at offset (all of them, or throws strata::Error).
  virtual void write(std::string_view bytes, uint64_t offset) = 0;
  // Makes every write that completed before the call durable; slot <
  // the pipeline's slots, or 0 when the pipeline is idle.
  virtual void sync(size_t slot) = 0;
  // For messages: what the sink writes to (a segment file name).
  virtual std::string name() const = 0;
};

struct PipelineOptions {
  SyncMode mode = SyncMode::kAlways;
  size_t slots = 1;                       // `always`: leaders in flight at once
  size_t buffered_write_bytes = 1 << 20;  // `none`: pending bytes written at once
  std::string log_name;                   // for messages ("WAL <dir>")
};

struct PipelineCounters {
  uint64_t syncs = 0;
  uint64_t group_commits = 0;
  uint64_t max_group_size = 0;
};

class CommitPipeline {
 public:
  CommitPipeline(std::condition_variable& cv, PipelineOptions options);

  // Starts over on `sink`, whose bytes end at `end`, with every seq up to
  // head durable and acknowledged (opening, rotation, truncation). Only
  // while idle() with nothing pending.
  void reset(std::shared_ptr<CommitSink> sink, uint64_t end, uint64_t head);

  // ---- adding records (owner's mutex held)
  uint64_t next_seq() const { return next_seq_; }
  // Where the next record goes: past what is written, what leaders are
  // writing and what is pending.
  uint64_t end() const { return written_end_ + inflight_bytes_ + pending_.size(); }
  // Room for `bytes` of records at end(); fill it before add_done().
  // Throws kWalStopped (nothing added) once stopped.
  char* add(size_t bytes);
  // The records just added hold `entries` entries, the last with seq last.
  void add_done(uint64_t entries, uint64_t last);
  // Acknowledges everything up to `last` (added just now, the mutex held
  // since) as the mode promises; `always` waits, possibly leading groups.
  // Returns with lk unlocked (a writer woken when its group is durable does
  // not queue for the mutex just to give it back); throws with it held or not.
  void commit(std::unique_lock<std::mutex>& lk, uint64_t last);

  // Writes what is pending now (`interval`/`none`; in `always` only while
  // idle). Acknowledges it in `interval`/`none`.
  void write_pending();
  // Writes and syncs everything added so far and acknowledges it. Waits for
  // leaders and the interval sync first, and while busy() (the owner's own
  // I/O without the mutex) returns true.
  void drain(std::unique_lock<std::mutex>& lk, const std::function<bool()>& busy = nullptr);
  // `interval`: syncs what is written without holding the mutex meanwhile;
  // a no-op when that is durable or a sync runs.
  void sync_written(std::unique_lock<std::mutex>& lk);

  // ---- state
  uint64_t ack_seq() const { return ack_seq_; }  // visible to readers
  uint64_t ack_end() const { return ack_end_; }  // sink offset just past ack_seq
  uint64_t durable_seq() const { return durable_seq_; }
  uint64_t written_seq() const { return written_seq_; }
  uint64_t written_end() const { return written_end_; }
  // Every group taken is acknowledged and nothing runs without the mutex.
  bool idle() const { return inflight_.empty() && !io_running(); }
  // A leader or the interval sync is writing or syncing without the mutex
  // (after a stop, groups stay unacknowledged but no I/O runs any more).
  bool io_running() const;
  // Set after a sync of the sink that the owner did itself (sealing).
  void mark_durable() { durable_seq_ = written_seq_; }
  const PipelineCounters& counters() const { return counters_; }

  // ---- stopping
  bool stopped() const { return stopped_; }
  const std::string& stop_reason() const { return stop_reason_; }
  Error stopped_error() const;
  // Stops for good (see the contract), wakes everyone and throws.
  [[noreturn]] void stop(const std::string& reason, const Error& cause);

 private:
  // A group taken by a leader and not yet acknowledged.
  struct Group {
    uint64_t upto = 0;  // last seq in the group
    uint64_t end = 0;   // sink offset just past it
    bool synced = false;
  };
  // The records gathered for one group in `always` mode, from the first
  // add() after the previous group was taken until the group is acknowledged.
  // Its writers wait on `state` (a futex word) without the mutex: the
  // leader that finishes the group wakes them all with one call, and a
  // finishing leader hands the next group to one of its writers by setting
  // kLead and waking one.
  struct Batch {
    enum : uint32_t { kGathering, kLead, kTaken, kDone, kStopped };
    std::atomic<uint32_t> state{kGathering};
    uint64_t upto = 0;  // last seq added to it
  };
  static constexpr size_t kNoSlot = SIZE_MAX;

  size_t free_slot() const;
  void wait_for_durable(std::unique_lock<std::mutex>& lk, uint64_t seq);
  void lead_group(std::unique_lock<std::mutex>& lk);
  // Marks every batch up to durable_seq_ (every batch after a stop) done
  // (stopped) and moves it to *finished, whose writers the caller wakes with
  // wake_all(), without the mutex where it can; hands the pending batch to a
  // new leader if a slot is free.
  void finish_batches(std::vector<std::shared_ptr<Batch>>& finished);
  static void wake_all(const std::vector<std::shared_ptr<Batch>>& finished);

  std::condition_variable& cv_;
  const PipelineOptions opt_;
  std::shared_ptr<CommitSink> sink_;

  std::string pending_;                  // encoded records not yet taken
  std::vector<std::string> spare_bufs_;  // leaders' buffers, reused
  uint64_t pending_entries_ = 0;
  uint64_t inflight_bytes_ = 0;  // taken by leaders, not yet written
  uint64_t written_end_ = 0;     // written up to here
  uint64_t next_seq_ = 1;
  uint64_t taken_seq_ = 0;    // last seq handed to a leader or written
  uint64_t written_seq_ = 0;  // last seq written
  uint64_t durable_seq_ = 0;  // last seq synced
  uint64_t ack_seq_ = 0;      // last seq acknowledged
  uint64_t ack_end_ = 0;
  std::deque<Group> inflight_;  // oldest first
  std::vector<bool> slot_busy_;
  std::deque<std::shared_ptr<Batch>> batches_;  // `always`: oldest first, pending last
  bool interval_sync_running_ = false;
  bool stopped_ = false;
  std::string stop_reason_;
  PipelineCounters counters_;
};

}  // namespace strata::wal
