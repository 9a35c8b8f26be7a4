#include "recovery/wal_import.h"

#include <fmt/format.h>

#include "strata/error.h"
#include "wal/dir_state.h"

namespace strata::recovery {

ImportedLog::ImportedLog(FileSystem& fs, std::string wal_dir, uint64_t next_seq,
                         std::string history_id, const WalOptions& options)
    : history_(std::move(history_id)), head_(next_seq - 1) {
  if (next_seq == 0) throw Error(ErrorCode::kInvalidArgument, "a WAL starts at seq 1 or later");
  if (fs.exists(wal_dir))
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} already exists", wal_dir));
  create_directories(fs, wal_dir);
  // Written before the WAL opens, so it adopts the history instead of
  // starting a new one.
  wal::write_history_id(fs, wal_dir, history_);
  WalOptions o = options;
  o.dir = wal_dir;
  o.fs = &fs;
  o.skip_corrupt = false;
  wal_ = Wal::open(o);
  if (head_ > 0) wal_->start_after(head_);
}

ImportedLog::~ImportedLog() = default;

void ImportedLog::append(std::string_view framed, std::string_view what) {
  if (framed.empty()) return;
  ImportResult r;
  try {
    r = wal_->import_framed(framed);
  } catch (const Error& e) {
    throw Error(e.code() == ErrorCode::kInvalidArgument ? ErrorCode::kWalCorrupt : e.code(),
                fmt::format("{}: {}", what, e.what()));
  }
  head_ = r.last_seq;
  entries_ += r.count;
}

void ImportedLog::close() {
  if (!wal_) return;
  wal_->close();
  wal_.reset();
}

}  // namespace strata::recovery
