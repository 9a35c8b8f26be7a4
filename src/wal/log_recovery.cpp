#include "wal/log_recovery.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "strata/error.h"
#include "wal/record_format.h"

namespace strata::wal {

DirListing list_segments(FileSystem& fs, const std::string& dir) {
  DirListing out;
  for (const auto& name : fs.list_dir(dir)) {
    uint64_t base = 0;
    if (parse_segment_file_name(name, &base)) {
      out.segments.push_back(ListedSegment{base, name, load_sealed_segment(fs, dir, name, base)});
    } else if (name.ends_with(".compact") || name.ends_with(".repair") ||
               name.ends_with(".trunc") || name.ends_with(kSpareSuffix) ||
               (name.starts_with('.') && name.find(kTempMarker) != std::string::npos)) {
      out.leftovers.push_back(name);
    }
  }
  std::sort(out.segments.begin(), out.segments.end(),
            [](const ListedSegment& x, const ListedSegment& y) {
              if (x.base != y.base) return x.base < y.base;
              if (!x.sealed || !y.sealed) return x.sealed != nullptr && y.sealed == nullptr;
              if (x.sealed->last_seq != y.sealed->last_seq) {
                return x.sealed->last_seq > y.sealed->last_seq;
              }
              if (x.sealed->entries != y.sealed->entries) {
                return x.sealed->entries < y.sealed->entries;
              }
              return x.name < y.name;
            });
  return out;
}

LogPlan plan_log(const DirListing& listing, const std::string& dir) {
  LogPlan plan;
  auto chain_problem = [&](const std::string& name, uint64_t base, uint64_t prev_last) {
    plan.problem = LogProblem{
        segment_path(dir, name),
        fmt::format("segment starts at seq {} but the previous one ends at {}", base, prev_last)};
    return plan;
  };
  uint64_t prev_last = 0;
  const auto& found = listing.segments;
  for (size_t i = 0; i < found.size(); ++i) {
    const auto& [base, name, s] = found[i];
    if (s) {
      if (!plan.sealed.empty() && s->last_seq <= prev_last) {
        plan.redundant.emplace_back(
            name, fmt::format("removed {}: its range is covered by {} (its compacted replacement)",
                              name, plan.sealed.back()->name));
        continue;
      }
      if (!plan.sealed.empty() && base != prev_last + 1)
        return chain_problem(name, base, prev_last);
      prev_last = s->last_seq;
      plan.sealed.push_back(s);
      continue;
    }
    if (i + 1 != found.size()) {
      plan.problem = LogProblem{segment_path(dir, name),
                                "segment is not sealed (bad header or trailer) but newer "
                                "segments follow it"};
      return plan;
    }
    if (!plan.sealed.empty() && plan.sealed.back()->base_seq == base) {
      // truncate_after into a sealed segment writes the records it keeps to
      // a new file and then removes the sealed one; it stopped in between.
      plan.redundant.emplace_back(
          plan.sealed.back()->name,
          fmt::format("removed {}: an interrupted truncate_after had already replaced it with {}",
                      plan.sealed.back()->name, name));
      plan.sealed.pop_back();
      prev_last = plan.sealed.empty() ? 0 : plan.sealed.back()->last_seq;
    }
    if (!plan.sealed.empty() && base != prev_last + 1) return chain_problem(name, base, prev_last);
    plan.tail = found[i];
    plan.tail_prev_last = prev_last;
  }
  return plan;
}

Error log_problem_error(const LogProblem& p) {
  return Error(ErrorCode::kWalCorrupt, fmt::format("{}: {}", p.file, p.what));
}

void remove_redundant(FileSystem& fs, const std::string& dir, const DirListing& listing,
                      const LogPlan& plan, OpenReport& rep) {
  for (const auto& name : listing.leftovers) {
    fs.remove(segment_path(dir, name));
    if (!name.starts_with('.'))
      rep.notes.push_back(fmt::format("removed unfinished output {}", name));
  }
  for (const auto& [name, note] : plan.redundant) {
    fs.remove(segment_path(dir, name));
    rep.notes.push_back(note);
  }
  if (!plan.redundant.empty()) fs.sync_dir(dir);
}

namespace {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Sealing wrote a trailer after the records but did not cut the
// preallocated space behind it. True when the seal is whole (every byte what
// sealing these records writes) and was finished: the file is cut after the
// trailer and synced.
bool finish_seal(File& file, uint64_t base, const TailScan& scan) {
  Trailer t;
  char buf[kTrailerSize];
  uint64_t trailer_off = 0;
  // The trailer sits after the index that follows the records.
  for (uint64_t off = scan.end;; off += kIndexEntrySize) {
    if (file.pread(buf, kTrailerSize, off) != kTrailerSize) break;
    if (decode_trailer(buf, &t) && t.index_offset == scan.end) {
      trailer_off = off;
      break;
    }
  }
  if (trailer_off == 0) return false;
  // A crash between writing index + trailer and syncing them may have kept
  // the trailer's page and lost an index page.
  Segment expect;
  expect.entries = scan.entries;
  expect.first_seq = scan.first_seq;
  expect.last_seq = scan.entries ? scan.last_seq : base - 1;
  expect.index = scan.index;
  std::string tail, on_disk;
  encode_index_and_trailer(expect, scan.end, digest_of_prefix(file, scan.end), &tail);
  on_disk.resize(tail.size());
  on_disk.resize(file.pread(on_disk.data(), on_disk.size(), scan.end));
  if (trailer_off + kTrailerSize != scan.end + tail.size() || on_disk != tail) return false;
  file.truncate(trailer_off + kTrailerSize);
  file.sync();
  return true;
}

// Readers walk records back to back, so corrupt bytes cannot stay in place:
// keeps the damaged file for inspection and replaces the segment with one
// holding only the good records.
void rewrite_without(FileSystem& fs, const std::string& dir, const std::string& path, File& file,
                     const TailScan& scan, OpenReport& rep) {
  const std::string kept = fmt::format("{}.corrupt-{}", path, now_ms());
  copy_file_bytes(fs, file, kept, file.size());
  rep.damaged_copy = kept;
  const std::string tmp = path + ".repair";
  {
    auto out = fs.open(tmp, OpenMode::kCreateTrunc);
    std::string buf;
    uint64_t from = 0;
    auto copy_range = [&](uint64_t a, uint64_t b) {
      buf.resize(b - a);
      file.pread(buf.data(), buf.size(), a);
      out->pwrite(buf.data(), buf.size(), from);
      from += buf.size();
    };
    uint64_t pos = 0;
    for (const auto& [off, len] : scan.skipped) {
      copy_range(pos, off);
      pos = off + len;
    }
    copy_range(pos, scan.end);
    out->sync();
  }
  fs.rename(tmp, path);
  fs.sync_dir(dir);
  rep.notes.push_back(fmt::format(
      "rewrote {} without the corrupt records; the damaged file is kept as {}", path, kept));
}

}  // namespace

RepairedTail repair_tail(FileSystem& fs, const std::string& dir, const std::string& name,
                         uint64_t base, uint64_t prev_last, bool skip_corrupt, OpenReport& rep) {
  const std::string path = segment_path(dir, name);
  RepairedTail out;
  auto file = std::shared_ptr<File>(fs.open(path, OpenMode::kReadWrite));
  SegmentHeader h;
  if (!read_segment_header(*file, &h)) {
    // A segment whose creation did not finish: nothing acknowledged is in it
    // because its header is synced before any record is written. Only a file
    // shorter than a header or all zeros looks like that; a damaged header
    // in front of records is corruption.
    if (file->size() < kHeaderSize || non_zero_extent(*file, 0, file->size()) == 0) {
      file.reset();
      fs.remove(path);
      fs.sync_dir(dir);
      rep.notes.push_back(fmt::format("removed {}: its creation did not finish", name));
      return out;
    }
    throw Error(ErrorCode::kWalCorrupt, fmt::format("{}: bad segment header", path));
  }
  if (h.base_seq != base) {
    throw Error(ErrorCode::kWalCorrupt, fmt::format("{}: header says base seq {}, the name says {}",
                                                    path, h.base_seq, base));
  }
  TailScan scan = scan_segment(*file, base, prev_last, kMaxBody, skip_corrupt, /*hash=*/false);
  if (scan.sealed_trailer_found) {
    if (finish_seal(*file, base, scan)) {
      rep.notes.push_back(fmt::format("finished sealing {}", name));
      file.reset();
      out.sealed = load_sealed_segment(fs, dir, name, base);
      if (!out.sealed) {
        throw Error(ErrorCode::kWalCorrupt, fmt::format("{}: cannot finish sealing", path));
      }
      return out;
    }
    // Only the records are trusted: drop the half-written seal; the segment
    // stays active and is sealed again when it rotates.
    file->truncate(scan.end);
    file->sync();
    rep.notes.push_back(fmt::format(
        "{}: dropped an unfinished seal whose index or trailer did not reach the disk whole",
        name));
  }
  for (size_t k = 0; k < scan.skipped.size(); ++k) {
    const auto [off, len] = scan.skipped[k];
    rep.corrupt_records_skipped++;
    rep.dropped.push_back(DroppedRange{path, off, len, scan.skipped_seqs[k].first,
                                       scan.skipped_seqs[k].second, false});
    rep.notes.push_back(
        fmt::format("skipped corrupt record in {} at offset {} ({} bytes)", path, off, len));
  }
  if (!scan.skipped.empty()) {
    rewrite_without(fs, dir, path, *file, scan, rep);
    file = std::shared_ptr<File>(fs.open(path, OpenMode::kReadWrite));
    scan = scan_segment(*file, base, prev_last, kMaxBody, false, /*hash=*/false);
  }
  if (scan.torn_bytes > 0) {
    rep.dropped.push_back(DroppedRange{path, scan.torn_offset, scan.torn_bytes, 0, 0, true});
    rep.torn_bytes_dropped += scan.torn_bytes;
    rep.torn_file = path;
    rep.torn_offset = scan.torn_offset;
    if (scan.unwritten_block_end > 0) {
      rep.notes.push_back(fmt::format(
          "cut torn tail of {} at offset {}: {} bytes dropped, among them records after a "
          "block that never reached the disk (ending at offset {}), so none of them had been "
          "synced",
          path, scan.torn_offset, scan.torn_bytes, scan.unwritten_block_end));
    } else {
      rep.notes.push_back(fmt::format("cut torn tail of {} at offset {}: {} bytes dropped", path,
                                      scan.torn_offset, scan.torn_bytes));
    }
    file->truncate(scan.end);
    file->sync();
  }
  // What the scan found may be in the page cache only (a process killed
  // between a group's write and its fdatasync): make it durable before it is
  // acknowledged to anyone, or a later power loss could take back seqs that
  // readers and remote tiers have already seen.
  file->sync_data();
  out.file = std::move(file);
  out.scan = std::move(scan);
  return out;
}

}  // namespace strata::wal
