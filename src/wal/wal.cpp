// The WAL: segments on disk, group commit, recovery of the tail at open.
//
// An appender encodes its records (seq assignment, CRC, index) into the
// commit pipeline under the mutex and commits them there
// (wal/commit_pipeline.h: group commit, syncs in flight); the active
// segment is the pipeline's sink, through one descriptor per sync slot so a
// writeback error is reported to every one of them (Linux errseq_t).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/error.h"
#include "strata/wal.h"
#include "wal/commit_pipeline.h"
#include "wal/compaction.h"
#include "wal/dir_state.h"
#include "wal/log_recovery.h"
#include "wal/record_format.h"
#include "wal/segment_file.h"
#include "wal/segment_reader.h"
#include "wal/space_guard.h"

namespace strata {
namespace {

using wal::index_start;
using wal::info_of;
using wal::kHeaderSize;
using wal::kIndexEntrySize;
using wal::kMaxBody;
using wal::kTrailerSize;
using wal::RecordReader;
using wal::RecordView;
using wal::Segment;
using wal::unreadable_record;
using wal::write_zeros;

// In `always` mode segments grow by this much zero-filled space at a time:
// overwriting allocated blocks lets fdatasync skip the file-size journal
// update. The background thread fills and syncs the next chunk before the
// writers need it.
constexpr uint64_t kPreallocChunk = 4ull << 20;
// Point reads scan from the sparse index entry before the record, so one
// read of a stride (plus a typical record) usually finds it.
constexpr size_t kPointReadBytes = wal::kIndexStride + 4096;
// In `none` mode records are buffered in memory up to this size.
constexpr size_t kBufferedWriteBytes = 1 << 20;
// Open sealed-segment handles kept for reads before the cache is dropped.
constexpr size_t kMaxCachedHandles = 128;

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Where to look for records: a file and a byte range.
struct ReadPlan {
  std::shared_ptr<File> file;
  uint64_t start = 0;
  uint64_t end = 0;
};

class WalImpl final : public Wal {
 public:
  WalImpl(const WalOptions& options, OpenReport* report)
      : opt_(options),
        fs_(options.fs ? *options.fs : FileSystem::real()),
        registered_(options.tiers.begin(), options.tiers.end()),
        pipe_(cv_,
              wal::PipelineOptions{options.sync, std::max<uint32_t>(1, options.syncs_in_flight),
                                   kBufferedWriteBytes, fmt::format("WAL {}", options.dir)}),
        guard_(
            wal::SpaceLimits{options.warn_bytes, options.max_bytes, options.stop_free_bytes,
                             options.resume_free_bytes},
            [this] { return fs_.disk_space(opt_.dir).free_bytes; }, options.dir) {
    for (const auto& t : registered_) wal::validate_tier_name(t);
    open_dir(report);
    background_ = std::thread([this] { background_loop(); });
    compactor_ = std::thread([this] { compaction_loop(); });
  }

  ~WalImpl() override {
    try {
      close();
    } catch (const std::exception& e) {
      spdlog::error("closing WAL {}: {}", opt_.dir, e.what());
    }
  }

  uint64_t append(const Entry& entry) override { return append_entries(&entry, 1); }

  uint64_t append_batch(const std::vector<Entry>& entries) override {
    if (entries.empty())
      throw Error(ErrorCode::kInvalidArgument, "append_batch: the batch is empty");
    return append_entries(entries.data(), entries.size());
  }

  void truncate_after(uint64_t seq) override;
  std::optional<Entry> read_entry(uint64_t seq) override;
  uint64_t replay(uint64_t since_seq, uint64_t limit,
                  const std::function<bool(const Entry&)>& fn) override {
    return replay_view(since_seq, limit, [&](const EntryView& v) { return fn(v.to_entry()); });
  }
  uint64_t replay_view(uint64_t since_seq, uint64_t limit,
                       const std::function<bool(const EntryView&)>& fn) override;
  WalSnapshot snapshot() override;
  WalStatus status() override;
  WalStatus status_without_free_space();
  WalMetrics metrics() override {
    std::lock_guard lk(mu_);
    WalMetrics m = metrics_;
    m.fsyncs += pipe_.counters().syncs;
    m.group_commits = pipe_.counters().group_commits;
    m.max_group_size = pipe_.counters().max_group_size;
    return m;
  }
  void flush() override;
  void confirm(std::string_view tier, uint64_t seq) override;
  uint64_t confirmed(std::string_view tier) override {
    std::lock_guard lk(mu_);
    auto it = marks_.find(tier);
    return it == marks_.end() ? 0 : it->second;
  }
  uint64_t retention_floor() override {
    std::lock_guard lk(mu_);
    return retention_floor_locked();
  }
  FramedRecords read_framed(uint64_t after_seq, uint64_t max_bytes) override;
  SegmentPin pin_sealed_since(uint64_t since_seq) override;
  std::vector<SegmentInfo> delete_sealed_through(uint64_t seq) override;
  ImportResult import_framed(std::string_view framed) override;
  void start_after(uint64_t seq) override;
  // Replaces the empty active segment of a log without entries by one whose
  // base seq is `base` (mu_ held, nothing in flight).
  void restart_empty_locked(uint64_t base);
  CompactResult compact(bool force) override;
  void rotate() override {
    std::unique_lock lk(mu_);
    check_open_locked();
    if (active_->entries > 0) rotate_locked(lk);
  }
  void close() override;

 private:
  // ---- opening ----
  void open_dir(OpenReport* report);
  void create_active_segment(uint64_t base);
  // Makes the unsealed segment described by scan the active one.
  void adopt_active(const std::string& name, uint64_t base, std::shared_ptr<File> file,
                    wal::TailScan& scan, bool sha_valid);
  void open_sync_files(Segment& s);
  void load_marks(uint64_t head, OpenReport& rep);

