// Writing a recovered log into an empty staged WAL directory with the
// original seqs and timestamps (Wal::import_framed, Wal::start_after), so the
// log continues at the next seq and later syncs continue the same remote
// history. The WAL itself checks every record (CRC, fields, path) and the
// chain (no gap, no overlap) before it writes anything of a call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "strata/fs.h"
#include "strata/wal.h"

namespace strata::recovery {

class ImportedLog {
 public:
  // Creates wal_dir (must not exist) holding an empty log with the given
  // history id whose next append or import gets next_seq. `options` gives
  // everything but dir and fs.
  ImportedLog(FileSystem& fs, std::string wal_dir, uint64_t next_seq, std::string history_id,
              const WalOptions& options);
  ~ImportedLog();
  ImportedLog(const ImportedLog&) = delete;
  ImportedLog& operator=(const ImportedLog&) = delete;

  // Imports framed records (the WAL's record framing, back to back) that
  // continue the log. Throws kWalCorrupt naming `what` when a record does not
  // decode or its seq does not follow the previous one; nothing of that call
  // is kept then.
  void append(std::string_view framed, std::string_view what);

  uint64_t head_seq() const { return head_; }  // next_seq - 1 until something is imported
  uint64_t entries() const { return entries_; }
  const std::string& history_id() const { return history_; }
  // The staged WAL, open (for replay, materializing and the tier marks).
  Wal& wal() { return *wal_; }
  // Closes the staged WAL (so the commit can move its directory).
  void close();

 private:
  std::string history_;
  std::unique_ptr<Wal> wal_;
  uint64_t head_ = 0;
  uint64_t entries_ = 0;
};

}  // namespace strata::recovery
