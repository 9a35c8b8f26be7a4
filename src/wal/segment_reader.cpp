#include "wal/segment_reader.h"

#include <algorithm>

#include <fmt/format.h>

#include "strata/error.h"

namespace strata::wal {

RecordReader::RecordReader(File& file, uint64_t start, uint64_t end, uint64_t max_body,
                           size_t read_bytes)
    : file_(file),
      pos_(start),
      end_(end),
      max_body_(max_body),
      read_bytes_(std::max<size_t>(read_bytes, kFrameSize)),
      buf_off_(start) {}

bool RecordReader::fill(size_t need) {
  // Keep the unread part, then read until `need` bytes are buffered or the
  // range ends, in reads of at least read_bytes_.
  size_t unread = buf_len_ - static_cast<size_t>(pos_ - buf_off_);
  if (unread >= need) return true;
  size_t want = std::max<size_t>(need, read_bytes_);
  want = static_cast<size_t>(std::min<uint64_t>(want, end_ - pos_));
  if (buf_.size() < want) {
    std::string bigger(want, '\0');
    std::memcpy(bigger.data(), buf_.data() + (pos_ - buf_off_), unread);
    buf_.swap(bigger);
  } else {
    std::memmove(buf_.data(), buf_.data() + (pos_ - buf_off_), unread);
  }
  buf_off_ = pos_;
  buf_len_ = unread;
  if (want > unread) {
    buf_len_ += file_.pread(buf_.data() + unread, want - unread, pos_ + unread);
  }
  return buf_len_ >= need;
}

RecordReader::Result RecordReader::next(RecordView* view, uint64_t* offset) {
  *offset = pos_;
  if (pos_ >= end_) return Result::kEnd;
  fill(kFrameSize);
  size_t unread = buf_len_ - static_cast<size_t>(pos_ - buf_off_);
  const char* p = buf_.data() + (pos_ - buf_off_);
  size_t size = 0;
  DecodeStatus st = decode_record(p, unread, max_body_, view, &size);
  if (st == DecodeStatus::kTruncated && unread >= kFrameSize) {
    uint32_t body = get_u32(p + 4);
    if (fill(kFrameSize + body)) {
      p = buf_.data() + (pos_ - buf_off_);
      unread = buf_len_ - static_cast<size_t>(pos_ - buf_off_);
      st = decode_record(p, unread, max_body_, view, &size);
    }
  }
  switch (st) {
    case DecodeStatus::kOk:
      raw_ = std::string_view(p, size);
      pos_ += size;
      return Result::kRecord;
    case DecodeStatus::kZero:
      return Result::kZero;
    case DecodeStatus::kTruncated:
      return Result::kTruncated;
    case DecodeStatus::kBad:
      return Result::kBad;
  }
  return Result::kBad;
}

bool read_segment_header(File& file, SegmentHeader* header) {
  char buf[kHeaderSize];
  if (file.pread(buf, kHeaderSize, 0) != kHeaderSize) return false;
  return decode_header(buf, header);
}

bool read_segment_trailer(File& file, uint64_t size, Trailer* trailer) {
  if (size < kHeaderSize + kTrailerSize) return false;
  char buf[kTrailerSize];
  if (file.pread(buf, kTrailerSize, size - kTrailerSize) != kTrailerSize) return false;
  if (!decode_trailer(buf, trailer)) return false;
  return trailer->index_offset + trailer->index_count * kIndexEntrySize + kTrailerSize == size;
}

namespace {

// Looks for any valid record in [from, end) whose seq could follow prev_seq.
// Returns its offset or 0. Used only after a bad record, to tell a torn
// tail (nothing valid follows) from corruption in the middle of the log.
uint64_t find_valid_record(File& file, uint64_t from, uint64_t end, uint64_t prev_seq,
                           uint64_t max_body) {
  constexpr size_t kChunk = 1 << 20;
  std::string buf;
  for (uint64_t base = from; base < end; base += kChunk) {
    size_t want =
        static_cast<size_t>(std::min<uint64_t>(kChunk + kFrameSize + kBodyFixed, end - base));
    buf.resize(want);
    size_t got = file.pread(buf.data(), want, base);
    for (size_t i = 0; i < std::min<size_t>(got, kChunk); ++i) {
      if (got - i < kRecordOverhead) break;
      const char* p = buf.data() + i;
      uint32_t body = get_u32(p + 4);
      if (body < kBodyFixed || body > max_body || base + i + kFrameSize + body > end) continue;
      uint64_t seq = get_u64(p + kFrameSize);
      if (seq <= prev_seq || seq - prev_seq > (1ull << 32)) continue;
      std::string rec(kFrameSize + body, '\0');
      if (file.pread(rec.data(), rec.size(), base + i) != rec.size()) continue;
      RecordView v;
      size_t size;
      if (decode_record(rec.data(), rec.size(), max_body, &v, &size) == DecodeStatus::kOk) {
        return base + i;
      }
    }
  }
  return 0;
}

// The first kFileBlock boundary B in (from, to] such that the bytes
// [max(from, B - kFileBlock), B) are all zero, or 0 if there is none. After a
// crash, a block whose write never reached the disk reads back as it was
// before: the zeros of preallocation (or what was synced into its start).
uint64_t unwritten_block_end(File& file, uint64_t from, uint64_t to) {
  char buf[kFileBlock];
  for (uint64_t b = (from / kFileBlock + 1) * kFileBlock; b <= to; b += kFileBlock) {
    const uint64_t start = std::max(from, b - kFileBlock);
    const size_t n = static_cast<size_t>(b - start);
    if (n < kFrameSize) continue;  // too short to tell from a damaged header
    if (file.pread(buf, n, start) != n) return 0;
    if (std::all_of(buf, buf + n, [](char c) { return c == 0; })) return b;
  }
  return 0;
}

}  // namespace

uint64_t non_zero_extent(File& file, uint64_t from, uint64_t end) {
  constexpr size_t kChunk = 1 << 20;
  static const std::string kZeros(kChunk, '\0');
  std::string buf(kChunk, '\0');
  uint64_t last = from;
  for (uint64_t base = from; base < end; base += kChunk) {
    size_t got =
        file.pread(buf.data(), static_cast<size_t>(std::min<uint64_t>(kChunk, end - base)), base);
    if (std::memcmp(buf.data(), kZeros.data(), got) == 0) continue;
    for (size_t i = got; i > 0; --i) {
      if (buf[i - 1] != 0) {
        last = base + i;
        break;
      }
    }
  }
  return last - from;
}

std::optional<Sha256> hash_file_prefix(File& file, uint64_t end, uint64_t* short_at) {
  Sha256 sha;
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < end;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - off));
    if (file.pread(buf.data(), want, off) != want) {
      if (short_at) *short_at = off;
      return std::nullopt;
    }
    sha.update(buf.data(), want);
    off += want;
  }
  return sha;
}

