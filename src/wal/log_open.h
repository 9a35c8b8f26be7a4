// Opening a WAL directory for writing: the directory made durable, the
// lock taken, the segments listed and planned (wal/log_recovery.h), redundant
// files removed, the history id read (or created) and the unsealed tail
// repaired. What it finds is handed to the WAL, which adopts the tail as its
// active segment and loads the tier marks (wal/tier_marks.h).
//
// Contract: called once, before the WAL's threads start, so no WAL lock is
// involved; it WRITES (directory, HISTORY, repairs), which only the holder
// of dir/LOCK may do: the lock is taken before anything is read. Read-only
// callers (verify, WalReader) use list_segments/plan_log instead. Throws
// kWalLockFailed when another process holds the lock (Wal::open retries
// that), kWalCorrupt when the segments do not form one chain.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/fs.h"
#include "strata/wal.h"
#include "wal/segment_file.h"
#include "wal/segment_reader.h"

namespace strata::wal {

struct OpenedLog {
  std::unique_ptr<FileLock> lock;
  std::string history_id;
  std::vector<std::shared_ptr<Segment>> sealed;  // the chain, oldest first
  uint64_t sealed_bytes = 0;
  // The unsealed segment to continue writing; none when the log ends with
  // a sealed segment (or is empty) and a new one must be created.
  struct Tail {
    std::string name;
    uint64_t base = 0;
    std::shared_ptr<File> file;  // open for reading and writing
    TailScan scan;               // its durable records (scan.sha not computed)
  };
  std::optional<Tail> tail;
};

// Repairs and removals are noted in rep (the caller logs rep.notes).
OpenedLog open_log(FileSystem& fs, const std::string& dir, bool skip_corrupt, OpenReport& rep);

}  // namespace strata::wal
