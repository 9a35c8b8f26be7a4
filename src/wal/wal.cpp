// The WAL facade (wal/wal_impl.h): opening, appends, reads, status, tier
// confirmations and the two threads, wiring the pieces of src/wal.
//
// An appender encodes its records (seq assignment, CRC, index) into the
// commit pipeline under the mutex and commits them there
// (wal/commit_pipeline.h: group commit, syncs in flight); the active
// segment is the pipeline's sink, through one descriptor per sync slot so a
// writeback error is reported to every one of them (Linux errseq_t).
#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/error.h"
#include "wal/dir_state.h"
#include "wal/log_open.h"
#include "wal/record_format.h"
#include "wal/wal_impl.h"

namespace strata::wal {
namespace {

// In `none` mode records are buffered in memory up to this size.
constexpr size_t kBufferedWriteBytes = 1 << 20;

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

WalImpl::WalImpl(const WalOptions& options, OpenReport* report)
    : opt_(options),
      fs_(options.fs ? *options.fs : FileSystem::real()),
      handles_(fs_, options.dir),
      marks_(options.tiers),
      pipe_(cv_, PipelineOptions{options.sync, std::max<uint32_t>(1, options.syncs_in_flight),
                                 kBufferedWriteBytes, fmt::format("WAL {}", options.dir)}),
      active_(fs_, opt_, pipe_, cv_, bg_cv_, metrics_),
      guard_(
          SpaceLimits{options.warn_bytes, options.max_bytes, options.stop_free_bytes,
                      options.resume_free_bytes},
          [this] { return fs_.disk_space(opt_.dir).free_bytes; }, options.dir) {
  open_dir(report);
  background_ = std::thread([this] { background_loop(); });
  compactor_ = std::thread([this] { compaction_loop(); });
}

WalImpl::~WalImpl() {
  try {
    close();
  } catch (const std::exception& e) {
    spdlog::error("closing WAL {}: {}", opt_.dir, e.what());
  }
}

void WalImpl::open_dir(OpenReport* report) {
  // No other thread exists yet; held so the analysis sees the members'
  // lock (uncontended).
  MutexLock lk(mu_);
  OpenReport rep;
  OpenedLog log = open_log(fs_, opt_.dir, opt_.skip_corrupt, rep);
  lock_ = std::move(log.lock);
  history_id_ = std::move(log.history_id);
  sealed_ = std::move(log.sealed);
  sealed_bytes_ = log.sealed_bytes;
  if (log.tail) {
    active_.adopt(log.tail->name, log.tail->base, log.tail->file, log.tail->scan,
                  /*sha_valid=*/false);
  } else {
    active_.create(sealed_.empty() ? 1 : sealed_.back()->last_seq + 1);
  }
  marks_.load(fs_, opt_.dir, history_id_, pipe_.ack_seq(), rep.notes);
  rep.segments = sealed_.size() + 1;
  metrics_.torn_bytes_dropped = rep.torn_bytes_dropped;
  metrics_.corrupt_records_skipped = rep.corrupt_records_skipped;
  for (const auto& n : rep.notes) spdlog::warn("WAL {}: {}", opt_.dir, n);
  if (report) *report = std::move(rep);
}

// ------------------------------------------------------------------ write

uint64_t WalImpl::append_batch(const std::vector<Entry>& entries) {
  if (entries.empty()) throw Error(ErrorCode::kInvalidArgument, "append_batch: the batch is empty");
  return append_entries(entries.data(), entries.size());
}

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
  if (pipe_.stopped()) throw pipe_.stopped_error();
}

void WalImpl::check_writable_locked(uint64_t bytes) {
  if (closed_ || pipe_.stopped()) metrics_.rejected_writes++;
  check_open_locked();
  const uint64_t total = total_bytes_locked();
  const SpaceVerdict v = guard_.check(total, bytes);
  if (v.too_big || v.warn_crossed) request_compaction_locked();
  if (v.warn_crossed) metrics_.pressure_warnings++;
  if (v.too_big) {
    metrics_.rejected_writes++;
    throw guard_.too_big_error(total, marks_.floor());
  }
  if (v.low_free) {
    metrics_.rejected_writes++;
    throw guard_.low_free_error();
  }
}

void WalImpl::request_compaction_locked() {
  const std::pair<uint64_t, uint64_t> at{marks_.floor(),
                                         sealed_.empty() ? 0 : sealed_.back()->last_seq};
  if (at == auto_compacted_at_ || compaction_requested_) return;
  compaction_requested_ = true;
  compact_cv_.notify_all();
}

uint64_t WalImpl::append_entries(const Entry* entries, size_t n) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    validate(entries[i].type, entries[i].op, entries[i].path, entries[i].data.size());
    bytes += record_size(entries[i].path.size(), entries[i].data.size());
  }
  const uint64_t ts = now_ms();
  MutexLock lk(mu_);
  reserve_locked(lk, bytes);

  Segment& seg = *active_.segment();
  uint64_t off = active_end();
  const uint64_t first = pipe_.next_seq();
  char* out = pipe_.add(bytes);
  for (size_t i = 0; i < n; ++i) {
    const Entry& e = entries[i];
    const uint64_t seq = first + i;
    encode_record(seq, e.timestamp_ms ? e.timestamp_ms : ts, e, out);
    maybe_index(seg.index, seq, off);
    const size_t sz = record_size(e.path.size(), e.data.size());
    out += sz;
    off += sz;
    if (seg.entries++ == 0) seg.first_seq = seq;
    seg.last_seq = seq;
  }
  const uint64_t last = first + n - 1;
  pipe_.add_done(n, last);
  seg.data_end = active_end();
  metrics_.appends += n;
  metrics_.append_batches++;
  metrics_.bytes_written += bytes;
  // Returns with mu_ released (commit_pipeline.h): nothing below touches
  // what it guards.
  pipe_.commit(lk, last);
  return last;
}

