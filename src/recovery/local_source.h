// The local tier: DATA_DIR/wal (and the lineage id beside it) as the probe
// finds it, and a read-only walk of its records that stops at the first
// damage, for logs the WAL itself refuses to open.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "recovery/run_context.h"
#include "strata/entry.h"
#include "strata/fs.h"
#include "strata/wal.h"

namespace strata::recovery {

struct LocalWal {
  Offer offer;
  bool exists = false;  // there is a WAL directory with a segment in it
  // Wal::verify found every record and every sealed segment's SHA-256
  // right (a torn tail, which opening cuts, is normal).
  bool intact = false;
  // The WAL lock, held from the probe on; nothing under wal/ is written
  // until open_for_writing().
  std::unique_ptr<FileLock> lock;
  std::unique_ptr<Wal> wal;    // open_for_writing(): then it holds the lock instead
  WalOptions options;          // intact: how to open it
  uint64_t base_seq = 0;       // the lowest seq the oldest segment may hold
  uint64_t first_seq = 0;      // oldest entry present (0: none)
  uint64_t head_seq = 0;       // intact: the head; damaged: the last readable seq
  uint64_t entries = 0;        // entries present (readable)
  uint64_t first_time_ms = 0;  // timestamp of the oldest entry present
  uint64_t head_time_ms = 0;   // of the newest (readable) entry
  uint64_t state_seq = 0;      // DATA_DIR/state.seq
  std::string damage;          // damaged: where reading stopped and why
  std::string history;         // WAL history id
  // Every entry from seq 1 to head is present (no pruning, no compaction
  // gap), so any seq up to head can be rebuilt from the log alone.
  bool complete_from_one = false;

  // The intact log opened for writing (cutting a torn tail), for use in
  // place; the probe's lock is handed over to it.
  Wal& open_for_writing();
};

// The lineage id in data_dir/lineage-id ("" when there is none).
std::string read_lineage_id(FileSystem& fs, const std::string& data_dir);

// Opens and verifies DATA_DIR/wal if it exists (kWalLockFailed propagates:
// another process owns it). A log that does not open or verify is read
// without changing it, up to the first damage.
LocalWal probe_local(RunContext& ctx);

// Walks the records of wal_dir in seq order without changing a byte,
// calling fn(entry, framed record bytes) for each record with seq > after
// until fn returns false or a record is damaged. Returns the seq of the last
// record delivered (after when none); *stopped gets the damage ("" when
// the walk reached the end).
uint64_t read_local_records(FileSystem& fs, const std::string& wal_dir, uint64_t after,
                            uint64_t max_entry_bytes,
                            const std::function<bool(const EntryView&, std::string_view)>& fn,
                            std::string* stopped);

}  // namespace strata::recovery
