// The WAL's maintenance operations (wal/wal_impl.h): truncate_after,
// compaction (the streaming pass is wal/compaction.h; here it is installed),
// pins, deletion of sealed segments, start_after and import. Each takes
// admin_mu_ (pin_sealed_since only pin_mu_), so at most one of them replaces
// or removes segments at a time; file I/O runs without mu_ where the
// comments say so.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/error.h"
#include "wal/compaction.h"
#include "wal/dir_state.h"
#include "wal/record_format.h"
#include "wal/segment_reader.h"
#include "wal/wal_impl.h"

namespace strata::wal {

void WalImpl::truncate_after(uint64_t seq) {
  // Readers work on the files without mu_; cutting a file under one of them
  // would show it a torn record or entries of the new history.
  WriterLock readers(history_mu_);
  MutexLock admin(admin_mu_);
  MutexLock marks_lock(marks_mu_);
  MutexLock lk(mu_);
  check_open_locked();
  drain_locked(lk);
  if (seq >= pipe_.next_seq() - 1) return;
  // First tell readers of the old history (the materializer) that it is
  // gone, then lower the marks under the new history; a crash after this
  // only costs readers a rebuild. Nothing is cut yet if this fails.
  history_id_ = new_history_id();
  write_history_id(fs_, opt_.dir, history_id_);
  marks_.clamp(seq);
  store_marks(Marks{history_id_, marks_.marks()});
  try {
    // Newest first, so a crash part-way leaves a shorter but consistent log.
    std::vector<std::shared_ptr<Segment>> all = sealed_;
    all.push_back(active_.segment());
    while (!all.empty() && all.back()->base_seq > seq) {
      auto s = all.back();
      all.pop_back();
      s->file.reset();
      fs_.remove(seg_path(s->name));
      fs_.sync_dir(opt_.dir);
    }
    if (all.empty()) {
      sealed_.clear();
      sealed_bytes_ = 0;
      active_.create(seq + 1);
    } else {
      auto keep = all.back();
      all.pop_back();
      sealed_.assign(all.begin(), all.end());
      sealed_bytes_ = 0;
      for (const auto& s : sealed_) sealed_bytes_ += s->size;
      // Find where the records after seq start.
      std::string name = keep->name;
      auto file = std::shared_ptr<File>(
          fs_.open(seg_path(name), keep->sealed ? OpenMode::kRead : OpenMode::kReadWrite));
      const uint64_t end = keep->sealed ? keep->data_end : pipe_.written_end();
      RecordReader reader(*file, index_start(*keep, seq), end, kMaxBody);
      RecordView v;
      uint64_t off;
      uint64_t cut = index_start(*keep, seq);
      while (reader.next(&v, &off) == RecordReader::Result::kRecord && v.seq <= seq) {
        cut = reader.position();
      }
      if (keep->sealed) {
        // A sealed segment's bytes never change (a remote may hold a copy
        // under its name): what stays goes to a new file with a new name,
        // which replaces it (see the open-time repair).
        name = new_segment_name(fs_, opt_.dir, keep->base_seq);
        const std::string tmp = seg_path(name) + ".trunc";
        copy_file_bytes(fs_, *file, tmp, cut);
        fs_.rename(tmp, seg_path(name));
        fs_.sync_dir(opt_.dir);
        keep->file.reset();
        file.reset();
        fs_.remove(seg_path(keep->name));
        fs_.sync_dir(opt_.dir);
        file = std::shared_ptr<File>(fs_.open(seg_path(name), OpenMode::kReadWrite));
      } else {
        file->truncate(cut);
        file->sync();
      }
      uint64_t prev_last = sealed_.empty() ? 0 : sealed_.back()->last_seq;
      TailScan scan =
          scan_segment(*file, keep->base_seq, prev_last, kMaxBody, false, /*hash=*/true);
      active_.adopt(name, keep->base_seq, file, scan, /*sha_valid=*/true);
    }
    // Compaction may have dropped seq itself: the head is seq all the same.
    pipe_.reset(active_.sink(), pipe_.written_end(), seq);
  } catch (const Error& e) {
    // Files may already be gone: nothing in memory describes the log now.
    stop_locked(fmt::format("truncate_after({}) failed part-way", seq), e);
  }
  spdlog::info("WAL {}: truncated after seq {}", opt_.dir, seq);
}

// ------------------------------------------------------------------ compact

CompactResult WalImpl::compact(bool force) {
  // admin_mu_ keeps delete_sealed_through and truncate_after away from the
  // inputs while they are read.
  MutexLock admin(admin_mu_);
  std::vector<CompactionInput> inputs;
  uint64_t floor;
  {
    MutexLock lk(mu_);
    check_open_locked();
    floor = force ? UINT64_MAX : marks_.floor();
    for (auto& s : sealed_) inputs.push_back({s, handles_.file_for(*s, sealed_)});
  }
  auto pinned = [&](size_t k) { return inputs[k].segment->pins.load() > 0; };
  auto install = [&](const CompactionOutput& out) {
    {
      // No pin may be taken on the inputs from here until they are replaced.
      MutexLock pins(pin_mu_);
      for (size_t k = out.first; k <= out.last; ++k) {
        if (pinned(k)) return false;
      }
      // The rename is the commit point (the open-time repair prefers the
      // output); the inputs are removed after readers stop using them.
      fs_.rename(out.temp_path, seg_path(out.segment->name));
      fs_.sync_dir(opt_.dir);
      MutexLock lk(mu_);
      auto first = std::find(sealed_.begin(), sealed_.end(), inputs[out.first].segment);
      auto last = std::find(sealed_.begin(), sealed_.end(), inputs[out.last].segment);
      if (first != sealed_.end() && last != sealed_.end()) {
        for (auto it = first; it <= last; ++it) sealed_bytes_ -= (*it)->size;
        *first = out.segment;
        sealed_.erase(first + 1, last + 1);
        sealed_bytes_ += out.segment->size;
      }
      metrics_.compaction_entries_dropped += out.entries_dropped;
    }
    for (size_t k = out.first; k <= out.last; ++k) {
      fs_.remove(seg_path(inputs[k].segment->name));
    }
    fs_.sync_dir(opt_.dir);
    return true;
  };
  CompactResult result =
      compact_segments(fs_, opt_.dir, inputs, floor, opt_.segment_bytes, pinned, install);
  MutexLock lk(mu_);
  metrics_.compactions++;
  if (!inputs.empty()) {
    result.bytes_after = 0;
    for (const auto& s : sealed_) {
      if (s->base_seq <= inputs.back().segment->base_seq) result.bytes_after += s->size;
    }
  }
  return result;
}

SegmentPin WalImpl::pin_sealed_since(uint64_t since_seq) {
  MutexLock pins(pin_mu_);
  MutexLock lk(mu_);
  check_open_locked();
  std::vector<PinnedSegment> segments;
  std::vector<std::shared_ptr<Segment>> held;
  for (const auto& s : sealed_) {
    if (s->last_seq <= since_seq) continue;
    s->pins++;
    held.push_back(s);
    segments.push_back(PinnedSegment{info_of(*s), handles_.file_for(*s, sealed_)});
  }
  // The deleter only touches the segments it keeps alive, never the Wal.
  auto hold = std::shared_ptr<void>(nullptr, [held = std::move(held)](void*) {
    for (const auto& s : held) s->pins--;
  });
  return SegmentPin(std::move(segments), std::move(hold));
}

std::vector<SegmentInfo> WalImpl::delete_sealed_through(uint64_t seq) {
  MutexLock admin(admin_mu_);
  std::vector<std::shared_ptr<Segment>> victims;
  {
    MutexLock pins(pin_mu_);
    MutexLock lk(mu_);
    check_open_locked();
    const uint64_t bound = std::min(seq, marks_.floor());
    // Only a prefix: the rest of the log must stay one chain.
    size_t n = 0;
    while (n < sealed_.size() && sealed_[n]->last_seq <= bound && sealed_[n]->pins.load() == 0) {
      n++;
    }
    victims.assign(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(n));
    // Gone for readers before the files go (they hold open handles to what
    // they already planned to read).
    sealed_.erase(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(n));
    for (const auto& v : victims) sealed_bytes_ -= v->size;
    metrics_.sealed_segments_deleted += n;
  }
  std::vector<SegmentInfo> out;
  // Oldest first, each unlink made durable before the next, so a failure or
  // a power loss part-way leaves files that still form one chain with the
  // rest (opening simply finds them again). With one directory fsync at the
  // end, a power loss could keep a later unlink and undo an earlier one: an
  // old segment back in front of a gap, and a log that no longer opens.
  for (const auto& v : victims) {
    fs_.remove(seg_path(v->name));
    fs_.sync_dir(opt_.dir);
    out.push_back(info_of(*v));
  }
  return out;
}

void WalImpl::start_after(uint64_t seq) {
  MutexLock admin(admin_mu_);
  MutexLock lk(mu_);
  check_open_locked();
  cv_.wait(lk, [&]() REQUIRES(mu_) { return !importing_; });
  drain_locked(lk);
  if (!sealed_.empty() || active_->entries > 0 || seq < pipe_.next_seq() - 1) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("start_after({}): {}", seq,
                            seq < pipe_.next_seq() - 1
                                ? fmt::format("the log's head is already {}", pipe_.next_seq() - 1)
                                : std::string("the log holds entries")));
  }
  if (seq + 1 != pipe_.next_seq()) restart_empty_locked(seq + 1);
}