  // ---- writing (all *_locked run with mu_ held) ----
  uint64_t append_entries(const Entry* entries, size_t n);
  void validate(EntryType type, EntryOp op, std::string_view path, size_t data_size) const;
  void check_open_locked() const;
  void check_writable_locked(uint64_t bytes);
  // Waits out an import, then checks, rotates and allocates until `bytes` of
  // records fit into the active segment at active_end().
  void reserve_locked(std::unique_lock<std::mutex>& lk, uint64_t bytes, bool importer = false);
  uint64_t retention_floor_locked() const;
  std::string pressure_advice() const;
  // Asks the background thread for a compaction, unless one already ran
  // with the same floor and sealed segments (it would drop nothing new).
  void request_compaction_locked();
  // Makes sure the file is zero-filled up to end (always mode). False when it
  // had to wait without the mutex, so the caller must look again.
  bool ensure_allocated_locked(std::unique_lock<std::mutex>& lk, uint64_t end);
  // A leader, the interval sync or the preallocation is doing I/O without mu_.
  bool io_in_flight_locked() const { return pipe_.io_running() || prealloc_running_; }
  void preallocate_in_background(std::unique_lock<std::mutex>& lk);
  // Writes and syncs everything appended so far; waits out the pipeline's
  // I/O and the preallocation in flight.
  void drain_locked(std::unique_lock<std::mutex>& lk) {
    pipe_.drain(lk, [&] { return prealloc_running_; });
  }
  void rotate_locked(std::unique_lock<std::mutex>& lk);
  void seal_active_locked();
  [[noreturn]] void stop_locked(const std::string& reason, const Error& cause) {
    pipe_.stop(reason, cause);
  }
  Error stopped_error() const { return pipe_.stopped_error(); }
  uint64_t active_end() const { return pipe_.end(); }
  uint64_t total_bytes_locked() const { return sealed_bytes_ + active_end(); }

  // ---- reading ----
  void make_readable_locked();
  std::shared_ptr<File> file_for_locked(Segment& s);
  // Segments holding seqs >= from_seq, oldest first, at most max_plans.
  std::vector<ReadPlan> plan_reads_locked(uint64_t from_seq, size_t max_plans = SIZE_MAX);

  void background_loop();  // interval syncs, preallocation
  void compaction_loop();  // compactions requested by pressure

  std::string seg_path(const std::string& name) const { return opt_.dir + "/" + name; }

  const WalOptions opt_;
  FileSystem& fs_;
  std::unique_ptr<FileLock> lock_;

  std::shared_mutex history_mu_;  // readers share it; truncate_after takes it alone
  std::mutex admin_mu_;           // serializes compact, truncate_after, delete and import
  std::mutex marks_mu_;           // serializes writers of MARKS (confirm, truncate_after)
  // Held while pins are taken and while compaction or deletion checks pins
  // and removes segments, so no pin is taken on a segment being retired.
  std::mutex pin_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;          // durable progress, leader hand-off
  std::condition_variable bg_cv_;       // wakes the background thread
  std::condition_variable compact_cv_;  // wakes the compaction thread

  std::vector<std::shared_ptr<Segment>> sealed_;
  std::shared_ptr<Segment> active_;
  std::shared_ptr<wal::SegmentSink> sink_;  // the active segment's
  uint64_t sealed_bytes_ = 0;
  size_t cached_handles_ = 0;

  uint64_t alloc_end_ = kHeaderSize;  // the file is zero-filled up to here
  bool prealloc_wanted_ = false;      // the background thread should grow the file
  bool prealloc_running_ = false;
  bool closed_ = false;
  std::string history_id_;  // changes whenever truncate_after rewrites history
  const std::set<std::string, std::less<>> registered_;  // WalOptions::tiers
  wal::MarkMap marks_;                                   // tier -> confirmed seq
  bool importing_ = false;  // import_framed owns seq assignment; appends wait
  // Pending records, groups, syncs in flight, waiters (under mu_, on cv_).
  wal::CommitPipeline pipe_;

  wal::SpaceGuard guard_;  // size pressure and free space
  bool compaction_requested_ = false;
  // (floor, last sealed seq) when the background last compacted.
  std::pair<uint64_t, uint64_t> auto_compacted_at_{UINT64_MAX, UINT64_MAX};

