#include "wal/read_path.h"

#include <algorithm>

#include "wal/segment_reader.h"

namespace strata::wal {
namespace {

// Point reads scan from the sparse index entry before the record, so one
// read of a stride (plus a typical record) usually finds it.
constexpr size_t kPointReadBytes = kIndexStride + 4096;
// Open sealed-segment handles kept for reads before the cache is dropped.
constexpr size_t kMaxCachedHandles = 128;

}  // namespace

std::shared_ptr<File> HandleCache::file_for(Segment& s, const SegmentList& sealed) {
  if (!s.file) {
    if (open_ >= kMaxCachedHandles) {
      for (auto& seg : sealed) seg->file.reset();
      open_ = 0;
    }
    s.file = fs_.open(segment_path(dir_, s.name), OpenMode::kRead);
    open_++;
  }
  return s.file;
}

std::vector<ReadPlan> plan_reads(const SegmentList& sealed, const ActiveView& active,
                                 uint64_t from_seq, HandleCache& handles, size_t max_plans) {
  std::vector<ReadPlan> plans;
  auto it = std::upper_bound(sealed.begin(), sealed.end(), from_seq,
                             [](uint64_t v, const auto& s) { return v < s->base_seq; });
  if (it != sealed.begin()) --it;
  for (; it != sealed.end() && plans.size() < max_plans; ++it) {
    Segment& s = **it;
    if (s.last_seq < from_seq || s.entries == 0) continue;
    plans.push_back({handles.file_for(s, sealed), index_start(s, from_seq), s.data_end});
  }
  const Segment& a = *active.segment;
  if (plans.size() < max_plans && a.entries > 0 && a.first_seq <= active.ack_seq &&
      from_seq <= active.ack_seq && active.ack_end > kHeaderSize) {
    plans.push_back({a.file, index_start(a, from_seq), active.ack_end});
  }
  return plans;
}

std::optional<Entry> read_point(const std::vector<ReadPlan>& plans, uint64_t seq) {
  for (const auto& p : plans) {
    RecordReader reader(*p.file, p.start, p.end, kMaxBody, kPointReadBytes);
    RecordView v;
    uint64_t off;
    RecordReader::Result r;
    while ((r = reader.next(&v, &off)) == RecordReader::Result::kRecord) {
      if (v.seq == seq) return v.to_entry();
      if (v.seq > seq) return std::nullopt;
    }
    if (r != RecordReader::Result::kEnd) throw unreadable_record(*p.file, off);
  }
  return std::nullopt;
}

void for_each_record(const std::vector<ReadPlan>& plans, uint64_t after_seq, uint64_t upto,
                     const std::function<bool(const RecordView&, std::string_view)>& fn) {
  for (const auto& p : plans) {
    RecordReader reader(*p.file, p.start, p.end, kMaxBody);
    RecordView v;
    uint64_t off;
    RecordReader::Result r;
    while ((r = reader.next(&v, &off)) == RecordReader::Result::kRecord) {
      if (v.seq <= after_seq) continue;
      if (v.seq > upto || !fn(v, reader.raw())) return;
    }
    if (r != RecordReader::Result::kEnd) throw unreadable_record(*p.file, off);
  }
}

}  // namespace strata::wal
