// The byte layout of WAL segments (docs/format.md is the reference). All
// integers are little-endian. Nothing here does I/O.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "strata/entry.h"
#include "strata/hash.h"

namespace strata::wal {

inline constexpr char kSegmentMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'W', 'L'};
inline constexpr char kTrailerMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'F', 'T'};
inline constexpr uint32_t kFormatVersion = 1;

inline constexpr size_t kHeaderSize = 32;
inline constexpr size_t kFrameSize = 8;   // crc32c u32, body length u32
inline constexpr size_t kBodyFixed = 20;  // seq u64, timestamp u64, type u8, op u8, path_len u16
inline constexpr size_t kRecordOverhead = kFrameSize + kBodyFixed;
inline constexpr size_t kIndexEntrySize = 16;  // seq u64, offset u64
inline constexpr size_t kTrailerSize = 88;
// A sparse index entry is written for the first record at or past every
// kIndexStride bytes, so read_entry scans at most that much.
inline constexpr uint64_t kIndexStride = 64 * 1024;

inline void put_u16(char* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}
inline void put_u32(char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
inline void put_u64(char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
}
inline uint16_t get_u16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t get_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t get_u64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

static_assert(std::endian::native == std::endian::little, "the format is little-endian");

// "00000000000000000042-1f0c9a3b5d7e6f80.seg": the base seq in fixed width
// (names sort by seq) and a random id chosen when the file is created, so
// that a name is never given to a second file (docs/format.md, "Segment
// names").
std::string segment_file_name(uint64_t base_seq, uint64_t id);
// Parses a segment file name, also the id-less "00000000000000000042.seg" of
// directories written before ids existed; false if the name is not one.
bool parse_segment_file_name(std::string_view name, uint64_t* base_seq);

struct SegmentHeader {
  uint64_t base_seq = 0;
};
void encode_header(const SegmentHeader& h, char out[kHeaderSize]);
// False when magic, version or CRC do not match.
bool decode_header(const char in[kHeaderSize], SegmentHeader* h);

struct Trailer {
  uint64_t entry_count = 0;
  uint64_t first_seq = 0;     // first entry present, 0 when none
  uint64_t last_seq = 0;      // last seq of the range the segment covers
  uint64_t index_offset = 0;  // end of records, start of the sparse index
  uint64_t index_count = 0;
  Sha256Digest sha256{};  // over every byte of the file before this field
};
// Writes the trailer; `digest_so_far` has hashed the file up to the trailer,
// and is extended with the trailer's first 48 bytes to produce the digest.
void encode_trailer(Trailer& t, const Sha256& digest_so_far, char out[kTrailerSize]);
bool decode_trailer(const char in[kTrailerSize], Trailer* t);

using RecordView = EntryView;

inline size_t record_size(size_t path_len, size_t data_len) {
  return kRecordOverhead + path_len + data_len;
}
// Writes one record (record_size bytes) at out.
void encode_record(uint64_t seq, uint64_t timestamp_ms, const Entry& e, char* out);

enum class DecodeStatus {
  kOk,
  kZero,       // the frame is all zero bytes: preallocated space, no record
  kTruncated,  // the buffer ends inside the record
  kBad,        // CRC mismatch or impossible fields
};
// Decodes the record at p (avail bytes readable). On kOk sets *size.
DecodeStatus decode_record(const char* p, size_t avail, uint64_t max_body, RecordView* out,
                           size_t* size);

}  // namespace strata::wal