  WalMetrics metrics_;
  std::thread background_;
  std::thread compactor_;
  bool background_stop_ = false;
};

// ------------------------------------------------------------------ open

void WalImpl::open_dir(OpenReport* report) {
  OpenReport rep;
  // A directory created here is made durable in its parent before anything
  // goes into it, or a power loss could take the whole WAL away.
  create_directories(fs_, opt_.dir);
  pid_t holder = 0;
  lock_ = fs_.try_lock(opt_.dir + "/LOCK", &holder);
  if (!lock_) {
    throw Error(ErrorCode::kWalLockFailed,
                holder > 0
                    ? fmt::format("WAL {} is locked by another process (pid {})", opt_.dir, holder)
                    : fmt::format("WAL {} is locked by another process", opt_.dir));
  }
  const wal::DirListing listing = wal::list_segments(fs_, opt_.dir);
  wal::LogPlan plan = wal::plan_log(listing, opt_.dir);
  if (plan.problem) throw wal::log_problem_error(*plan.problem);
  wal::remove_redundant(fs_, opt_.dir, listing, plan, rep);

  history_id_ = wal::read_history_id(fs_, opt_.dir);
  if (history_id_.empty()) {
    history_id_ = wal::new_history_id();
    wal::write_history_id(fs_, opt_.dir, history_id_);
  }
  sealed_ = std::move(plan.sealed);
  for (const auto& s : sealed_) sealed_bytes_ += s->size;
  if (plan.tail) {
    const auto& t = *plan.tail;
    wal::RepairedTail r = wal::repair_tail(fs_, opt_.dir, t.name, t.base, plan.tail_prev_last,
                                           opt_.skip_corrupt, rep);
    if (r.sealed) {
      sealed_bytes_ += r.sealed->size;
      sealed_.push_back(std::move(r.sealed));
    } else if (r.file) {
      adopt_active(t.name, t.base, r.file, r.scan, /*sha_valid=*/false);
    }
  }
  if (!active_) create_active_segment(sealed_.empty() ? 1 : sealed_.back()->last_seq + 1);

  load_marks(pipe_.ack_seq(), rep);
  rep.segments = sealed_.size() + 1;
  metrics_.torn_bytes_dropped = rep.torn_bytes_dropped;
  metrics_.corrupt_records_skipped = rep.corrupt_records_skipped;
  for (const auto& n : rep.notes) spdlog::warn("WAL {}: {}", opt_.dir, n);
  if (report) *report = std::move(rep);
}

void WalImpl::load_marks(uint64_t head, OpenReport& rep) {
  std::string problem;
  auto m = wal::read_marks(fs_, opt_.dir, &problem);
  if (!m) {
    if (!problem.empty()) {
      rep.notes.push_back(fmt::format(
          "{}/MARKS is damaged ({}): every tier counts as having confirmed nothing until it "
          "confirms again",
          opt_.dir, problem));
    }
    return;
  }
  if (m->history_id != history_id_) {
    // truncate_after writes HISTORY, then MARKS: it stopped in between, and
    // these marks may count entries the truncation removed.
    rep.notes.push_back(
        fmt::format("{}/MARKS belongs to history {}, the log's is {}: its marks are dropped",
                    opt_.dir, m->history_id, history_id_));
    return;
  }
  for (auto& [tier, seq] : m->seqs) {
    if (seq > head) {
      rep.notes.push_back(fmt::format(
          "tier {} confirmed seq {}, above the head {}: lowered to the head", tier, seq, head));
      seq = head;
    }
  }
  marks_ = std::move(m->seqs);
}

void WalImpl::adopt_active(const std::string& name, uint64_t base, std::shared_ptr<File> file,
                           wal::TailScan& scan, bool sha_valid) {
  auto s = std::make_shared<Segment>();
  s->name = name;
  s->base_seq = base;
  s->first_seq = scan.first_seq;
  s->last_seq = scan.entries ? scan.last_seq : base - 1;
  s->entries = scan.entries;
  s->data_end = scan.end;
  s->index = std::move(scan.index);
  s->file = file;
  open_sync_files(*s);
  active_ = std::move(s);
  sink_ = std::make_shared<wal::SegmentSink>(active_, scan.sha, sha_valid);
  pipe_.reset(sink_, scan.end, active_->last_seq);
  alloc_end_ = opt_.sync == SyncMode::kAlways ? std::max(file->size(), scan.end) : scan.end;
}

void WalImpl::open_sync_files(Segment& s) {
  // Opened before anything is written through s.file, so each one has seen
  // no writeback error yet and will report any later one.
  s.sync_files.clear();
  const size_t n =
      opt_.sync == SyncMode::kAlways ? std::max<uint32_t>(1, opt_.syncs_in_flight) + 1 : 0;
  for (size_t i = 0; i < n; ++i) {
    s.sync_files.push_back(std::shared_ptr<File>(fs_.open(seg_path(s.name), OpenMode::kReadWrite)));
  }
}

void WalImpl::create_active_segment(uint64_t base) {
  Sha256 sha;
  active_ = wal::create_segment(fs_, opt_.dir, base, &sha);
  open_sync_files(*active_);
  sink_ = std::make_shared<wal::SegmentSink>(active_, sha, true);
  pipe_.reset(sink_, kHeaderSize, base - 1);
  alloc_end_ = kHeaderSize;
}

// ------------------------------------------------------------------ write

void WalImpl::validate(EntryType type, EntryOp op, std::string_view path, size_t data_size) const {
  validate_entry_path(path);
  auto t = static_cast<uint8_t>(type);
  auto o = static_cast<uint8_t>(op);
  if (t < 1 || t > 4)
    throw Error(ErrorCode::kInvalidArgument, fmt::format("invalid entry type {}", t));
  if (o < 1 || o > 3)
    throw Error(ErrorCode::kInvalidArgument, fmt::format("invalid entry op {}", o));
  if (op == EntryOp::kDelete && data_size != 0) {
    throw Error(
        ErrorCode::kInvalidArgument,
        fmt::format("delete of '{}' carries {} bytes of data; a delete has none", path, data_size));
  }
  if (path.size() + data_size > opt_.max_entry_bytes) {
    throw Error(ErrorCode::kEntryTooLarge,
                fmt::format("entry for '{}' is {} bytes, above WAL_MAX_ENTRY_BYTES ({})", path,
                            path.size() + data_size, opt_.max_entry_bytes));
  }
}

void WalImpl::check_open_locked() const {
  if (closed_) throw Error(ErrorCode::kWalClosed, fmt::format("WAL {} is closed", opt_.dir));
  if (pipe_.stopped()) throw stopped_error();
}

void WalImpl::check_writable_locked(uint64_t bytes) {
  if (closed_ || pipe_.stopped()) metrics_.rejected_writes++;
  check_open_locked();
  const uint64_t total = total_bytes_locked();
  const wal::SpaceVerdict v = guard_.check(total, bytes);
  if (v.too_big || v.warn_crossed) request_compaction_locked();
  if (v.warn_crossed) metrics_.pressure_warnings++;
  if (v.too_big) {
    metrics_.rejected_writes++;
    throw Error(ErrorCode::kDiskPressureCritical,
                fmt::format("WAL {} holds {} bytes; this write would pass WAL_MAX_BYTES ({}). {}",
                            opt_.dir, total, opt_.max_bytes, pressure_advice()));
  }
  if (v.low_free) {
    metrics_.rejected_writes++;
    throw guard_.low_free_error();
  }
}

std::string WalImpl::pressure_advice() const {
  // The WAL directory is DATA_DIR/wal for the command line.
  std::string cmd = "strata compact --force";
  if (opt_.dir.ends_with("/wal") && opt_.dir.size() > 4) {
    cmd = fmt::format("strata --data-dir '{}' compact --force",
                      opt_.dir.substr(0, opt_.dir.size() - 4));
  }
  return fmt::format(
      "Entries are dropped only once every registered remote tier has confirmed them (retention "
      "floor {}); `{}` drops superseded entries of sealed segments even if no remote holds "
      "them; or raise WAL_MAX_BYTES",
      retention_floor_locked(), cmd);
}

uint64_t WalImpl::retention_floor_locked() const {
  if (registered_.empty()) return 0;
  uint64_t floor = UINT64_MAX;
  for (const auto& t : registered_) {
    auto it = marks_.find(t);
    floor = std::min(floor, it == marks_.end() ? 0 : it->second);
  }
  return floor;
}

void WalImpl::request_compaction_locked() {
  const std::pair<uint64_t, uint64_t> at{retention_floor_locked(),
                                         sealed_.empty() ? 0 : sealed_.back()->last_seq};
  if (at == auto_compacted_at_ || compaction_requested_) return;
  compaction_requested_ = true;
  compact_cv_.notify_all();
}

bool WalImpl::ensure_allocated_locked(std::unique_lock<std::mutex>& lk, uint64_t end) {
  if (opt_.sync != SyncMode::kAlways) return true;  // the file grows with its writes
  if (end > alloc_end_ && prealloc_running_) {
    // The background thread is behind: let it finish, then look again
    // (the segment may have rotated meanwhile).
    cv_.wait(lk, [&] { return !prealloc_running_ || pipe_.stopped(); });
    if (pipe_.stopped()) throw stopped_error();
    return false;
  }
  const uint64_t chunk = std::min(kPreallocChunk, opt_.segment_bytes);
  if (end > alloc_end_) {
    const uint64_t target = std::max(end, std::min(alloc_end_ + chunk, opt_.segment_bytes));
    try {
      write_zeros(*active_->file, alloc_end_, target);
    } catch (const Error& e) {
      // e.g. ENOSPC: nothing was acknowledged and the zeros are not records,
      // so refusing this write leaves the log as it was.
      try {
        active_->file->truncate(alloc_end_);
      } catch (const Error&) {
      }
      metrics_.rejected_writes++;
      throw Error(ErrorCode::kIoError, fmt::format("cannot grow WAL segment: {}", e.what()));
    }
    alloc_end_ = target;
  }
  if (alloc_end_ - end < chunk / 2 && alloc_end_ < opt_.segment_bytes && !prealloc_running_) {
    prealloc_wanted_ = true;
    bg_cv_.notify_all();
  }
  return true;
}

void WalImpl::preallocate_in_background(std::unique_lock<std::mutex>& lk) {
  prealloc_wanted_ = false;
  if (prealloc_running_ || !active_ || active_->sync_files.empty()) return;
  const uint64_t from = alloc_end_;
  const uint64_t to =
      std::min(from + std::min(kPreallocChunk, opt_.segment_bytes), opt_.segment_bytes);
  if (to <= from) return;
  prealloc_running_ = true;
  auto seg = active_;
  lk.unlock();
  std::optional<Error> failure;
  bool sync_failed = false;
  try {
    write_zeros(*seg->file, from, to);
    sync_failed = true;
    // Synced here so the writers' fdatasyncs find the blocks allocated and
    // have no metadata to journal.
    seg->sync_files.back()->sync_data();
    sync_failed = false;
  } catch (const Error& e) {
    failure = e;
  }
  lk.lock();
  prealloc_running_ = false;
  cv_.notify_all();
  if (!failure) {
    metrics_.fsyncs++;
    if (active_ == seg) alloc_end_ = std::max(alloc_end_, to);
    return;
  }
  // Any failed fdatasync of a segment may have consumed a writeback error
  // that belonged to records, so it stops the WAL like a leader's would.
  if (sync_failed) stop_locked(fmt::format("fdatasync of segment {} failed", seg->name), *failure);
  // A failed write (ENOSPC, say) only means the writers grow the file
  // themselves and meet the error there, where it can be refused cleanly.
  try {
    seg->file->truncate(from);
  } catch (const Error&) {
  }
  spdlog::warn("WAL {}: preallocating {}: {}", opt_.dir, seg->name, failure->what());
}

uint64_t WalImpl::append_entries(const Entry* entries, size_t n) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    validate(entries[i].type, entries[i].op, entries[i].path, entries[i].data.size());
    bytes += wal::record_size(entries[i].path.size(), entries[i].data.size());
  }
  const uint64_t ts = now_ms();
  std::unique_lock lk(mu_);
  reserve_locked(lk, bytes);

