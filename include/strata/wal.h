// The write-ahead log: a segmented, CRC-framed, fsync-disciplined log of
// entries under DATA_DIR/wal/. The on-disk format is in docs/format.md.
//
// Contract:
//  - append/append_batch return only after the entries are as durable as the
//    sync mode promises (kAlways: on stable storage). Seqs start at 1 and
//    have no gaps. A batch is all or nothing.
//  - Every refusal (bad path, too large, disk pressure, closed, stopped)
//    throws strata::Error and leaves the log unchanged.
//  - After a failed fsync the WAL stops: every later write throws
//    kWalStopped. It never retries the fsync (the kernel may have dropped the
//    dirty pages; a retry that succeeds would lie).
//  - One process owns a WAL directory (flock); any number of its threads may
//    call any method concurrently.
//  - Remote tiers ("object", "git") record what they hold with confirm();
//    no entry above the retention floor (the lowest mark of the registered
//    tiers) is ever dropped by compaction or deleted, unless a caller forces
//    compaction.
//  - A sealed segment's bytes never change after sealing: compaction and
//    truncate_after write new files under new names, so a segment's name
//    identifies its content (docs/format.md, "Segment names").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/entry.h"
#include "strata/fs.h"

namespace strata {

enum class SyncMode { kAlways, kInterval, kNone };
std::string_view sync_mode_name(SyncMode m);
SyncMode parse_sync_mode(std::string_view s);  // "always", "interval", "none"

struct WalOptions {
  std::string dir;  // the WAL directory itself (DATA_DIR/wal)
  SyncMode sync = SyncMode::kAlways;
  uint64_t sync_interval_ms = 100;
  uint64_t segment_bytes = 64ull << 20;
  uint64_t max_entry_bytes = 16ull << 20;           // path + data of one entry
  uint64_t warn_bytes = 1ull << 30;                 // total WAL size: compaction is requested
  uint64_t max_bytes = 3ull << 29;                  // total WAL size: writes are refused (1.5 GiB)
  uint64_t stop_free_bytes = 100ull * 1000 * 1000;  // refuse writes below this free space
  uint64_t resume_free_bytes = 150ull * 1000 * 1000;  // accept again above this
  // Opening: skip records that fail their checks in the middle of the log
  // instead of refusing to open (each skip is counted and reported).
  bool skip_corrupt = false;
  // `always` mode: how many group commits may have their fdatasync in flight
  // at once (each through its own descriptor). 1 is classic group commit and
  // measured fastest on the test machines' virtual disk (docs/performance.md);
  // more lets groups overlap on devices that flush concurrently.
  uint32_t syncs_in_flight = 1;
  // The remote tiers whose marks (confirm()) hold back compaction and the
  // deletion of sealed segments, e.g. {"object", "git"}. A tier not listed
  // may still confirm and its mark is kept, but it does not hold the floor
  // back. With no tier listed nothing counts as confirmed: the floor is 0.
  std::vector<std::string> tiers = {};
  // How long open() waits for another process to release the WAL's lock
  // before it throws kWalLockFailed (0: fail at once).
  uint64_t lock_timeout_ms = 5000;
  FileSystem* fs = nullptr;  // nullptr: the real file system