void WalImpl::reserve_locked(std::unique_lock<std::mutex>& lk, uint64_t bytes, bool importer) {
  // Rotation and growing the file may wait without the mutex, so the checks
  // are repeated until one pass needs neither.
  while (true) {
    if (importing_ && !importer) {
      cv_.wait(lk, [&]() REQUIRES(mu_) { return !importing_; });
      continue;
    }
    check_writable_locked(bytes);
    const uint64_t reserve = bytes + kTrailerSize + (active_->index.size() + 2) * kIndexEntrySize;
    if (active_->entries > 0 && active_end() + reserve > opt_.segment_bytes) {
      rotate_locked(lk);
      continue;
    }
    if (active_.ensure_allocated(lk, active_end() + bytes)) break;
  }
}

void WalImpl::rotate_locked(std::unique_lock<std::mutex>& lk) {
  active_.rotate(lk, [&](std::shared_ptr<Segment> sealed) REQUIRES(mu_) {
    sealed_bytes_ += sealed->size;
    sealed_.push_back(std::move(sealed));
    handles_.count_open();
  });
}

void WalImpl::rotate() {
  MutexLock lk(mu_);
  check_open_locked();
  if (active_->entries > 0) rotate_locked(lk);
}

void WalImpl::flush() {
  MutexLock lk(mu_);
  check_open_locked();
  drain_locked(lk);
}

void WalImpl::close() {
  {
    MutexLock lk(mu_);
    if (closed_) return;
    background_stop_ = true;
    bg_cv_.notify_all();
    compact_cv_.notify_all();
  }
  if (background_.joinable()) background_.join();
  if (compactor_.joinable()) compactor_.join();
  MutexLock lk(mu_);
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
  cv_.wait(lk, [&]() REQUIRES(mu_) { return !io_in_flight_locked(); });
  closed_ = true;
  active_.discard_spare();
  sealed_.clear();
  active_.reset();
  lock_.reset();
  if (failure) throw *failure;
}

