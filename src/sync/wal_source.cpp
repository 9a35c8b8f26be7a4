#include "sync/wal_source.h"

#include <fmt/format.h>

#include "strata/error.h"
#include "wal/record_format.h"

namespace strata::sync {

namespace {

// The seq and timestamp of the record at `off` and where the next one starts.
// read_framed returns whole records only, so a frame that runs past the end
// is the WAL's defect, not bad input.
struct RecordHead {
  uint64_t seq = 0;
  uint64_t timestamp_ms = 0;
  size_t end = 0;
};

RecordHead record_at(const std::string& bytes, size_t off) {
  if (bytes.size() - off < wal::kRecordOverhead) {
    throw Error(ErrorCode::kInternal,
                fmt::format("framed WAL read: a partial record at offset {}", off));
  }
  const char* p = bytes.data() + off;
  RecordHead h;
  h.end = off + wal::kFrameSize + wal::get_u32(p + 4);
  if (h.end > bytes.size()) {
    throw Error(ErrorCode::kInternal,
                fmt::format("framed WAL read: the record at offset {} runs past the end", off));
  }
  h.seq = wal::get_u64(p + wal::kFrameSize);
  h.timestamp_ms = wal::get_u64(p + wal::kFrameSize + 8);
  return h;
}

}  // namespace

FramedBatch read_for_shipping(Wal& wal, uint64_t after_seq, uint64_t budget, uint64_t up_to) {
  FramedBatch b;
  if (up_to <= after_seq) return b;
  FramedRecords r = wal.read_framed(after_seq, budget);
  if (r.count == 0) return b;
  if (r.last_seq > up_to) {
    // Cut after the last record at or below up_to.
    size_t off = 0;
    size_t keep = 0;
    uint64_t count = 0;
    uint64_t last_seq = 0;
    uint64_t last_ts = 0;
    while (off < r.bytes.size()) {
      RecordHead h = record_at(r.bytes, off);
      if (h.seq > up_to) break;
      keep = h.end;
      last_seq = h.seq;
      last_ts = h.timestamp_ms;
      ++count;
      off = h.end;
    }
    if (count == 0) return b;
    r.bytes.resize(keep);
    r.count = count;
    r.last_seq = last_seq;
    r.last_timestamp_ms = last_ts;
  }
  b.bytes = std::move(r.bytes);
  b.first_seq = r.first_seq;
  b.last_seq = r.last_seq;
  b.count = r.count;
  b.last_timestamp_ms = r.last_timestamp_ms;
  return b;
}

std::optional<uint64_t> first_timestamp_after(Wal& wal, uint64_t seq) {
  std::optional<uint64_t> ts;
  wal.replay_view(seq, 1, [&](const EntryView& e) {
    ts = e.timestamp_ms;
    return false;
  });
  return ts;
}

uint64_t tier_confirmed(Wal& wal, std::string_view tier) {
  return wal.confirmed(tier);
}

std::vector<SegmentInfo> delete_sealed_through(Wal& wal, uint64_t seq) {
  return wal.delete_sealed_through(seq);
}

}  // namespace strata::sync
