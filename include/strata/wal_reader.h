// Read-only access to a WAL directory that a writer (another process,
// `strata serve`) may hold: what the read-only commands (`status`, `get`,
// `replay`, `snapshot`, `metrics`) and the daemon's readers use.
//
// Contract:
//  - open() takes no lock and never creates, writes, truncates or fsyncs
//    anything, so it works while another process owns the WAL and on a
//    read-only file system. A missing directory is kNotFound; the reader
//    never makes one.
//  - It reads a view taken at open() (or refresh()): the sealed segments,
//    whose bytes never change under their names, and the unsealed tail up
//    to its last valid record. A torn or half-written tail is ignored, never
//    repaired. The tail may hold records the writer has written but not yet
//    acknowledged (interval/none modes, a group whose fsync is in flight);
//    those are the only ones a crash of the writer could still take back.
//  - Every segment is held open from the moment it is listed, so compaction,
//    pruning or rotation by the writer afterwards cannot take bytes from
//    under a read. A segment that vanishes between listing and opening, or a
//    listing caught half-way through a rotation or compaction, makes it list
//    again (a few times, then kWalCorrupt naming what it saw). A
//    truncate_after that cuts the tail under a read is reported (kWalCorrupt
//    "changed while it was read"), never shown as a shorter log.
//  - Thread-safe: any number of threads may read at once; refresh() swaps
//    the view for the next reads and leaves reads in progress on the old one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "strata/wal.h"

namespace strata {

class WalReader {
 public:
  // Reads options.dir through options.fs; options' limits (warn/max bytes,
  // free-space marks) and sync mode are only what status() reports against.
  static std::unique_ptr<WalReader> open(const WalOptions& options);

  virtual ~WalReader() = default;

  // Takes a new view: sees what the writer has written since.
  virtual void refresh() = 0;
  // The highest seq in the view (0 for an empty log).
  virtual uint64_t head_seq() = 0;
  // nullopt when the view has no entry with that seq (never written,
  // compacted away, or beyond the head).
  virtual std::optional<Entry> read_entry(uint64_t seq) = 0;
  // As Wal::replay_view: entries with seq > since_seq in order, at most
  // limit (0: all); fn returns false to stop. Returns entries visited.
  virtual uint64_t replay_view(uint64_t since_seq, uint64_t limit,
                               const std::function<bool(const EntryView&)>& fn) = 0;
  // The view's segments; the active one's bytes end at its last valid record.
  virtual WalSnapshot snapshot() = 0;
  // As Wal::status, from the view and a statvfs made now. durable_seq is the
  // head (a reader cannot see the writer's fsyncs); low_free_space is free
  // space below WAL_MIN_FREE_BYTES (a reader has no memory of the writer's
  // hysteresis); tiers are the recorded marks, none registered.
  virtual WalStatus status() = 0;
  // What reading has counted in this process (replayed_entries; the rest
  // are a writer's counters and stay 0).
  virtual WalMetrics metrics() = 0;
};

}  // namespace strata