TailScan scan_segment(File& file, uint64_t base_seq, uint64_t prev_seq, uint64_t max_body,
                      bool skip_corrupt, bool hash) {
  TailScan scan;
  const uint64_t size = file.size();
  char header[kHeaderSize];
  file.pread(header, kHeaderSize, 0);
  if (hash) scan.sha.update(header, kHeaderSize);
  uint64_t last = std::max(prev_seq, base_seq > 0 ? base_seq - 1 : 0);
  uint64_t pos = kHeaderSize;
  bool after_skip = false;  // the next record tells which seqs a skip lost
  while (true) {
    RecordReader reader(file, pos, size, max_body);
    RecordView v;
    uint64_t off = 0;
    RecordReader::Result r;
    while ((r = reader.next(&v, &off)) == RecordReader::Result::kRecord) {
      if (v.seq <= last) {
        r = RecordReader::Result::kBad;  // seqs must increase; a stale record is not ours
        break;
      }
      if (after_skip) {
        if (v.seq > last + 1) scan.skipped_seqs.back() = {last + 1, v.seq - 1};
        after_skip = false;
      }
      if (hash) scan.sha.update(reader.raw().data(), reader.raw().size());
      if (scan.entries == 0) scan.first_seq = v.seq;
      scan.entries++;
      scan.last_seq = last = v.seq;
      maybe_index(scan.index, v.seq, off);
      scan.end = reader.position();
    }
    if (r == RecordReader::Result::kEnd) return scan;
    // Something that is not a valid record starts at off. Preallocated
    // zeros after the last record are the normal end.
    if (r == RecordReader::Result::kZero && non_zero_extent(file, off, size) == 0) return scan;
    if (r == RecordReader::Result::kBad) {
      // Sealing writes the sparse index then the trailer right after the
      // records; at most one index entry per stride (plus the first).
      char maybe_trailer[kTrailerSize];
      Trailer t;
      for (uint64_t k = 0; k <= off / kIndexStride + 1; ++k) {
        if (file.pread(maybe_trailer, kTrailerSize, off + k * kIndexEntrySize) == kTrailerSize &&
            decode_trailer(maybe_trailer, &t) && t.index_offset == off && t.index_count == k) {
          scan.sealed_trailer_found = true;
          return scan;
        }
      }
    }
    uint64_t next = find_valid_record(file, off + 1, size, last, max_body);
    if (next == 0) {
      uint64_t torn = non_zero_extent(file, off, size);
      if (torn > 0) {
        scan.torn_offset = off;
        scan.torn_bytes = torn;
      }
      return scan;
    }
    if (const uint64_t hole = unwritten_block_end(file, off, next); hole != 0) {
      // Records after a lost write were never acknowledged: a group is
      // acknowledged only after an fdatasync that followed every earlier
      // write, and that would have made this block durable.
      scan.torn_offset = off;
      scan.torn_bytes = non_zero_extent(file, off, size);
      scan.unwritten_block_end = hole;
      return scan;
    }
    if (!skip_corrupt) {
      throw Error(ErrorCode::kWalCorrupt,
                  fmt::format("corrupt record in {} at offset {}: a valid record follows at "
                              "offset {} (`strata repair` drops it and keeps a copy of the "
                              "damaged file; in the library: open with skip_corrupt)",
                              file.path(), off, next));
    }
    scan.skipped.emplace_back(off, next - off);
    scan.skipped_seqs.emplace_back(0, 0);
    after_skip = true;
    // The skipped bytes stay in the file, so the digest must cover them to
    // describe the file as it is.
    if (hash) {
      std::string gap(next - off, '\0');
      file.pread(gap.data(), gap.size(), off);
      scan.sha.update(gap.data(), gap.size());
    }
    pos = next;
  }
}

}  // namespace strata::wal
