// ADAPTER until the WAL offers framed reads: re-encodes replayed entries with
// the WAL's own record encoder, which yields the bytes the segments hold.
#include "sync/wal_source.h"

#include "strata/error.h"
#include "wal/record_format.h"

namespace strata::sync {

FramedBatch read_for_shipping(Wal& wal, uint64_t after_seq, uint64_t budget, uint64_t up_to) {
  FramedBatch b;
  if (up_to <= after_seq) return b;
  wal.replay_view(after_seq, 0, [&](const EntryView& e) {
    if (e.seq > up_to) return false;
    size_t size = wal::record_size(e.path.size(), e.data.size());
    if (b.count > 0 && b.bytes.size() + size > budget) return false;
    size_t off = b.bytes.size();
    b.bytes.resize(off + size);
    wal::encode_record(e.seq, e.timestamp_ms, e.to_entry(), b.bytes.data() + off);
    if (b.count == 0) b.first_seq = e.seq;
    b.last_seq = e.seq;
    b.last_timestamp_ms = e.timestamp_ms;
    ++b.count;
    return true;
  });
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

uint64_t tier_confirmed(Wal&, std::string_view) {
  return 0;  // ADAPTER: the WAL keeps no tier marks yet
}

std::vector<SegmentInfo> delete_sealed_through(Wal&, uint64_t) {
  throw Error(ErrorCode::kInternal, "ADAPTER: the WAL cannot delete sealed segments yet");
}

}  // namespace strata::sync