  // Defaults overridden by WAL_SYNC, WAL_SYNC_INTERVAL_MS, WAL_SEGMENT_BYTES,
  // WAL_MAX_ENTRY_BYTES, WAL_WARN_BYTES, WAL_MAX_BYTES, WAL_MIN_FREE_BYTES,
  // WAL_RESUME_FREE_BYTES, WAL_SYNCS_IN_FLIGHT, WAL_LOCK_TIMEOUT_MS. Throws kConfigInvalid on a
  // bad value.
  static WalOptions from_env(std::string dir);
};

struct SegmentInfo {
  // File name inside the WAL directory. For a sealed segment it identifies
  // the bytes: they never change, and a name is not given to another file.
  std::string file;
  uint64_t base_seq = 0;   // the lowest seq the segment may hold (its name)
  uint64_t first_seq = 0;  // first entry present (0 if none)
  uint64_t last_seq = 0;   // last entry present (0 if none)
  uint64_t entries = 0;
  uint64_t bytes = 0;  // logical size (header to end of footer / last record)
  std::string sha256;  // hex; sealed segments only
  bool sealed = false;
};

struct WalSnapshot {
  uint64_t head_seq = 0;
  std::vector<SegmentInfo> sealed;  // oldest first
  SegmentInfo active;
};

// Bytes that opening drops, or that `verify` found opening would drop:
// corrupt records skipped (skip_corrupt) or a torn tail cut.
struct DroppedRange {
  std::string file;  // path of the segment
  uint64_t offset = 0;
  uint64_t bytes = 0;
  // The seqs lost with them, when the records around them tell (0, 0: none,
  // or not known: a torn tail holds nothing that was acknowledged).
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  bool torn_tail = false;  // an unsynced tail, not corruption
};

// What opening found and did; also logged.
struct OpenReport {
  uint64_t segments = 0;
  uint64_t torn_bytes_dropped = 0;  // cut from the tail
  std::string torn_file;
  uint64_t torn_offset = 0;
  uint64_t corrupt_records_skipped = 0;
  std::vector<DroppedRange> dropped;  // every torn tail cut and corrupt record skipped
  std::string damaged_copy;           // where a segment with skipped records was kept as it was
  std::vector<std::string> notes;     // one line per repair, human readable
};

// What a remote tier has confirmed: it holds every entry up to seq.
struct TierMark {
  std::string tier;
  uint64_t seq = 0;
  bool registered = false;  // listed in WalOptions::tiers, so it holds the floor
};

enum class DiskPressure { kNormal, kWarning, kCritical };
std::string_view disk_pressure_name(DiskPressure p);

struct WalStatus {
  std::string dir;
  bool open = false;
  bool stopped = false;  // a failed fsync/write stopped writes
  std::string stop_reason;
  SyncMode sync = SyncMode::kAlways;
  uint64_t head_seq = 0;
  uint64_t first_seq = 0;    // oldest entry still in the log (0 if empty)
  uint64_t durable_seq = 0;  // highest seq known on stable storage
  uint64_t segments = 0;
  uint64_t total_bytes = 0;
  // kWarning at WAL_WARN_BYTES, kCritical at WAL_MAX_BYTES or while free
  // space is low (writes are refused then).
  DiskPressure pressure = DiskPressure::kNormal;
  // Free space below WAL_MIN_FREE_BYTES (and not yet back above
  // WAL_RESUME_FREE_BYTES): writes are refused with kDiskFull. status()
  // judges it from its own statvfs, so it is true even before a write fails.
  bool low_free_space = false;
  uint64_t free_bytes = 0;
  std::vector<TierMark> tiers;   // every registered tier, and any other with a mark
  uint64_t retention_floor = 0;  // see Wal::retention_floor()
  // Identifies the log's history: it changes when truncate_after removes
  // entries, so a reader that remembers (seq, history_id) can tell that the
  // entries it saw up to seq may no longer be the ones in the log.
  std::string history_id;
};

struct WalMetrics {
  uint64_t appends = 0;         // entries appended
  uint64_t append_batches = 0;  // append/append_batch calls that succeeded
  uint64_t bytes_written = 0;
  uint64_t fsyncs = 0;         // fdatasync calls on segments
  uint64_t group_commits = 0;  // leader writes (each one write + at most one fsync)
  uint64_t max_group_size = 0;
  uint64_t rotations = 0;
  uint64_t compactions = 0;
  uint64_t compaction_entries_dropped = 0;
  uint64_t rejected_writes = 0;  // refusals of valid-looking writes (pressure, stopped)
  uint64_t corrupt_records_skipped = 0;
  uint64_t torn_bytes_dropped = 0;
  uint64_t replayed_entries = 0;
  uint64_t imported_entries = 0;
  uint64_t sealed_segments_deleted = 0;
  uint64_t pressure_warnings = 0;  // WAL_WARN_BYTES crossed (re-armed below it)
  double mean_group_size() const {
    return group_commits ? static_cast<double>(appends) / static_cast<double>(group_commits) : 0;
  }
};

struct CompactResult {
  uint64_t segments_before = 0;
  uint64_t segments_after = 0;
  uint64_t entries_dropped = 0;
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
};

// Whole records in the WAL's own framing (docs/format.md, "Records"), for
// shipping to a remote and importing back: the bytes of consecutive records
// exactly as the segments hold them, in seq order.
struct FramedRecords {
  std::string bytes;
  uint64_t first_seq = 0;  // 0 when there is no record
  uint64_t last_seq = 0;
  uint64_t count = 0;
  uint64_t last_timestamp_ms = 0;  // of the record with last_seq
};

// A sealed segment held by a SegmentPin.
struct PinnedSegment {
  SegmentInfo info;
  // Open for reading; its bytes stay readable for as long as the pin lives
  // (even if truncate_after removes the file meanwhile).
  std::shared_ptr<File> file;
};

// Sealed segments that compaction and delete_sealed_through leave in place
// while the pin lives (RAII; movable, not copyable). It may outlive the Wal.
class SegmentPin {
 public:
  SegmentPin() = default;
  SegmentPin(std::vector<PinnedSegment> segments, std::shared_ptr<void> hold)
      : segments_(std::move(segments)), hold_(std::move(hold)) {}
  SegmentPin(SegmentPin&&) = default;
  SegmentPin& operator=(SegmentPin&&) = default;
  SegmentPin(const SegmentPin&) = delete;
  SegmentPin& operator=(const SegmentPin&) = delete;

