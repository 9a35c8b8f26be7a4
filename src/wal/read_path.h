// The read path: which files and byte ranges hold a range of seqs (read
// plans), the open handles of sealed segments kept for reads, and the record
// loops over a plan (point reads; every record after a seq up to a bound).
//
// Contract: planning (plan_reads, HandleCache) runs under the WAL's mutex
// (mu_), because it looks at the segment list and the active segment; the
// record loops run without it, on the handles the plans hold, while the
// caller holds history_mu_ shared so no truncation cuts a file under them.
// A record that fails its checks inside a planned range is reported with
// unreadable_record (kWalCorrupt); the loops never write.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/fs.h"
#include "strata/wal.h"
#include "wal/record_format.h"
#include "wal/segment_file.h"

namespace strata::wal {

using SegmentList = std::vector<std::shared_ptr<Segment>>;

// Where to look for records: a file and a byte range.
struct ReadPlan {
  std::shared_ptr<File> file;
  uint64_t start = 0;
  uint64_t end = 0;
};

// Sealed-segment handles, opened on the first read and kept; once
// kMaxCachedHandles are open, every cached one is dropped (a reader holding
// one keeps it alive). Under mu_.
class HandleCache {
 public:
  HandleCache(FileSystem& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  // s.file, opened read-only if it is not open; `sealed` is the list whose
  // handles are dropped when the cache is full.
  std::shared_ptr<File> file_for(Segment& s, const SegmentList& sealed);
  // A segment that joins the sealed list with its handle still open (the
  // active one at rotation).
  void count_open() { open_++; }

 private:
  FileSystem& fs_;
  const std::string dir_;
  size_t open_ = 0;
};

// What of the active segment readers may see: records up to ack_seq, which
// end at ack_end.
struct ActiveView {
  const Segment* segment = nullptr;
  uint64_t ack_seq = 0;
  uint64_t ack_end = 0;
};

// The segments holding seqs >= from_seq, oldest first, at most max_plans.
// Under mu_.
std::vector<ReadPlan> plan_reads(const SegmentList& sealed, const ActiveView& active,
                                 uint64_t from_seq, HandleCache& handles,
                                 size_t max_plans = SIZE_MAX);

// The entry with this seq from plans made for it (plan_reads(seq, 1)), or
// nullopt when they do not hold it (compaction dropped it). Without mu_.
std::optional<Entry> read_point(const std::vector<ReadPlan>& plans, uint64_t seq);

// Calls fn(record, raw bytes) for each record with after_seq < seq <= upto
// in the plans, in seq order, until fn returns false. Without mu_.
void for_each_record(const std::vector<ReadPlan>& plans, uint64_t after_seq, uint64_t upto,
                     const std::function<bool(const RecordView&, std::string_view)>& fn);

}  // namespace strata::wal
