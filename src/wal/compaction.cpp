#include "wal/compaction.h"

#include <unordered_map>
#include <unordered_set>

#include "strata/error.h"
#include "wal/record_format.h"
#include "wal/segment_reader.h"

namespace strata::wal {
namespace {

// Output bytes are written in chunks of about this size.
constexpr size_t kWriteChunk = 1 << 20;

template <typename Fn>
void for_each_record(const CompactionInput& in, const Fn& fn) {
  RecordReader reader(*in.file, kHeaderSize, in.segment->data_end, kMaxBody);
  RecordView v;
  uint64_t off;
  RecordReader::Result r;
  while ((r = reader.next(&v, &off)) == RecordReader::Result::kRecord) fn(v, reader.raw());
  if (r != RecordReader::Result::kEnd) throw unreadable_record(*in.file, off);
}

// Appends to a file through one buffer, hashing everything it writes.
class StreamWriter {
 public:
  explicit StreamWriter(File& file) : file_(file) { buf_.reserve(kWriteChunk); }
  uint64_t position() const { return written_ + buf_.size(); }
  void append(std::string_view bytes) {
    buf_.append(bytes);
    if (buf_.size() >= kWriteChunk) flush();
  }
  void flush() {
    if (buf_.empty()) return;
    sha_.update(buf_.data(), buf_.size());
    file_.pwrite(buf_.data(), buf_.size(), written_);
    written_ += buf_.size();
    buf_.clear();
  }
  // The digest of everything appended (flushes first).
  const Sha256& digest() {
    flush();
    return sha_;
  }

 private:
  File& file_;
  std::string buf_;
  uint64_t written_ = 0;
  Sha256 sha_;
};

}  // namespace

CompactResult compact_segments(FileSystem& fs, const std::string& dir,
                               const std::vector<CompactionInput>& inputs, uint64_t floor,
                               uint64_t segment_bytes, const std::function<bool(size_t)>& pinned,
                               const std::function<bool(const CompactionOutput&)>& install) {
  CompactResult result;
  result.segments_before = result.segments_after = inputs.size();
  for (const auto& in : inputs) result.bytes_before += in.segment->size;
  result.bytes_after = result.bytes_before;
  if (inputs.empty()) return result;

  std::unordered_map<std::string, uint64_t> latest;
  for (const auto& in : inputs) {
    for_each_record(
        in, [&](const RecordView& v, std::string_view) { latest[std::string(v.path)] = v.seq; });
  }
  // Creating "a/b" removes a file "a", and deleting a directory removes what
  // is under it: an entry can change paths other than its own. Entries of a
  // path that is an ancestor or descendant of another path in the log are
  // therefore all kept; only paths with no such relative are compacted.
  std::unordered_set<std::string> tangled;
  for (const auto& [path, seq] : latest) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      std::string ancestor = path.substr(0, slash);
      if (latest.count(ancestor)) {
        tangled.insert(ancestor);
        tangled.insert(path);
      }
    }
  }
  auto dropped = [&](const RecordView& v) {
    std::string path(v.path);
    return latest[path] != v.seq && v.seq <= floor && !tangled.count(path);
  };
  std::vector<uint64_t> kept_bytes(inputs.size(), 0), drops(inputs.size(), 0);
  for (size_t i = 0; i < inputs.size(); ++i) {
    for_each_record(inputs[i], [&](const RecordView& v, std::string_view raw) {
      if (dropped(v)) {
        drops[i]++;
      } else {
        kept_bytes[i] += raw.size();
      }
    });
  }

  // Runs of whole unpinned inputs, each small enough for one segment.
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t i = 0; i < inputs.size();) {
    if (pinned(i)) {
      ++i;
      continue;
    }
    size_t j = i;
    uint64_t bytes = kept_bytes[i];
    while (j + 1 < inputs.size() && !pinned(j + 1) &&
           bytes + kept_bytes[j + 1] + kHeaderSize + kTrailerSize <= segment_bytes) {
      bytes += kept_bytes[++j];
    }
    runs.emplace_back(i, j);
    i = j + 1;
  }

  for (auto [gi, gj] : runs) {
    CompactionOutput out{gi, gj, std::make_shared<Segment>(), "", 0};
    for (size_t k = gi; k <= gj; ++k) out.entries_dropped += drops[k];
    if (out.entries_dropped == 0 && gi == gj) continue;
    Segment& seg = *out.segment;
    // A new name: the inputs' bytes stay what their names promised.
    seg.name = new_segment_name(fs, dir, inputs[gi].segment->base_seq);
    seg.base_seq = inputs[gi].segment->base_seq;
    seg.last_seq = inputs[gj].segment->last_seq;
    out.temp_path = segment_path(dir, seg.name) + ".compact";
    try {
      auto file = fs.open(out.temp_path, OpenMode::kCreateTrunc);
      StreamWriter w(*file);
      char header[kHeaderSize];
      encode_header(SegmentHeader{seg.base_seq}, header);
      w.append(std::string_view(header, kHeaderSize));
      for (size_t k = gi; k <= gj; ++k) {
        for_each_record(inputs[k], [&](const RecordView& v, std::string_view raw) {
          if (dropped(v)) return;
          maybe_index(seg.index, v.seq, w.position());
          if (seg.entries++ == 0) seg.first_seq = v.seq;
          w.append(raw);
        });
      }
      seg.data_end = w.position();
      std::string tail;
      const Trailer t = encode_index_and_trailer(seg, seg.data_end, w.digest(), &tail);
      w.append(tail);
      w.flush();
      file->sync();
      seg.sha = t.sha256;
      seg.size = seg.data_end + tail.size();
      seg.sealed = true;
    } catch (const Error&) {
      try {
        fs.remove(out.temp_path);
      } catch (const Error&) {  // opening removes it as an unfinished output
      }
      throw;
    }
    if (!install(out)) {
      fs.remove(out.temp_path);  // pinned meanwhile: the run stays as it is
      continue;
    }
    result.entries_dropped += out.entries_dropped;
    result.segments_after -= gj - gi;
  }
  return result;
}

}  // namespace strata::wal
