// The WAL facade: strata::Wal over the pieces in src/wal (log_open,
// active_segment, commit_pipeline, read_path, tier_marks, space_guard,
// compaction, segment_file). It owns the locks and the state they guard;
// the pieces take the lock they need from it (their headers say which).
//
// Locks, always taken in this order (a later one may be taken while an
// earlier one is held, never the other way round):
//   history_mu_  shared by readers while they read files without mu_;
//                truncate_after takes it alone (it cuts files).
//   admin_mu_    serializes compact, truncate_after, delete_sealed_through,
//                start_after and import_framed (the operations that replace
//                or remove segments or own seq assignment).
//   marks_mu_    serializes the writers of wal/MARKS (confirm, truncate_after).
//   pin_mu_      held while pins are taken and while compaction or deletion
//                checks pins and removes segments.
//   mu_          every member marked GUARDED_BY(mu_); held only briefly:
//                file I/O runs without it (the commit pipeline's leaders,
//                preallocation, compaction, the read loops).
// clang checks the annotations (-Wthread-safety, src/CMakeLists.txt): what
// mu_ guards, which function needs which lock held (REQUIRES) and which
// takes it itself (EXCLUDES: none of these locks is recursive); the order
// above is declared with ACQUIRED_BEFORE (checked with -Wthread-safety-beta).
// A function given the lock (std::unique_lock&) may release it while it
// waits or does I/O, and holds it again when it returns.
//
// wal.cpp: opening, appends, reads, status, confirm and the threads;
// wal_maintenance.cpp: truncation, compaction, pins, deletion and import.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/thread_annotations.h"
#include "strata/fs.h"
#include "strata/wal.h"
#include "wal/active_segment.h"
#include "wal/commit_pipeline.h"
#include "wal/read_path.h"
#include "wal/segment_file.h"
#include "wal/space_guard.h"
#include "wal/tier_marks.h"

namespace strata::wal {

struct Marks;

class WalImpl final : public Wal {
 public:
  WalImpl(const WalOptions& options, OpenReport* report);
  ~WalImpl() override;

  uint64_t append(const Entry& entry) override { return append_entries(&entry, 1); }
  uint64_t append_batch(const std::vector<Entry>& entries) override;
  void truncate_after(uint64_t seq) override
      EXCLUDES(history_mu_, admin_mu_, marks_mu_, pin_mu_, mu_);
  std::optional<Entry> read_entry(uint64_t seq) override EXCLUDES(history_mu_, mu_);
  uint64_t replay(uint64_t since_seq, uint64_t limit,
                  const std::function<bool(const Entry&)>& fn) override {
    return replay_view(since_seq, limit, [&](const EntryView& v) { return fn(v.to_entry()); });
  }
  uint64_t replay_view(uint64_t since_seq, uint64_t limit,
                       const std::function<bool(const EntryView&)>& fn) override
      EXCLUDES(history_mu_, mu_);
  WalSnapshot snapshot() override EXCLUDES(mu_);
  WalStatus status() override EXCLUDES(mu_);
  WalMetrics metrics() override EXCLUDES(mu_);
  void flush() override EXCLUDES(mu_);
  void confirm(std::string_view tier, uint64_t seq) override EXCLUDES(marks_mu_, mu_);
  uint64_t confirmed(std::string_view tier) override EXCLUDES(mu_) {
    MutexLock lk(mu_);
    return marks_.confirmed(tier);
  }
  uint64_t retention_floor() override EXCLUDES(mu_) {
    MutexLock lk(mu_);
    return marks_.floor();
  }
  FramedRecords read_framed(uint64_t after_seq, uint64_t max_bytes) override
      EXCLUDES(history_mu_, mu_);
  SegmentPin pin_sealed_since(uint64_t since_seq) override EXCLUDES(pin_mu_, mu_);
  std::vector<SegmentInfo> delete_sealed_through(uint64_t seq) override
      EXCLUDES(admin_mu_, pin_mu_, mu_);
  ImportResult import_framed(std::string_view framed) override EXCLUDES(admin_mu_, mu_);
  void start_after(uint64_t seq) override EXCLUDES(admin_mu_, mu_);
  CompactResult compact(bool force) override EXCLUDES(admin_mu_, pin_mu_, mu_);
  void rotate() override EXCLUDES(mu_);
  void close() override EXCLUDES(mu_);

 private:
  void open_dir(OpenReport* report);
  WalStatus status_without_free_space() EXCLUDES(mu_);
  // The only writer of wal/MARKS: marks_mu_ keeps the writers in order.
  void store_marks(const Marks& marks) REQUIRES(marks_mu_);