  const std::vector<PinnedSegment>& segments() const { return segments_; }
  bool empty() const { return segments_.empty(); }
  // Lets compaction and deletion have the segments again (also on destruction).
  void release() {
    segments_.clear();
    hold_.reset();
  }

 private:
  std::vector<PinnedSegment> segments_;
  std::shared_ptr<void> hold_;
};

struct ImportResult {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t count = 0;
};

// Result of checking every record and every sealed segment's SHA-256.
struct VerifyResult {
  bool ok = true;
  uint64_t segments = 0;
  uint64_t records = 0;
  std::string bad_file;  // first problem, when !ok
  uint64_t bad_offset = 0;
  bool offset_known = true;  // false when the problem has no one place (a SHA-256 mismatch)
  std::string problem;
  // !ok, and every problem is in `dropped`: a torn tail (which any writer's
  // open cuts) and/or corrupt records of the unsealed segment (which
  // `strata repair`, i.e. an open with skip_corrupt, drops).
  bool repairable = false;
  std::vector<DroppedRange> dropped;
  bool torn_tail_only() const {
    if (ok || !repairable) return false;
    for (const auto& d : dropped) {
      if (!d.torn_tail) return false;
    }
    return true;
  }
};

class Wal {
 public:
  // Opens (creating if needed) the WAL in options.dir: takes the lock
  // (waiting up to options.lock_timeout_ms for another process to release
  // it, then kWalLockFailed naming the holder's pid and the wait), repairs a
  // torn tail, refuses mid-log corruption (unless skip_corrupt).
  static std::unique_ptr<Wal> open(const WalOptions& options, OpenReport* report = nullptr);
  // Checks a WAL directory without taking the lock for writing. Read-only.
  // In the unsealed segment it goes on past corrupt records (listing them
  // with any torn tail in `dropped`) so that a caller can say what a repair
  // would drop; anything else stops at the first problem.
  static VerifyResult verify(const std::string& dir, FileSystem* fs = nullptr);
  // The marks recorded in dir (every tier with one; `registered` is false),
  // without the lock and without writing anything. Marks written for another
  // history than the directory's HISTORY, or a damaged marks file, read as
  // none (a lower mark is always safe: it only keeps more).
  static std::vector<TierMark> read_tier_marks(const std::string& dir, FileSystem* fs = nullptr);

  virtual ~Wal() = default;

  // entry.seq is ignored; entry.timestamp_ms is set to now when 0.
  virtual uint64_t append(const Entry& entry) = 0;
  virtual uint64_t append_batch(const std::vector<Entry>& entries) = 0;
  // Removes every entry with seq > seq; the next append gets seq + 1. Waits
  // for reads in progress to finish, so it must not be called from inside a
  // replay callback. If it fails part-way the WAL stops (reopen to recover).
  // Tier marks above seq are lowered to seq (persisted with the new history
  // id before anything is cut).
  virtual void truncate_after(uint64_t seq) = 0;
  virtual std::optional<Entry> read_entry(uint64_t seq) = 0;
  // Calls fn for entries with seq > since_seq in order, at most limit of
  // them (0: no limit); fn returns false to stop. Returns entries visited.
  virtual uint64_t replay(uint64_t since_seq, uint64_t limit,
                          const std::function<bool(const Entry&)>& fn) = 0;
  // The same without copying: the view is valid only during the call.
  virtual uint64_t replay_view(uint64_t since_seq, uint64_t limit,
                               const std::function<bool(const EntryView&)>& fn) = 0;
  // The head and every segment with its range and (sealed) SHA-256. Drains
  // first: writes everything appended so far and fdatasyncs it, so the
  // active segment's figures describe durable bytes only; this waits for
  // writes in flight like flush().
  virtual WalSnapshot snapshot() = 0;
  // Asks the file system for free space (statvfs) after releasing the WAL's
  // lock, so a slow file system does not hold up appends, and judges
  // low_free_space and pressure from that reading.
  virtual WalStatus status() = 0;
  virtual WalMetrics metrics() = 0;
  // Makes everything appended so far durable (meaningful for interval/none).
  virtual void flush() = 0;