  uint64_t off = active_end();
  const uint64_t first = pipe_.next_seq();
  char* out = pipe_.add(bytes);
  for (size_t i = 0; i < n; ++i) {
    const Entry& e = entries[i];
    const uint64_t seq = first + i;
    wal::encode_record(seq, e.timestamp_ms ? e.timestamp_ms : ts, e, out);
    wal::maybe_index(active_->index, seq, off);
    const size_t sz = wal::record_size(e.path.size(), e.data.size());
    out += sz;
    off += sz;
    if (active_->entries++ == 0) active_->first_seq = seq;
    active_->last_seq = seq;
  }
  const uint64_t last = first + n - 1;
  pipe_.add_done(n, last);
  active_->data_end = active_end();
  metrics_.appends += n;
  metrics_.append_batches++;
  metrics_.bytes_written += bytes;
  pipe_.commit(lk, last);
  return last;
}

void WalImpl::reserve_locked(std::unique_lock<std::mutex>& lk, uint64_t bytes, bool importer) {
  // Rotation and growing the file may wait without the mutex, so the checks
  // are repeated until one pass needs neither.
  while (true) {
    if (importing_ && !importer) {
      cv_.wait(lk, [&] { return !importing_; });
      continue;
    }
    check_writable_locked(bytes);
    const uint64_t reserve = bytes + kTrailerSize + (active_->index.size() + 2) * kIndexEntrySize;
    if (active_->entries > 0 && active_end() + reserve > opt_.segment_bytes) {
      rotate_locked(lk);
      continue;
    }
    if (ensure_allocated_locked(lk, active_end() + bytes)) break;
  }
}

void WalImpl::seal_active_locked() {
  Segment& s = *active_;
  try {
    const uint64_t end = pipe_.written_end();
    wal::seal_segment(s, end, sink_->digest(end));
  } catch (const Error& e) {
    stop_locked(fmt::format("sealing segment {} failed", s.name), e);
  }
  metrics_.fsyncs += 2;
  pipe_.mark_durable();
}

void WalImpl::rotate_locked(std::unique_lock<std::mutex>& lk) {
  auto seg = active_;
  drain_locked(lk);
  if (active_ != seg) return;  // another writer rotated while this one waited
  seal_active_locked();
  sealed_bytes_ += active_->size;
  sealed_.push_back(active_);
  cached_handles_++;
  const uint64_t base = active_->last_seq + 1;
  try {
    create_active_segment(base);
  } catch (const Error& e) {
    stop_locked(fmt::format("creating the segment for seq {} failed", base), e);
  }
  metrics_.rotations++;
}

void WalImpl::flush() {
  std::unique_lock lk(mu_);
  check_open_locked();
  drain_locked(lk);
}

void WalImpl::close() {
  {
    std::unique_lock lk(mu_);
    if (closed_) return;
    background_stop_ = true;
    bg_cv_.notify_all();
    compact_cv_.notify_all();
  }
  if (background_.joinable()) background_.join();
  if (compactor_.joinable()) compactor_.join();
  std::unique_lock lk(mu_);
  std::optional<Error> failure;
  if (!pipe_.stopped()) {
    try {
      drain_locked(lk);
    } catch (const Error& e) {
      failure = e;
    }
  }
  // Even a stopped WAL may have a leader inside pwrite: the lock must not be
  // released (and the log reopened) until no write of ours can still land.
  cv_.wait(lk, [&] { return !io_in_flight_locked(); });
  closed_ = true;
  sealed_.clear();
  active_.reset();
  lock_.reset();
  if (failure) throw *failure;
}

