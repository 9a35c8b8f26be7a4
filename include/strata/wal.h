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
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
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
  FileSystem* fs = nullptr;  // nullptr: the real file system

  // Defaults overridden by WAL_SYNC, WAL_SYNC_INTERVAL_MS, WAL_SEGMENT_BYTES,
  // WAL_MAX_ENTRY_BYTES, WAL_WARN_BYTES, WAL_MAX_BYTES, WAL_MIN_FREE_BYTES,
  // WAL_RESUME_FREE_BYTES, WAL_SYNCS_IN_FLIGHT. Throws kConfigInvalid on a
  // bad value.
  static WalOptions from_env(std::string dir);
};

struct SegmentInfo {
  std::string file;        // file name inside the WAL directory
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

// What opening found and did; also logged.
struct OpenReport {
  uint64_t segments = 0;
  uint64_t torn_bytes_dropped = 0;  // cut from the tail
  std::string torn_file;
  uint64_t torn_offset = 0;
  uint64_t corrupt_records_skipped = 0;
  std::vector<std::string> notes;  // one line per repair, human readable
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
  DiskPressure pressure = DiskPressure::kNormal;
  bool low_free_space = false;
  uint64_t free_bytes = 0;
  uint64_t confirmed_seq = 0;  // highest seq a remote tier has confirmed
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

// Result of checking every record and every sealed segment's SHA-256.
struct VerifyResult {
  bool ok = true;
  uint64_t segments = 0;
  uint64_t records = 0;
  std::string bad_file;  // first problem, when !ok
  uint64_t bad_offset = 0;
  std::string problem;
};

class Wal {
 public:
  // Opens (creating if needed) the WAL in options.dir: takes the lock,
  // repairs a torn tail, refuses mid-log corruption (unless skip_corrupt).
  static std::unique_ptr<Wal> open(const WalOptions& options, OpenReport* report = nullptr);
  // Checks a WAL directory without taking the lock for writing. Read-only.
  static VerifyResult verify(const std::string& dir, FileSystem* fs = nullptr);

  virtual ~Wal() = default;

  // entry.seq is ignored; entry.timestamp_ms is set to now when 0.
  virtual uint64_t append(const Entry& entry) = 0;
  virtual uint64_t append_batch(const std::vector<Entry>& entries) = 0;
  // Removes every entry with seq > seq; the next append gets seq + 1. Waits
  // for reads in progress to finish, so it must not be called from inside a
  // replay callback. If it fails part-way the WAL stops (reopen to recover).
  virtual void truncate_after(uint64_t seq) = 0;
  virtual std::optional<Entry> read_entry(uint64_t seq) = 0;
  // Calls fn for entries with seq > since_seq in order, at most limit of
  // them (0: no limit); fn returns false to stop. Returns entries visited.
  virtual uint64_t replay(uint64_t since_seq, uint64_t limit,
                          const std::function<bool(const Entry&)>& fn) = 0;
  // The same without copying: the view is valid only during the call.
  virtual uint64_t replay_view(uint64_t since_seq, uint64_t limit,
                               const std::function<bool(const EntryView&)>& fn) = 0;
  virtual WalSnapshot snapshot() = 0;
  virtual WalStatus status() = 0;
  virtual WalMetrics metrics() = 0;
  // Makes everything appended so far durable (meaningful for interval/none).
  virtual void flush() = 0;
  // Remote tiers report the highest seq they hold; compaction may only drop
  // entries at or below it.
  virtual void set_confirmed_seq(uint64_t seq) = 0;
  // Keeps the latest entry per path among sealed segments (seqs unchanged).
  // Drops only entries at or below the confirmed seq unless force.
  virtual CompactResult compact(bool force = false) = 0;
  // Seals the active segment now (if it holds entries) and starts a new one.
  virtual void rotate() = 0;
  virtual void close() = 0;
};

}  // namespace strata
