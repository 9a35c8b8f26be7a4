// `strata verify`: reads every record of every segment and recomputes every
// sealed segment's SHA-256, without taking the WAL's lock or changing a byte.
#include <fmt/format.h>

#include "strata/error.h"
#include "strata/wal.h"
#include "wal/log_recovery.h"
#include "wal/record_format.h"
#include "wal/segment_file.h"
#include "wal/segment_reader.h"

namespace strata {

namespace {

using wal::kMaxBody;

bool fail(VerifyResult& r, const std::string& file, uint64_t offset, std::string problem) {
  r.ok = false;
  r.bad_file = file;
  r.bad_offset = offset;
  r.problem = std::move(problem);
  return false;
}

bool verify_sealed(File& file, uint64_t size, const wal::Trailer& t, VerifyResult& r) {
  uint64_t short_at = 0;
  const auto digest = wal::hash_file_prefix(file, size - wal::kTrailerSize + 48, &short_at);
  if (!digest) return fail(r, file.path(), short_at, "file shorter than its trailer says");
  // Records first: a damaged record is reported where it is; a mismatch
  // with every record intact has no one place to name.
  wal::RecordReader reader(file, wal::kHeaderSize, t.index_offset, kMaxBody);
  wal::RecordView v;
  uint64_t off = 0, count = 0, prev = 0;
  wal::RecordReader::Result res;
  while ((res = reader.next(&v, &off)) == wal::RecordReader::Result::kRecord) {
    if (v.seq <= prev) return fail(r, file.path(), off, "seqs do not increase");
    prev = v.seq;
    count++;
  }
  if (res != wal::RecordReader::Result::kEnd) return fail(r, file.path(), off, "bad record");
  if (count != t.entry_count) {
    return fail(r, file.path(), t.index_offset,
                fmt::format("trailer counts {} entries, found {}", t.entry_count, count));
  }
  if (digest->finish() != t.sha256) {
    fail(r, file.path(), 0,
         fmt::format("SHA-256 mismatch: the trailer says {}, the contents hash to {}; every "
                     "record checks, so the header, index or trailer was changed",
                     to_hex(t.sha256), to_hex(digest->finish())));
    r.offset_known = false;
    return false;
  }
  r.records += count;
  return true;
}

}  // namespace

VerifyResult Wal::verify(const std::string& dir, FileSystem* fs_opt) {
  FileSystem& fs = fs_opt ? *fs_opt : FileSystem::real();
  VerifyResult r;
  if (!is_directory_following_links(fs, dir)) {
    fail(r, dir, 0, "no WAL directory");
    r.offset_known = false;
    return r;
  }
  // The same listing and chain rules as opening: a segment that opening
  // would remove as redundant (covered by its replacement) is not checked.
  const wal::LogPlan plan = wal::plan_log(wal::list_segments(fs, dir), dir);
  if (plan.problem) {
    fail(r, plan.problem->file, 0, plan.problem->what);
    r.offset_known = false;
    return r;
  }
  for (const auto& s : plan.sealed) {
    const std::string path = wal::segment_path(dir, s->name);
    auto file = fs.open(path, OpenMode::kRead);
    const uint64_t size = file->size();
    r.segments++;
    wal::Trailer t;
    if (!wal::read_segment_trailer(*file, size, &t)) {
      fail(r, path, size, "trailer changed while verifying");
      return r;
    }
    if (!verify_sealed(*file, size, t, r)) return r;
  }
  if (!plan.tail) return r;
  const std::string path = wal::segment_path(dir, plan.tail->name);
  auto file = fs.open(path, OpenMode::kRead);
  r.segments++;
  wal::SegmentHeader h;
  if (!wal::read_segment_header(*file, &h)) {
    // Rotation killed between creating the next segment and writing its
    // header: the header is synced before any record, so such a file holds
    // nothing and opening removes it. A torn tail, not damage (issue #14:
    // recovery took it for damage and gave the log a new lineage).
    const uint64_t size = file->size();
    if (size < wal::kHeaderSize || wal::non_zero_extent(*file, 0, size) == 0) {
      r.dropped.push_back(DroppedRange{path, 0, size, 0, 0, true});
      fail(r, path, 0,
           fmt::format("torn tail: {} bytes of a segment whose creation did not finish, no "
                       "record in them (opening the WAL for writing removes the file)",
                       size));
      r.repairable = true;
      return r;
    }
    fail(r, path, 0, "bad segment header");
    return r;
  }
  if (h.base_seq != plan.tail->base) {
    fail(r, path, 0, "bad segment header");
    return r;
  }
  try {
    // Past corrupt records too, so that what a repair drops is listed.
    wal::TailScan scan = wal::scan_segment(*file, plan.tail->base, plan.tail_prev_last, kMaxBody,
                                           /*skip_corrupt=*/true, /*hash=*/false);
    r.records += scan.entries;
    for (size_t k = 0; k < scan.skipped.size(); ++k) {
      const auto [off, len] = scan.skipped[k];
      r.dropped.push_back(DroppedRange{path, off, len, scan.skipped_seqs[k].first,
                                       scan.skipped_seqs[k].second, false});
    }
    if (!scan.skipped.empty()) {
      fail(r, path, scan.skipped[0].first,
           fmt::format("corrupt record at offset {} ({} bytes) with valid records after it, "
                       "{} such in all (`strata repair` drops them and keeps a copy of the file)",
                       scan.skipped[0].first, scan.skipped[0].second, scan.skipped.size()));
    }
    if (scan.torn_bytes > 0) {
      r.dropped.push_back(DroppedRange{path, scan.torn_offset, scan.torn_bytes, 0, 0, true});
      if (r.ok) {
        fail(r, path, scan.torn_offset,
             fmt::format("torn tail: {} bytes after the last record{}, never acknowledged "
                         "(opening the WAL for writing cuts them)",
                         scan.torn_bytes,
                         scan.unwritten_block_end
                             ? fmt::format(", including records after a block that never "
                                           "reached the disk (ending at offset {})",
                                           scan.unwritten_block_end)
                             : ""));
      }
    }
    r.repairable = !r.ok;
  } catch (const Error& e) {
    fail(r, path, 0, e.what());  // the message names the place
    r.offset_known = false;
    r.dropped.clear();
    return r;
  }
  return r;
}

}  // namespace strata