void WalImpl::background_loop() {
  std::unique_lock lk(mu_);
  while (!background_stop_) {
    if (!prealloc_wanted_) bg_cv_.wait_for(lk, std::chrono::milliseconds(opt_.sync_interval_ms));
    if (background_stop_ || closed_ || pipe_.stopped()) break;
    try {
      if (prealloc_wanted_) preallocate_in_background(lk);
      if (opt_.sync != SyncMode::kAlways) pipe_.write_pending();
      if (opt_.sync == SyncMode::kInterval) pipe_.sync_written(lk);
    } catch (const Error& e) {
      spdlog::error("WAL {}: background flush: {}", opt_.dir, e.what());
    }
  }
}

void WalImpl::compaction_loop() {
  // Apart from the background loop, so a long compaction never holds up
  // the interval syncs or the preallocation.
  std::unique_lock lk(mu_);
  while (true) {
    compact_cv_.wait(lk, [&] { return background_stop_ || compaction_requested_; });
    if (background_stop_ || closed_ || pipe_.stopped()) break;
    compaction_requested_ = false;
    auto_compacted_at_ = {retention_floor_locked(), sealed_.empty() ? 0 : sealed_.back()->last_seq};
    lk.unlock();
    try {
      auto r = compact(false);
      spdlog::info("WAL {}: compaction dropped {} entries", opt_.dir, r.entries_dropped);
    } catch (const Error& e) {
      spdlog::error("WAL {}: compaction: {}", opt_.dir, e.what());
    }
    lk.lock();
  }
}

// ------------------------------------------------------------------ read

void WalImpl::make_readable_locked() {
  check_open_locked();
  if (opt_.sync != SyncMode::kAlways) pipe_.write_pending();
}

std::shared_ptr<File> WalImpl::file_for_locked(Segment& s) {
  if (!s.file) {
    if (cached_handles_ >= kMaxCachedHandles) {
      for (auto& seg : sealed_) seg->file.reset();
      cached_handles_ = 0;
    }
    s.file = fs_.open(seg_path(s.name), OpenMode::kRead);
    cached_handles_++;
  }
  return s.file;
}

std::vector<ReadPlan> WalImpl::plan_reads_locked(uint64_t from_seq, size_t max_plans) {
  std::vector<ReadPlan> plans;
  auto it = std::upper_bound(sealed_.begin(), sealed_.end(), from_seq,
                             [](uint64_t v, const auto& s) { return v < s->base_seq; });
  if (it != sealed_.begin()) --it;
  for (; it != sealed_.end() && plans.size() < max_plans; ++it) {
    Segment& s = **it;
    if (s.last_seq < from_seq || s.entries == 0) continue;
    plans.push_back({file_for_locked(s), index_start(s, from_seq), s.data_end});
  }
  if (plans.size() < max_plans && active_->entries > 0 && active_->first_seq <= pipe_.ack_seq() &&
      from_seq <= pipe_.ack_seq() && pipe_.ack_end() > kHeaderSize) {
    plans.push_back({active_->file, index_start(*active_, from_seq), pipe_.ack_end()});
  }
  return plans;
}

std::optional<Entry> WalImpl::read_entry(uint64_t seq) {
  std::shared_lock history(history_mu_);
  std::vector<ReadPlan> plans;
  {
    std::unique_lock lk(mu_);
    make_readable_locked();
    if (seq == 0 || seq > pipe_.ack_seq()) return std::nullopt;
    // Ranges are contiguous, so the first segment holding seqs >= seq either
    // has it or nobody does (compaction dropped it).
    plans = plan_reads_locked(seq, 1);
  }
  for (const auto& p : plans) {
    RecordReader reader(*p.file, p.start, p.end, kMaxBody, kPointReadBytes);
    RecordView v;
    uint64_t off;
    RecordReader::Result r;
    while ((r = reader.next(&v, &off)) == RecordReader::Result::kRecord) {
      if (v.seq == seq) return v.to_entry();
      if (v.seq > seq) return std::nullopt;
    }
    if (r != RecordReader::Result::kEnd) {
      throw unreadable_record(*p.file, off);
    }
  }
  return std::nullopt;
}

uint64_t WalImpl::replay_view(uint64_t since_seq, uint64_t limit,
                              const std::function<bool(const EntryView&)>& fn) {
  std::shared_lock history(history_mu_);
  std::vector<ReadPlan> plans;
  uint64_t upto;
  {
    std::unique_lock lk(mu_);
    make_readable_locked();
    upto = pipe_.ack_seq();
    if (since_seq >= upto) return 0;
    plans = plan_reads_locked(since_seq + 1);
  }
  uint64_t visited = 0;
  for (const auto& p : plans) {
    RecordReader reader(*p.file, p.start, p.end, kMaxBody);
    RecordView v;
    uint64_t off;
    RecordReader::Result r;
    while ((r = reader.next(&v, &off)) == RecordReader::Result::kRecord) {
      if (v.seq <= since_seq) continue;
      if (v.seq > upto) return visited;
      visited++;
      if (!fn(v) || (limit != 0 && visited >= limit)) goto done;
    }
    if (r != RecordReader::Result::kEnd) {
      throw unreadable_record(*p.file, off);
    }
  }
done:
  std::lock_guard lk(mu_);
  metrics_.replayed_entries += visited;
  return visited;
}

WalSnapshot WalImpl::snapshot() {
  std::unique_lock lk(mu_);
  check_open_locked();
  drain_locked(lk);  // so the active segment's figures describe durable bytes only
  WalSnapshot snap;
  snap.head_seq = pipe_.ack_seq();
  for (const auto& s : sealed_) snap.sealed.push_back(info_of(*s));
  const Segment& a = *active_;
  snap.active = SegmentInfo{a.name,
                            a.base_seq,
                            a.entries ? a.first_seq : 0,
                            a.entries ? std::min(a.last_seq, pipe_.ack_seq()) : 0,
                            a.entries,
                            pipe_.ack_end(),
                            "",
                            false};
  return snap;
}

