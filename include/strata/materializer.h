// The materialized state: DATA_DIR/state/ holds every live file as of
// "all entries up to seq N applied", and DATA_DIR/state.seq records N
// (first line, decimal) and the WAL history id it was applied from (second
// line, "history <id>"), replaced atomically. When the WAL's history id
// differs (truncate_after rewrote entries), the state is rebuilt.
//
// Applying is idempotent (create/update write the whole file, delete removes
// it), so after a crash in the middle of applying, applying again from the
// recorded seq repairs the directory. state.seq is written only after the
// files it vouches for are on stable storage (one syncfs).
#pragma once

#include <cstdint>
#include <string>

#include "strata/entry.h"
#include "strata/fs.h"
#include "strata/wal.h"

namespace strata {

struct MaterializeResult {
  uint64_t from_seq = 0;     // state.seq before
  uint64_t applied_seq = 0;  // state.seq after
  uint64_t entries_applied = 0;
  bool rebuilt = false;  // the state was ahead of the log and was rebuilt from scratch
};

class Materializer {
 public:
  explicit Materializer(std::string data_dir, FileSystem* fs = nullptr);

  const std::string& state_dir() const { return state_dir_; }
  // The recorded seq; 0 when nothing was applied yet.
  uint64_t applied_seq() const;
  // Applies every entry after the recorded seq up to the WAL's head.
  MaterializeResult run(Wal& wal);
  // Applies one entry to the state directory (no seq bookkeeping).
  void apply(const EntryView& entry);
  // The WAL history id recorded with the seq ("" if none).
  std::string applied_history() const;
  // Records seq after making the state directory durable.
  void commit(uint64_t seq, const std::string& history_id = "");
  // Empties the state directory and records seq 0.
  void reset();

 private:
  void remove_tree(const std::string& path);
  void prune_empty_parents(const std::string& rel);
  std::string read_seq_file() const;

  std::string data_dir_;
  std::string state_dir_;
  std::string seq_file_;
  std::string tmp_dir_;
  FileSystem& fs_;
};

}  // namespace strata
