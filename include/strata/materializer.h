// The materialized state: DATA_DIR/state/ holds every live file as of
// "all entries up to seq N applied", and DATA_DIR/state.seq records, one per
// line and replaced atomically:
//   N                       the seq (decimal)
//   history <id>            the WAL history id it was applied from
//   last <seq> <sha256>     the last entry applied and its fingerprint
// When the WAL's history id differs (truncate_after rewrote entries), when
// its head is below N, or when the entry at <seq> is no longer the one that
// was applied (a WAL directory put back from a copy, then appended to), the
// state is rebuilt from the log.
//
// Entries are applied in batches of up to 100,000 (fewer when their data
// passes 64 MiB): only the last write of a path in a batch reaches the disk,
// through a temporary file and a rename (or at its own name, see
// set_write_in_place), with the removals the superseded
// entries imply (src/state/apply_batch.h). Applying is idempotent (a write
// replaces the whole file, a delete removes it), so after a crash in the
// middle of a batch, applying again from the recorded seq repairs the
// directory. state.seq is written after each batch, once the files it
// vouches for are on stable storage (one syncfs).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "strata/entry.h"
#include "strata/fs.h"
#include "strata/wal.h"

namespace strata {

struct MaterializeResult {
  uint64_t from_seq = 0;     // state.seq before
  uint64_t applied_seq = 0;  // state.seq after
  uint64_t entries_applied = 0;
  bool rebuilt = false;        // the state did not match the log and was rebuilt from scratch
  std::string rebuild_reason;  // why, when rebuilt
};

// The entry a state was last brought up to: its seq and a fingerprint of
// everything in it (seq, time, type, op, path, data), so a different entry
// under the same seq is told apart.
struct AppliedEntry {
  uint64_t seq = 0;  // 0: none recorded
  std::string fingerprint;
  bool operator==(const AppliedEntry&) const = default;
};
// Hex SHA-256 of the entry's fields, each length-prefixed.
std::string entry_fingerprint(const EntryView& e);

class Materializer {
 public:
  explicit Materializer(std::string data_dir, FileSystem* fs = nullptr);

  const std::string& state_dir() const { return state_dir_; }
  // The recorded seq; 0 when nothing was applied yet. Throws
  // Error(kIoError) naming state.seq when the file is not one strata wrote.
  uint64_t applied_seq() const;
  // Applies every entry after the recorded seq up to the WAL's head,
  // rebuilding first when the state does not match the log (see above).
  MaterializeResult run(Wal& wal);
  // Applies one entry to the state directory (no seq bookkeeping, nothing
  // synced).
  void apply(const EntryView& entry);
  // The WAL history id recorded with the seq ("" if none).
  std::string applied_history() const;
  // The last applied entry recorded with the seq (seq 0 if none).
  AppliedEntry applied_entry() const;
  // For a state directory nobody reads until the caller is done with it
  // (recovery's staging directory, an empty state/ rebuilt before anything
  // serves it): files are written at their own names instead of through a
  // temporary file and a rename, so a crash may leave a file half-written;
  // applying again from state.seq rewrites it whole, as before. Off by
  // default: a reader of a live state/ sees whole files only.
  void set_write_in_place(bool on) { in_place_ = on; }
  // Called with every entry run() applies, in order: recovery computes the
  // state it expects from the same read of the log instead of a second one.
  void set_observer(std::function<void(const EntryView&)> fn) { observer_ = std::move(fn); }
  // Records seq after making the state directory durable.
  void commit(uint64_t seq, const std::string& history_id = "", const AppliedEntry& last = {});
  // Empties the state directory and records seq 0.
  void reset();

 private:
  struct SeqFile {
    uint64_t seq = 0;
    std::string history;
    AppliedEntry last;
  };
  SeqFile read_seq_file() const;
  // Why the state cannot be continued from the log, or "" when it can.
  std::string mismatch(Wal& wal, const WalStatus& st, const SeqFile& recorded) const;

  std::string data_dir_;
  std::string state_dir_;
  std::string seq_file_;
  std::string tmp_dir_;
  FileSystem& fs_;
  bool in_place_ = false;
  std::function<void(const EntryView&)> observer_;
};

}  // namespace strata