WalStatus WalImpl::status() {
  WalStatus st = status_without_free_space();
  // statvfs can be slow on a busy or remote file system: not under mu_.
  if (st.open) {
    st.free_bytes = fs_.disk_space(opt_.dir).free_bytes;
    // Judged from this reading with the writes' hysteresis, not left at
    // what the last write saw: status must say writes are refused even when
    // none was tried since the disk filled up.
    if (st.free_bytes < opt_.stop_free_bytes) {
      st.low_free_space = true;
    } else if (st.free_bytes >= opt_.resume_free_bytes) {
      st.low_free_space = false;
    }
    if (st.low_free_space) st.pressure = DiskPressure::kCritical;
  }
  return st;
}

WalStatus WalImpl::status_without_free_space() {
  std::lock_guard lk(mu_);
  WalStatus st;
  st.dir = opt_.dir;
  st.open = !closed_;
  st.stopped = pipe_.stopped();
  st.stop_reason = pipe_.stop_reason();
  st.sync = opt_.sync;
  if (closed_) return st;
  st.head_seq = pipe_.ack_seq();
  st.durable_seq = pipe_.durable_seq();
  for (const auto& s : sealed_) {
    if (s->entries > 0) {
      st.first_seq = s->first_seq;
      break;
    }
  }
  if (st.first_seq == 0 && active_->entries > 0 && active_->first_seq <= pipe_.ack_seq()) {
    st.first_seq = active_->first_seq;
  }
  st.segments = sealed_.size() + 1;
  st.total_bytes = total_bytes_locked();
  st.pressure = st.total_bytes >= opt_.max_bytes    ? DiskPressure::kCritical
                : st.total_bytes >= opt_.warn_bytes ? DiskPressure::kWarning
                                                    : DiskPressure::kNormal;
  st.low_free_space = guard_.low_free();
  st.history_id = history_id_;
  for (const auto& t : registered_) st.tiers.push_back(TierMark{t, 0, true});
  for (const auto& [t, seq] : marks_) {
    if (!registered_.count(t)) st.tiers.push_back(TierMark{t, seq, false});
  }
  for (auto& m : st.tiers) {
    if (auto it = marks_.find(m.tier); it != marks_.end()) m.seq = it->second;
  }
  st.retention_floor = retention_floor_locked();
  return st;
}

// ------------------------------------------------------------------ truncate

void WalImpl::truncate_after(uint64_t seq) {
  // Readers work on the files without mu_; cutting a file under one of them
  // would show it a torn record or entries of the new history.
  std::unique_lock readers(history_mu_);
  std::lock_guard admin(admin_mu_);
  std::lock_guard marks_lock(marks_mu_);
  std::unique_lock lk(mu_);
  check_open_locked();
  drain_locked(lk);
  if (seq >= pipe_.next_seq() - 1) return;
  // First tell readers of the old history (the materializer) that it is
  // gone, then lower the marks under the new history; a crash after this
  // only costs readers a rebuild. Nothing is cut yet if this fails.
  history_id_ = wal::new_history_id();
  wal::write_history_id(fs_, opt_.dir, history_id_);
  for (auto& [tier, mark] : marks_) mark = std::min(mark, seq);
  wal::write_marks(fs_, opt_.dir, wal::Marks{history_id_, marks_});
  try {
    // Newest first, so a crash part-way leaves a shorter but consistent log.
    std::vector<std::shared_ptr<Segment>> all = sealed_;
    all.push_back(active_);
    while (!all.empty() && all.back()->base_seq > seq) {
      auto s = all.back();
      all.pop_back();
      s->file.reset();
      fs_.remove(seg_path(s->name));
      fs_.sync_dir(opt_.dir);
    }
    if (all.empty()) {
      sealed_.clear();
      sealed_bytes_ = 0;
      create_active_segment(seq + 1);
    } else {
      auto keep = all.back();
      all.pop_back();
      sealed_.assign(all.begin(), all.end());
      sealed_bytes_ = 0;
      for (const auto& s : sealed_) sealed_bytes_ += s->size;
      // Find where the records after seq start.
      std::string name = keep->name;
      auto file = std::shared_ptr<File>(
          fs_.open(seg_path(name), keep->sealed ? OpenMode::kRead : OpenMode::kReadWrite));
      const uint64_t end = keep->sealed ? keep->data_end : pipe_.written_end();
      RecordReader reader(*file, index_start(*keep, seq), end, kMaxBody);
      RecordView v;
      uint64_t off;
      uint64_t cut = index_start(*keep, seq);
      while (reader.next(&v, &off) == RecordReader::Result::kRecord && v.seq <= seq) {
        cut = reader.position();
      }
      if (keep->sealed) {
        // A sealed segment's bytes never change (a remote may hold a copy
        // under its name): what stays goes to a new file with a new name,
        // which replaces it (see the open-time repair).
        name = wal::new_segment_name(fs_, opt_.dir, keep->base_seq);
        const std::string tmp = seg_path(name) + ".trunc";
        wal::copy_file_bytes(fs_, *file, tmp, cut);
        fs_.rename(tmp, seg_path(name));
        fs_.sync_dir(opt_.dir);
        keep->file.reset();
        file.reset();
        fs_.remove(seg_path(keep->name));
        fs_.sync_dir(opt_.dir);
        file = std::shared_ptr<File>(fs_.open(seg_path(name), OpenMode::kReadWrite));
      } else {
        file->truncate(cut);
        file->sync();
      }
      uint64_t prev_last = sealed_.empty() ? 0 : sealed_.back()->last_seq;
      wal::TailScan scan =
          wal::scan_segment(*file, keep->base_seq, prev_last, kMaxBody, false, /*hash=*/true);
      adopt_active(name, keep->base_seq, file, scan, /*sha_valid=*/true);
    }
    // Compaction may have dropped seq itself: the head is seq all the same.
    pipe_.reset(sink_, pipe_.written_end(), seq);
  } catch (const Error& e) {
    // Files may already be gone: nothing in memory describes the log now.
    stop_locked(fmt::format("truncate_after({}) failed part-way", seq), e);
  }
  spdlog::info("WAL {}: truncated after seq {}", opt_.dir, seq);
}

// ------------------------------------------------------------------ compact