  // ---- writing (all *_locked run with mu_ held) ----
  uint64_t append_entries(const Entry* entries, size_t n) EXCLUDES(mu_);
  void validate(EntryType type, EntryOp op, std::string_view path, size_t data_size) const;
  void check_open_locked() const REQUIRES(mu_);
  void check_writable_locked(uint64_t bytes) REQUIRES(mu_);
  // Waits out an import, then checks, rotates and allocates until `bytes` of
  // records fit into the active segment at active_end().
  void reserve_locked(std::unique_lock<std::mutex>& lk, uint64_t bytes, bool importer = false)
      REQUIRES(mu_);
  void rotate_locked(std::unique_lock<std::mutex>& lk) REQUIRES(mu_);
  // Asks the compaction thread for a compaction, unless one already ran
  // with the same floor and sealed segments (it would drop nothing new).
  void request_compaction_locked() REQUIRES(mu_);
  // Replaces the empty active segment of a log without entries by one whose
  // base seq is `base` (nothing in flight). Like every replacement of a
  // segment it runs under admin_mu_.
  void restart_empty_locked(uint64_t base) REQUIRES(admin_mu_, mu_);
  // A leader, the interval sync or the preallocation is doing I/O without mu_.
  bool io_in_flight_locked() const REQUIRES(mu_) {
    return pipe_.io_running() || active_.prealloc_running();
  }
  void drain_locked(std::unique_lock<std::mutex>& lk) REQUIRES(mu_) { active_.drain(lk); }
  [[noreturn]] void stop_locked(const std::string& reason, const Error& cause) REQUIRES(mu_) {
    pipe_.stop(reason, cause);
  }
  uint64_t active_end() const REQUIRES(mu_) { return pipe_.end(); }
  uint64_t total_bytes_locked() const REQUIRES(mu_) { return sealed_bytes_ + active_end(); }

  // ---- reading ----
  // Checks the log is open and puts buffered records into the file.
  void make_readable_locked() REQUIRES(mu_);
  std::vector<ReadPlan> plan_reads_locked(uint64_t from_seq, size_t max_plans = SIZE_MAX)
      REQUIRES(mu_) {
    return plan_reads(sealed_,
                      ActiveView{active_.segment().get(), pipe_.ack_seq(), pipe_.ack_end()},
                      from_seq, handles_, max_plans);
  }

  void background_loop() EXCLUDES(mu_);  // interval syncs, preallocation
  void compaction_loop() EXCLUDES(mu_);  // compactions requested by pressure

  std::string seg_path(const std::string& name) const { return segment_path(opt_.dir, name); }

  const WalOptions opt_;
  FileSystem& fs_;
  std::unique_ptr<FileLock> lock_;

  SharedMutex history_mu_ ACQUIRED_BEFORE(admin_mu_);
  Mutex admin_mu_ ACQUIRED_BEFORE(marks_mu_);
  Mutex marks_mu_ ACQUIRED_BEFORE(pin_mu_);
  Mutex pin_mu_ ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_;
  std::condition_variable cv_;          // durable progress, leader hand-off
  std::condition_variable bg_cv_;       // wakes the background thread
  std::condition_variable compact_cv_;  // wakes the compaction thread

  SegmentList sealed_ GUARDED_BY(mu_);
  uint64_t sealed_bytes_ GUARDED_BY(mu_) = 0;
  HandleCache handles_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  std::string history_id_ GUARDED_BY(mu_);  // changes whenever truncate_after rewrites history
  TierMarks marks_ GUARDED_BY(mu_);
  bool importing_ GUARDED_BY(mu_) = false;  // import_framed owns seq assignment; appends wait
  WalMetrics metrics_ GUARDED_BY(mu_);
  // Pending records, groups, syncs in flight, waiters (under mu_, on cv_).
  CommitPipeline pipe_ GUARDED_BY(mu_);
  ActiveSegment active_ GUARDED_BY(mu_);  // the pipeline's sink

  SpaceGuard guard_ GUARDED_BY(mu_);  // size pressure and free space
  bool compaction_requested_ GUARDED_BY(mu_) = false;
  // (floor, last sealed seq) when the compaction thread last compacted.
  std::pair<uint64_t, uint64_t> auto_compacted_at_ GUARDED_BY(mu_){UINT64_MAX, UINT64_MAX};

  std::thread background_;
  std::thread compactor_;
  bool background_stop_ GUARDED_BY(mu_) = false;
};

}  // namespace strata::wal