void WalImpl::restart_empty_locked(uint64_t base) {
  // Removed before the new one is made: a crash in between leaves an empty
  // log that starts at 1, never two unsealed segments.
  try {
    fs_.remove(seg_path(active_->name));
    fs_.sync_dir(opt_.dir);
    active_.create(base);
  } catch (const Error& e) {
    stop_locked(fmt::format("replacing the empty segment {} failed", active_->name), e);
  }
}

ImportResult WalImpl::import_framed(std::string_view framed) {
  // Everything is checked before anything is written.
  struct Rec {
    uint64_t seq;
    size_t off;
    size_t size;
  };
  std::vector<Rec> recs;
  for (size_t off = 0; off < framed.size();) {
    RecordView v;
    size_t size = 0;
    const auto st = decode_record(framed.data() + off, framed.size() - off, kMaxBody, &v, &size);
    if (st != DecodeStatus::kOk) {
      throw Error(ErrorCode::kWalCorrupt,
                  fmt::format("import: {} at byte {} of {}{}",
                              st == DecodeStatus::kTruncated ? "record cut short"
                              : st == DecodeStatus::kZero    ? "zero bytes instead of a record"
                                                             : "bad record (CRC or fields)",
                              off, framed.size(),
                              recs.empty() ? "" : fmt::format(" (after seq {})", recs.back().seq)));
    }
    if (!recs.empty() && v.seq != recs.back().seq + 1) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("import: seq {} at byte {} does not follow seq {} ({})", v.seq, off,
                              recs.back().seq, v.seq > recs.back().seq ? "a gap" : "an overlap"));
    }
    try {
      validate(v.type, v.op, v.path, v.data.size());
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("import: seq {} at byte {}: {}", v.seq, off, e.what()));
    }
    recs.push_back(Rec{v.seq, off, size});
    off += size;
  }
  if (recs.empty()) throw Error(ErrorCode::kInvalidArgument, "import: no records");

  MutexLock admin(admin_mu_);
  MutexLock lk(mu_);
  check_open_locked();
  cv_.wait(lk, [&]() REQUIRES(mu_) { return !importing_; });
  drain_locked(lk);
  const uint64_t first = recs.front().seq;
  const bool empty_log = sealed_.empty() && active_->entries == 0;
  if (first < pipe_.next_seq() || (!empty_log && first != pipe_.next_seq())) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("import: the records start at seq {} but the log's head is {}: {}",
                            first, pipe_.next_seq() - 1,
                            first < pipe_.next_seq() ? "they overlap it" : "there would be a gap"));
  }
  importing_ = true;
  struct Done {
    WalImpl& w;
    ~Done() {
      w.importing_ = false;
      w.cv_.notify_all();
    }
  } done{*this};
  // An empty log starts where the imported records start.
  if (first != pipe_.next_seq()) restart_empty_locked(first);
  // In pieces no larger than a segment allows, each written like a batch.
  const uint64_t piece_limit = std::max<uint64_t>(1, opt_.segment_bytes / 2);
  for (size_t i = 0; i < recs.size();) {
    size_t j = i;
    uint64_t bytes = recs[i].size;
    while (j + 1 < recs.size() && bytes + recs[j + 1].size <= piece_limit) bytes += recs[++j].size;
    reserve_locked(lk, bytes, /*importer=*/true);
    uint64_t off = active_end();
    char* out = pipe_.add(bytes);
    for (size_t k = i; k <= j; ++k) {
      std::memcpy(out, framed.data() + recs[k].off, recs[k].size);
      out += recs[k].size;
      maybe_index(active_->index, recs[k].seq, off);
      off += recs[k].size;
      if (active_->entries++ == 0) active_->first_seq = recs[k].seq;
      active_->last_seq = recs[k].seq;
    }
    pipe_.add_done(j - i + 1, recs[j].seq);
    active_->data_end = active_end();
    metrics_.imported_entries += j - i + 1;
    metrics_.bytes_written += bytes;
    pipe_.write_pending();
    i = j + 1;
  }
  drain_locked(lk);
  return ImportResult{first, recs.back().seq, recs.size()};
}

}  // namespace strata::wal