CompactResult WalImpl::compact(bool force) {
  // admin_mu_ keeps delete_sealed_through and truncate_after away from the
  // inputs while they are read.
  std::lock_guard admin(admin_mu_);
  std::vector<wal::CompactionInput> inputs;
  uint64_t floor;
  {
    std::lock_guard lk(mu_);
    check_open_locked();
    floor = force ? UINT64_MAX : retention_floor_locked();
    for (auto& s : sealed_) inputs.push_back({s, file_for_locked(*s)});
  }
  auto pinned = [&](size_t k) { return inputs[k].segment->pins.load() > 0; };
  auto install = [&](const wal::CompactionOutput& out) {
    {
      // No pin may be taken on the inputs from here until they are replaced.
      std::lock_guard pins(pin_mu_);
      for (size_t k = out.first; k <= out.last; ++k) {
        if (pinned(k)) return false;
      }
      // The rename is the commit point (the open-time repair prefers the
      // output); the inputs are removed after readers stop using them.
      fs_.rename(out.temp_path, seg_path(out.segment->name));
      fs_.sync_dir(opt_.dir);
      std::lock_guard lk(mu_);
      auto first = std::find(sealed_.begin(), sealed_.end(), inputs[out.first].segment);
      auto last = std::find(sealed_.begin(), sealed_.end(), inputs[out.last].segment);
      if (first != sealed_.end() && last != sealed_.end()) {
        for (auto it = first; it <= last; ++it) sealed_bytes_ -= (*it)->size;
        *first = out.segment;
        sealed_.erase(first + 1, last + 1);
        sealed_bytes_ += out.segment->size;
      }
      metrics_.compaction_entries_dropped += out.entries_dropped;
    }
    for (size_t k = out.first; k <= out.last; ++k) {
      fs_.remove(seg_path(inputs[k].segment->name));
    }
    fs_.sync_dir(opt_.dir);
    return true;
  };
  CompactResult result =
      wal::compact_segments(fs_, opt_.dir, inputs, floor, opt_.segment_bytes, pinned, install);
  std::lock_guard lk(mu_);
  metrics_.compactions++;
  if (!inputs.empty()) {
    result.bytes_after = 0;
    for (const auto& s : sealed_) {
      if (s->base_seq <= inputs.back().segment->base_seq) result.bytes_after += s->size;
    }
  }
  return result;
}

// ------------------------------------------------------------------ tiers

void WalImpl::confirm(std::string_view tier, uint64_t seq) {
  wal::validate_tier_name(tier);
  std::lock_guard marks_lock(marks_mu_);
  wal::Marks next;
  {
    std::unique_lock lk(mu_);
    check_open_locked();
    if (seq > pipe_.ack_seq()) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("tier {} cannot confirm seq {}: the log's head is {}", tier, seq,
                              pipe_.ack_seq()));
    }
    auto it = marks_.find(tier);
    if (it != marks_.end() && it->second >= seq) return;
    // A mark must never be above what a power loss leaves of the log.
    if (pipe_.durable_seq() < seq) drain_locked(lk);
    next = wal::Marks{history_id_, marks_};
    next.seqs[std::string(tier)] = seq;
  }
  // Written without mu_ (appends go on); marks_mu_ keeps writers in order.
  wal::write_marks(fs_, opt_.dir, next);
  std::lock_guard lk(mu_);
  marks_ = std::move(next.seqs);
  // A higher floor may let compaction relieve the pressure now.
  if (total_bytes_locked() >= opt_.warn_bytes) request_compaction_locked();
}

// ------------------------------------------------------------------ shipping

FramedRecords WalImpl::read_framed(uint64_t after_seq, uint64_t max_bytes) {
  std::shared_lock history(history_mu_);
  std::vector<ReadPlan> plans;
  uint64_t upto;
  {
    std::unique_lock lk(mu_);
    make_readable_locked();
    // Only what a power loss cannot take back may leave the machine.
    if (pipe_.durable_seq() < pipe_.ack_seq()) drain_locked(lk);
    upto = std::min(pipe_.ack_seq(), pipe_.durable_seq());
    if (after_seq >= upto) return {};
    plans = plan_reads_locked(after_seq + 1);
  }
  FramedRecords out;
  for (const auto& p : plans) {
    RecordReader reader(*p.file, p.start, p.end, kMaxBody);
    RecordView v;
    uint64_t off;
    RecordReader::Result r;
    while ((r = reader.next(&v, &off)) == RecordReader::Result::kRecord) {
      if (v.seq <= after_seq) continue;
      if (v.seq > upto) return out;
      const std::string_view raw = reader.raw();
      if (out.count > 0 && out.bytes.size() + raw.size() > max_bytes) return out;
      out.bytes.append(raw);
      if (out.count++ == 0) out.first_seq = v.seq;
      out.last_seq = v.seq;
      out.last_timestamp_ms = v.timestamp_ms;
    }
    if (r != RecordReader::Result::kEnd) throw unreadable_record(*p.file, off);
  }
  return out;
}

SegmentPin WalImpl::pin_sealed_since(uint64_t since_seq) {
  std::lock_guard pins(pin_mu_);
  std::lock_guard lk(mu_);
  check_open_locked();
  std::vector<PinnedSegment> segments;
  std::vector<std::shared_ptr<Segment>> held;
  for (const auto& s : sealed_) {
    if (s->last_seq <= since_seq) continue;
    s->pins++;
    held.push_back(s);
    segments.push_back(PinnedSegment{info_of(*s), file_for_locked(*s)});
  }
  // The deleter only touches the segments it keeps alive, never the Wal.
  auto hold = std::shared_ptr<void>(nullptr, [held = std::move(held)](void*) {
    for (const auto& s : held) s->pins--;
  });
  return SegmentPin(std::move(segments), std::move(hold));
}

std::vector<SegmentInfo> WalImpl::delete_sealed_through(uint64_t seq) {
  std::lock_guard admin(admin_mu_);
  std::vector<std::shared_ptr<Segment>> victims;
  {
    std::lock_guard pins(pin_mu_);
    std::lock_guard lk(mu_);
    check_open_locked();
    const uint64_t bound = std::min(seq, retention_floor_locked());
    // Only a prefix: the rest of the log must stay one chain.
    size_t n = 0;
    while (n < sealed_.size() && sealed_[n]->last_seq <= bound && sealed_[n]->pins.load() == 0) {
      n++;
    }
    victims.assign(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(n));
    // Gone for readers before the files go (they hold open handles to what
    // they already planned to read).
    sealed_.erase(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(n));
    for (const auto& v : victims) sealed_bytes_ -= v->size;
    metrics_.sealed_segments_deleted += n;
  }
  std::vector<SegmentInfo> out;
  // Oldest first, so a failure part-way leaves files that still form one
  // chain with the rest (opening simply finds them again).
  for (const auto& v : victims) {
    fs_.remove(seg_path(v->name));
    out.push_back(info_of(*v));
  }
  if (!victims.empty()) fs_.sync_dir(opt_.dir);
  return out;
}

