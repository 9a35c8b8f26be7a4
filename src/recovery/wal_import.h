// Writing a recovered log into an empty WAL directory with the original
// seqs and timestamps, so the log continues at the next seq and later syncs
// continue the same remote history.
//
// ADAPTER until the WAL's own import path lands (walcore, issue #12 "The
// WAL needs"): it writes one segment file in the WAL's format
// (docs/format.md) — a header with base seq `next_seq`, then the framed
// records as they arrive — and the HISTORY file, which Wal::open then adopts
// as its active segment. It checks the seq chain itself (each record after
// the previous, none at or below the start); every record it is given has
// been CRC-checked by its reader (decode_log_object, the WAL's RecordReader).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "strata/fs.h"

namespace strata::recovery {

class ImportedLog {
 public:
  // Creates wal_dir (must not exist) holding an empty log whose next append
  // gets next_seq, with the given history id.
  ImportedLog(FileSystem& fs, std::string wal_dir, uint64_t next_seq, std::string history_id,
              uint64_t max_entry_bytes);
  ~ImportedLog();
  ImportedLog(const ImportedLog&) = delete;
  ImportedLog& operator=(const ImportedLog&) = delete;

  // Appends framed records (the WAL's record framing, back to back). Throws
  // kWalCorrupt naming `what` when a record does not decode or its seq does
  // not follow the previous one; nothing of that call is kept then.
  void append(std::string_view framed, std::string_view what);
  // Makes everything durable (file and directory fsynced). Call once, last.
  void finish();

  uint64_t head_seq() const { return head_; }  // next_seq - 1 until something is appended
  uint64_t entries() const { return entries_; }
  const std::string& history_id() const { return history_; }

 private:
  FileSystem& fs_;
  std::string dir_;
  std::string history_;
  uint64_t max_body_;
  std::unique_ptr<File> file_;
  uint64_t end_ = 0;
  uint64_t head_ = 0;
  uint64_t entries_ = 0;
};

}  // namespace strata::recovery
