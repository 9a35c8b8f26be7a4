// Segment files: the in-memory description of one segment, creating a new
// one, loading a sealed one and sealing the active one (docs/format.md,
// "Segments").
//
// Contract: nothing here takes a lock or keeps state between calls; the
// caller owns the Segment objects and decides who may touch them. Reading
// functions (load_sealed_segment, digest_of_prefix) never write. Writing
// functions make what they wrote durable before they return (they say
// which syncs) and throw strata::Error on any failure, leaving the decision
// to stop the log to the caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "strata/error.h"
#include "strata/fs.h"
#include "strata/hash.h"
#include "strata/wal.h"
#include "wal/commit_pipeline.h"
#include "wal/record_format.h"

namespace strata::wal {

// Readers accept any record body up to the largest WAL_MAX_ENTRY_BYTES
// allowed, so lowering the setting never makes old records unreadable.
inline constexpr uint64_t kMaxBody = kBodyFixed + (1ull << 30);

struct Segment {
  std::string name;
  uint64_t base_seq = 0;
  uint64_t first_seq = 0;  // first entry present, 0 when none
  uint64_t last_seq = 0;   // sealed: end of the covered range; active: last entry (or base-1)
  uint64_t entries = 0;
  uint64_t data_end = 0;  // end of records
  uint64_t size = 0;      // sealed: file size
  bool sealed = false;
  Sha256Digest sha{};
  std::vector<std::pair<uint64_t, uint64_t>> index;  // (seq, offset), sparse
  std::shared_ptr<File> file;  // may be null for sealed segments (opened on demand)
  // Active segment only: one descriptor per concurrent fdatasync, opened
  // before any write through `file` (so each reports every later writeback
  // error: Linux errseq_t).
  std::vector<std::shared_ptr<File>> sync_files;
  // Sealed segments only: live SegmentPins holding it. Compaction and
  // deletion leave a pinned segment in place.
  std::atomic<int> pins{0};
};

SegmentInfo info_of(const Segment& s);

// The offset to scan from for seq: that of the largest indexed seq <= seq
// (the first record when there is none).
uint64_t index_start(const Segment& s, uint64_t seq);

// The one error for a record that fails its checks where the log says a
// record is (a sealed segment, or below what the log acknowledged).
Error unreadable_record(const File& file, uint64_t offset);

inline std::string segment_path(const std::string& dir, const std::string& name) {
  return dir + "/" + name;
}

// A name for a new segment file with this base that no file in dir has.
std::string new_segment_name(FileSystem& fs, const std::string& dir, uint64_t base);

// The sealed segment `name` in dir (header, trailer and sparse index read,
// file not kept open); nullptr when it is not a whole sealed segment with
// this base (a bad or missing header or trailer, a short index). Read-only.
std::shared_ptr<Segment> load_sealed_segment(FileSystem& fs, const std::string& dir,
                                             const std::string& name, uint64_t base);

// Creates a new empty segment for `base` under a new name: header written,
// the file fsynced, then the directory, so the segment survives a power loss
// before any record goes into it. *header_sha gets the digest of the header
// (the start of the digest sealing needs). The result has `file` open for
// reading and writing and no sync_files.
std::shared_ptr<Segment> create_segment(FileSystem& fs, const std::string& dir, uint64_t base,
                                        Sha256* header_sha);

// Spare files: the next segment, made ahead of rotation (wal/active_segment.h)
// under a name opening removes as a leftover; empty, or zero-filled and
// synced, and not yet a segment.
inline constexpr std::string_view kSpareSuffix = ".spare";
// A name for a new spare file in dir that no file has.
std::string new_spare_name(FileSystem& fs, const std::string& dir);

// Turns the spare file (open read-write, all zeros or empty) into a new
// empty segment for `base`, as create_segment would: the header written and
// fdatasynced, then the file renamed to a new segment name and the directory
// fsynced. The result has `file` set to spare_file; *header_sha as for
// create_segment. Throws on failure (the spare may be left behind, to be
// removed at the next open).
std::shared_ptr<Segment> segment_from_spare(FileSystem& fs, const std::string& dir,
                                            const std::string& spare_name,
                                            std::shared_ptr<File> spare_file, uint64_t base,
                                            Sha256* header_sha);

// The sparse index and trailer that seal s when its records end at
// index_offset; digest_so_far covers the file up to there. The bytes go to
// *tail (index then trailer).
Trailer encode_index_and_trailer(const Segment& s, uint64_t index_offset,
                                 const Sha256& digest_so_far, std::string* tail);

// Seals s, whose records end at data_end and hash to digest_so_far: writes
// index and trailer after them, fdatasyncs, cuts any preallocated space
// behind the trailer and fsyncs. Sets s.sealed, size, sha and data_end and
// drops its sync_files. Two syncs; throws on failure (s unchanged then).
void seal_segment(Segment& s, uint64_t data_end, const Sha256& digest_so_far);

// Zero-fills [from, to) of the file (no sync).
void write_zeros(File& file, uint64_t from, uint64_t to);

// The digest of the file's first `end` bytes, which must all be there
// (kWalCorrupt naming the file if it is shorter).
Sha256 digest_of_prefix(File& file, uint64_t end);

// Copies the first `size` bytes of `from` into a new file `to` (created or
// truncated) and fsyncs it; the directory is not synced.
void copy_file_bytes(FileSystem& fs, File& from, const std::string& to, uint64_t size);

// The active segment as the commit pipeline's sink: writes go through
// segment->file, a sync through sync_files[slot] (through file when there are
// none), and the digest of what was written is kept for sealing. Open does
// not hash the unsealed tail it finds (open time would grow with it):
// `sha_valid` false makes digest() hash the file instead.
class SegmentSink final : public CommitSink {
 public:
  SegmentSink(std::shared_ptr<Segment> segment, Sha256 sha, bool sha_valid)
      : seg_(std::move(segment)), sha_(std::move(sha)), sha_valid_(sha_valid) {}
  void write(std::string_view bytes, uint64_t offset) override;
  void sync(size_t slot) override;
  std::string name() const override { return seg_->name; }
  // The digest of the segment's first `end` bytes, all written through this
  // sink or there before it; only while no write is in flight.
  Sha256 digest(uint64_t end);

 private:
  std::shared_ptr<Segment> seg_;
  Sha256 sha_;
  bool sha_valid_;
};

}  // namespace strata::wal