void WalImpl::start_after(uint64_t seq) {
  std::lock_guard admin(admin_mu_);
  std::unique_lock lk(mu_);
  check_open_locked();
  cv_.wait(lk, [&] { return !importing_; });
  drain_locked(lk);
  if (!sealed_.empty() || active_->entries > 0 || seq < pipe_.next_seq() - 1) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("start_after({}): {}", seq,
                            seq < pipe_.next_seq() - 1
                                ? fmt::format("the log's head is already {}", pipe_.next_seq() - 1)
                                : std::string("the log holds entries")));
  }
  if (seq + 1 != pipe_.next_seq()) restart_empty_locked(seq + 1);
}

void WalImpl::restart_empty_locked(uint64_t base) {
  // Removed before the new one is made: a crash in between leaves an empty
  // log that starts at 1, never two unsealed segments.
  try {
    fs_.remove(seg_path(active_->name));
    fs_.sync_dir(opt_.dir);
    create_active_segment(base);
  } catch (const Error& e) {
    stop_locked(fmt::format("replacing the empty segment {} failed", active_->name), e);
  }
}

ImportResult WalImpl::import_framed(std::string_view framed) {
  // Everything is checked before anything is written.
  struct Rec {
    uint64_t seq;
    size_t off;
    size_t size;
  };
  std::vector<Rec> recs;
  for (size_t off = 0; off < framed.size();) {
    RecordView v;
    size_t size = 0;
    const auto st =
        wal::decode_record(framed.data() + off, framed.size() - off, kMaxBody, &v, &size);
    if (st != wal::DecodeStatus::kOk) {
      throw Error(ErrorCode::kWalCorrupt,
                  fmt::format("import: {} at byte {} of {}{}",
                              st == wal::DecodeStatus::kTruncated ? "record cut short"
                              : st == wal::DecodeStatus::kZero    ? "zero bytes instead of a record"
                                                                  : "bad record (CRC or fields)",
                              off, framed.size(),
                              recs.empty() ? "" : fmt::format(" (after seq {})", recs.back().seq)));
    }
    if (!recs.empty() && v.seq != recs.back().seq + 1) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("import: seq {} at byte {} does not follow seq {} ({})", v.seq, off,
                              recs.back().seq, v.seq > recs.back().seq ? "a gap" : "an overlap"));
    }
    try {
      validate(v.type, v.op, v.path, v.data.size());
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("import: seq {} at byte {}: {}", v.seq, off, e.what()));
    }
    recs.push_back(Rec{v.seq, off, size});
    off += size;
  }
  if (recs.empty()) throw Error(ErrorCode::kInvalidArgument, "import: no records");

  std::lock_guard admin(admin_mu_);
  std::unique_lock lk(mu_);
  check_open_locked();
  cv_.wait(lk, [&] { return !importing_; });
  drain_locked(lk);
  const uint64_t first = recs.front().seq;
  const bool empty_log = sealed_.empty() && active_->entries == 0;
  if (first < pipe_.next_seq() || (!empty_log && first != pipe_.next_seq())) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("import: the records start at seq {} but the log's head is {}: {}",
                            first, pipe_.next_seq() - 1,
                            first < pipe_.next_seq() ? "they overlap it" : "there would be a gap"));
  }
  importing_ = true;
  struct Done {
    WalImpl& w;
    ~Done() {
      w.importing_ = false;
      w.cv_.notify_all();
    }
  } done{*this};
  // An empty log starts where the imported records start.
  if (first != pipe_.next_seq()) restart_empty_locked(first);
  // In pieces no larger than a segment allows, each written like a batch.
  const uint64_t piece_limit = std::max<uint64_t>(1, opt_.segment_bytes / 2);
  for (size_t i = 0; i < recs.size();) {
    size_t j = i;
    uint64_t bytes = recs[i].size;
    while (j + 1 < recs.size() && bytes + recs[j + 1].size <= piece_limit) bytes += recs[++j].size;
    reserve_locked(lk, bytes, /*importer=*/true);
    uint64_t off = active_end();
    char* out = pipe_.add(bytes);
    for (size_t k = i; k <= j; ++k) {
      std::memcpy(out, framed.data() + recs[k].off, recs[k].size);
      out += recs[k].size;
      wal::maybe_index(active_->index, recs[k].seq, off);
      off += recs[k].size;
      if (active_->entries++ == 0) active_->first_seq = recs[k].seq;
      active_->last_seq = recs[k].seq;
    }
    pipe_.add_done(j - i + 1, recs[j].seq);
    active_->data_end = active_end();
    metrics_.imported_entries += j - i + 1;
    metrics_.bytes_written += bytes;
    pipe_.write_pending();
    i = j + 1;
  }
  drain_locked(lk);
  return ImportResult{first, recs.back().seq, recs.size()};
}

}  // namespace

std::unique_ptr<Wal> Wal::open(const WalOptions& options, OpenReport* report) {
  if (options.dir.empty()) throw Error(ErrorCode::kInvalidArgument, "WAL directory is empty");
  // Another writer (often a one-shot command) usually holds the lock for
  // milliseconds: wait for it up to lock_timeout_ms, polling, instead of
  // failing at once. Nothing is read or written before the lock is held.
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(options.lock_timeout_ms);
  auto pause = std::chrono::milliseconds(2);
  while (true) {
    try {
      return std::make_unique<WalImpl>(options, report);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kWalLockFailed) throw;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        throw Error(ErrorCode::kWalLockFailed,
                    fmt::format("{}; gave up after waiting {} ms (the lock timeout: "
                                "--lock-timeout or WAL_LOCK_TIMEOUT_MS, default 5000 ms)",
                                e.what(), options.lock_timeout_ms));
      }
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
  }
}

}  // namespace strata

namespace strata {

std::vector<TierMark> Wal::read_tier_marks(const std::string& dir, FileSystem* fs_opt) {
  FileSystem& fs = fs_opt ? *fs_opt : FileSystem::real();
  std::vector<TierMark> out;
  if (!fs.is_directory(dir)) return out;
  std::string problem;
  auto m = wal::read_marks(fs, dir, &problem);
  if (!m || m->history_id != wal::read_history_id(fs, dir)) return out;
  for (const auto& [tier, seq] : m->seqs) out.push_back(TierMark{tier, seq, false});
  return out;
}

}  // namespace strata