  // ---- tier marks

  // Records that `tier` holds every entry up to seq. Persisted before it
  // returns (written to a temp file, fsynced, renamed over MARKS, directory
  // fsynced) together with the history id, so it survives a crash or power
  // loss; read back at open. Marks never move backwards here (a lower seq is
  // a no-op); only truncate_after lowers them. Entries up to seq are made
  // durable first (interval/none modes), so a mark is never above what the
  // log keeps after a power loss. Throws kInvalidArgument for seq above the
  // head or a tier name outside [a-z0-9_-]{1,32}; kIoError if the write fails
  // (the old mark stays, in memory and on disk).
  virtual void confirm(std::string_view tier, uint64_t seq) = 0;
  // The tier's mark (0 if it never confirmed).
  virtual uint64_t confirmed(std::string_view tier) = 0;
  // The lowest mark over WalOptions::tiers; 0 when no tier is registered
  // (nothing is confirmed by a remote then). Compaction drops, and
  // delete_sealed_through deletes, only entries at or below it.
  virtual uint64_t retention_floor() = 0;

  // ---- shipping and recovery

  // The framed records with seq > after_seq, in order, as raw bytes (never
  // decoded into entries): whole records only, at most max_bytes of them,
  // but always at least one record when one exists (a record larger than the
  // budget comes alone). Only acknowledged entries that are durable are
  // returned: in interval/none modes this drains first. Entries above the
  // retention floor are never compacted away, so a registered tier reading
  // after its own mark gets consecutive seqs.
  virtual FramedRecords read_framed(uint64_t after_seq, uint64_t max_bytes) = 0;
  // The sealed segments holding any seq > since_seq, oldest first, pinned:
  // until the pin is released compaction does not rewrite them and
  // delete_sealed_through does not delete them (nor anything after them).
  virtual SegmentPin pin_sealed_since(uint64_t since_seq) = 0;
  // Deletes the oldest sealed segments whose last seq is at or below
  // min(seq, retention_floor()), stopping at the first that is pinned or
  // above; never the active segment. The directory is fsynced before it
  // returns. Returns what it deleted, oldest first.
  virtual std::vector<SegmentInfo> delete_sealed_through(uint64_t seq) = 0;
  // Writes framed records (as read_framed returns them) with their own seqs
  // and timestamps. They must be consecutive and continue the log: the first
  // seq is head + 1, or, when the log holds no entry at all, any seq above
  // the head (the log then starts there). Every record's CRC, fields and
  // path are checked, and the chain, before anything is written: a gap, an
  // overlap, a bad CRC, trailing bytes or an entry append would refuse
  // throws (kInvalidArgument or kWalCorrupt, naming the offset and seq) and
  // writes nothing. Appends wait while an import runs. Everything imported
  // is durable when it returns, in every sync mode. The history id and tier
  // marks are not changed: the caller sets the marks (confirm) to what each
  // remote holds.
  virtual ImportResult import_framed(std::string_view framed) = 0;
  // In a log that holds no entry, makes the next append or import get seq + 1
  // (e.g. after recovery restored a state snapshot taken at seq with no log
  // after it). Durable when it returns; a crash while it runs may leave an
  // empty log that starts at 1 instead. A no-op when the head is seq already;
  // throws kInvalidArgument if the log holds entries or its head is above seq.
  virtual void start_after(uint64_t seq) = 0;

  // Keeps the latest entry per path among sealed segments (seqs unchanged),
  // dropping only entries at or below retention_floor() unless force.
  // Pinned segments are not rewritten. Each output is a new file with a new
  // name; the inputs are deleted after it is in place.
  virtual CompactResult compact(bool force = false) = 0;
  // Seals the active segment now (if it holds entries) and starts a new one.
  virtual void rotate() = 0;
  virtual void close() = 0;
};

}  // namespace strata