void WalImpl::background_loop() {
  MutexLock lk(mu_);
  while (!background_stop_) {
    if (!active_.prealloc_wanted() && !active_.spare_wanted()) {
      bg_cv_.wait_for(lk, std::chrono::milliseconds(opt_.sync_interval_ms));
    }
    if (background_stop_ || closed_ || pipe_.stopped()) break;
    try {
      if (active_.prealloc_wanted()) active_.preallocate(lk);
      if (active_.spare_wanted()) active_.prepare_spare(lk);
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
  MutexLock lk(mu_);
  while (true) {
    compact_cv_.wait(lk, [&]() REQUIRES(mu_) { return background_stop_ || compaction_requested_; });
    if (background_stop_ || closed_ || pipe_.stopped()) break;
    compaction_requested_ = false;
    auto_compacted_at_ = {marks_.floor(), sealed_.empty() ? 0 : sealed_.back()->last_seq};
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

std::optional<Entry> WalImpl::read_entry(uint64_t seq) {
  ReaderLock history(history_mu_);
  std::vector<ReadPlan> plans;
  {
    MutexLock lk(mu_);
    make_readable_locked();
    if (seq == 0 || seq > pipe_.ack_seq()) return std::nullopt;
    // Ranges are contiguous, so the first segment holding seqs >= seq either
    // has it or nobody does (compaction dropped it).
    plans = plan_reads_locked(seq, 1);
  }
  return read_point(plans, seq);
}

uint64_t WalImpl::replay_view(uint64_t since_seq, uint64_t limit,
                              const std::function<bool(const EntryView&)>& fn) {
  ReaderLock history(history_mu_);
  std::vector<ReadPlan> plans;
  uint64_t upto;
  {
    MutexLock lk(mu_);
    make_readable_locked();
    upto = pipe_.ack_seq();
    if (since_seq >= upto) return 0;
    plans = plan_reads_locked(since_seq + 1);
  }
  uint64_t visited = 0;
  for_each_record(plans, since_seq, upto, [&](const RecordView& v, std::string_view) {
    visited++;
    return fn(v) && (limit == 0 || visited < limit);
  });
  MutexLock lk(mu_);
  metrics_.replayed_entries += visited;
  return visited;
}

FramedRecords WalImpl::read_framed(uint64_t after_seq, uint64_t max_bytes) {
  ReaderLock history(history_mu_);
  std::vector<ReadPlan> plans;
  uint64_t upto;
  {
    MutexLock lk(mu_);
    make_readable_locked();
    // Only what a power loss cannot take back may leave the machine.
    if (pipe_.durable_seq() < pipe_.ack_seq()) drain_locked(lk);
    upto = std::min(pipe_.ack_seq(), pipe_.durable_seq());
    if (after_seq >= upto) return {};
    plans = plan_reads_locked(after_seq + 1);
  }
  FramedRecords out;
  for_each_record(plans, after_seq, upto, [&](const RecordView& v, std::string_view raw) {
    if (out.count > 0 && out.bytes.size() + raw.size() > max_bytes) return false;
    out.bytes.append(raw);
    if (out.count++ == 0) out.first_seq = v.seq;
    out.last_seq = v.seq;
    out.last_timestamp_ms = v.timestamp_ms;
    return true;
  });
  return out;
}

// ------------------------------------------------------------------ status

WalSnapshot WalImpl::snapshot() {
  MutexLock lk(mu_);
  check_open_locked();
  drain_locked(lk);  // so the active segment's figures describe durable bytes only
  WalSnapshot snap;
  snap.head_seq = pipe_.ack_seq();
  for (const auto& s : sealed_) snap.sealed.push_back(info_of(*s));
  const Segment& a = *active_.segment();
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

WalMetrics WalImpl::metrics() {
  MutexLock lk(mu_);
  WalMetrics m = metrics_;
  m.fsyncs += pipe_.counters().syncs;
  m.group_commits = pipe_.counters().group_commits;
  m.max_group_size = pipe_.counters().max_group_size;
  return m;
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
  MutexLock lk(mu_);
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
  st.tiers = marks_.describe();
  st.retention_floor = marks_.floor();
  return st;
}

// ------------------------------------------------------------------ tiers

void WalImpl::store_marks(const Marks& marks) {
  write_marks(fs_, opt_.dir, marks);
}

void WalImpl::confirm(std::string_view tier, uint64_t seq) {
  validate_tier_name(tier);
  MutexLock marks_lock(marks_mu_);
  Marks next;
  {
    MutexLock lk(mu_);
    check_open_locked();
    if (seq > pipe_.ack_seq()) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("tier {} cannot confirm seq {}: the log's head is {}", tier, seq,
                              pipe_.ack_seq()));
    }
    auto raised = marks_.raised(tier, seq);
    if (!raised) return;
    // A mark must never be above what a power loss leaves of the log.
    if (pipe_.durable_seq() < seq) drain_locked(lk);
    next = Marks{history_id_, std::move(*raised)};
  }
  // Written without mu_ (appends go on); marks_mu_ keeps writers in order.
  store_marks(next);
  MutexLock lk(mu_);
  marks_.set(std::move(next.seqs));
  // A higher floor may let compaction relieve the pressure now.
  if (total_bytes_locked() >= opt_.warn_bytes) request_compaction_locked();
}

}  // namespace strata::wal

namespace strata {

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
      return std::make_unique<wal::WalImpl>(options, report);
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
