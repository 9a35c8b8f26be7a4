// Reading segment files: header and trailer, a buffered record reader, and
// the scan that finds where the valid records of an unsealed segment end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "strata/fs.h"
#include "wal/record_format.h"

namespace strata::wal {

// Reads [start, end) of a file record by record through a buffer.
class RecordReader {
 public:
  enum class Result { kRecord, kEnd, kZero, kTruncated, kBad };

  // Reads go in chunks of at least read_bytes: large for scans (sequential
  // I/O), about an index stride for point reads.
  RecordReader(File& file, uint64_t start, uint64_t end, uint64_t max_body,
               size_t read_bytes = 1 << 20);
  // On kRecord, *view stays valid until the next call. *offset is where the
  // record (or the problem) starts.
  Result next(RecordView* view, uint64_t* offset);
  uint64_t position() const { return pos_; }
  // The raw bytes of the record last returned (valid until the next call).
  std::string_view raw() const { return raw_; }

 private:
  bool fill(size_t need);
  File& file_;
  uint64_t pos_;
  uint64_t end_;
  uint64_t max_body_;
  size_t read_bytes_;
  std::string buf_;
  uint64_t buf_off_;  // file offset of buf_[0]
  size_t buf_len_ = 0;
  std::string_view raw_;
};

bool read_segment_header(File& file, SegmentHeader* header);
// Reads the trailer at the end of a file of `size` bytes; false if none valid.
bool read_segment_trailer(File& file, uint64_t size, Trailer* trailer);

// What scanning the records of an unsealed segment found.
struct TailScan {
  uint64_t end = kHeaderSize;  // offset just past the last good record
  uint64_t entries = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::vector<std::pair<uint64_t, uint64_t>> index;  // (seq, offset), sparse
  Sha256 sha;                                        // over [0, end), when hashing
  uint64_t torn_offset = 0;  // where an invalid tail starts (== end) when torn_bytes > 0
  uint64_t torn_bytes = 0;   // non-zero bytes after end that are not records
  // Non-zero when valid-looking records follow the cut but a file block
  // before them is unwritten (zeros up to this block boundary): a crash lost
  // that block's write, so what follows was never synced (see docs/format.md).
  uint64_t unwritten_block_end = 0;
  std::vector<std::pair<uint64_t, uint64_t>> skipped;  // (offset, bytes) of corrupt records
  // Per skipped range, the seqs missing between the records around it
  // (first, last); (0, 0) when none is (the seqs go on without a gap).
  std::vector<std::pair<uint64_t, uint64_t>> skipped_seqs;
  bool sealed_trailer_found = false;  // records end at a valid trailer
};

// Scans from the header to the end of the file. A bad record followed by a
// valid one is corruption: throws kWalCorrupt naming the file and offset,
// unless skip_corrupt (then it is skipped and listed). A bad or short record
// with nothing valid after it is a torn tail, reported but not yet cut; so is
// one followed by valid records when the bytes between them include a file
// block left unwritten (all zeros up to a kFileBlock boundary), which is what
// a crash does to writes that were never synced. `hash` fills scan.sha.
TailScan scan_segment(File& file, uint64_t base_seq, uint64_t prev_seq, uint64_t max_body,
                      bool skip_corrupt, bool hash = true);

// Bytes in [from, end) up to and including the last non-zero one (0: all
// zeros).
uint64_t non_zero_extent(File& file, uint64_t from, uint64_t end);

// SHA-256 of the file's first `end` bytes; nullopt if the file is shorter
// (then *short_at, if given, is the offset of the chunk that came up short).
std::optional<Sha256> hash_file_prefix(File& file, uint64_t end, uint64_t* short_at = nullptr);

// The unit in which a crash can lose unsynced writes (a page / fs block).
inline constexpr uint64_t kFileBlock = 4096;

// Adds (seq, offset) to a sparse index if the record is far enough from the
// previous indexed one.
inline void maybe_index(std::vector<std::pair<uint64_t, uint64_t>>& index, uint64_t seq,
                        uint64_t offset) {
  if (index.empty() || offset - index.back().second >= kIndexStride) {
    index.emplace_back(seq, offset);
  }
}

}  // namespace strata::wal
