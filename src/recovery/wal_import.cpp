#include "recovery/wal_import.h"

#include <fmt/format.h>

#include "strata/error.h"
#include "wal/record_format.h"

namespace strata::recovery {

ImportedLog::ImportedLog(FileSystem& fs, std::string wal_dir, uint64_t next_seq,
                         std::string history_id, uint64_t max_entry_bytes)
    : fs_(fs),
      dir_(std::move(wal_dir)),
      history_(std::move(history_id)),
      max_body_(wal::kBodyFixed + max_entry_bytes),
      head_(next_seq - 1) {
  if (next_seq == 0) throw Error(ErrorCode::kInvalidArgument, "a WAL starts at seq 1 or later");
  if (fs_.exists(dir_))
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} already exists", dir_));
  create_directories(fs_, dir_);
  write_file_atomically(fs_, dir_ + "/HISTORY", history_ + "\n");
  file_ = fs_.open(dir_ + "/" + wal::segment_file_name(next_seq), OpenMode::kCreate);
  char header[wal::kHeaderSize];
  wal::encode_header(wal::SegmentHeader{next_seq}, header);
  file_->pwrite(header, sizeof(header), 0);
  end_ = wal::kHeaderSize;
}

ImportedLog::~ImportedLog() = default;

void ImportedLog::append(std::string_view framed, std::string_view what) {
  // Check the whole chunk before writing any of it.
  uint64_t head = head_;
  uint64_t count = 0;
  size_t off = 0;
  while (off < framed.size()) {
    wal::RecordView v;
    size_t size = 0;
    const auto st =
        wal::decode_record(framed.data() + off, framed.size() - off, max_body_, &v, &size);
    if (st != wal::DecodeStatus::kOk) {
      throw Error(ErrorCode::kWalCorrupt,
                  fmt::format("{}: the record at byte {} does not decode", what, off));
    }
    if (v.seq <= head) {
      throw Error(ErrorCode::kWalCorrupt,
                  fmt::format("{}: seq {} does not follow seq {} (an overlap)", what, v.seq, head));
    }
    head = v.seq;
    count++;
    off += size;
  }
  file_->pwrite(framed.data(), framed.size(), end_);
  end_ += framed.size();
  head_ = head;
  entries_ += count;
}

void ImportedLog::finish() {
  file_->sync();
  file_.reset();
  fs_.sync_dir(dir_);
}

}  // namespace strata::recovery
