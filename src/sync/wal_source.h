// What the tier reads from the WAL: framed records for shipping, bounded by
// a byte budget and by the seq the sync decided to ship up to (entries
// appended while a sync runs wait for the next one: they may not be durable
// yet, and shipping a record the local disk can still lose would let the
// remote run ahead of the log).
#pragma once

#include <cstdint>

#include "strata/wal.h"
#include "sync/log_object.h"

namespace strata::sync {

// Whole records with seq in (after_seq, up_to], at most about `budget` bytes
// but always at least one record when there is one. count == 0 when none.
FramedBatch read_for_shipping(Wal& wal, uint64_t after_seq, uint64_t budget, uint64_t up_to);

// The timestamp of the first entry after seq, if there is one.
std::optional<uint64_t> first_timestamp_after(Wal& wal, uint64_t seq);

// The mark a tier confirmed (0 when none).
uint64_t tier_confirmed(Wal& wal, std::string_view tier);

// Deletes the sealed segments whose last seq is at or below seq (never the
// active one); returns them.
std::vector<SegmentInfo> delete_sealed_through(Wal& wal, uint64_t seq);

}  // namespace strata::sync
