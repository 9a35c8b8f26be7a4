#include "wal/active_segment.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/error.h"

namespace strata::wal {
namespace {

constexpr uint64_t kPreallocChunk = 4ull << 20;

}  // namespace

ActiveSegment::ActiveSegment(FileSystem& fs, const WalOptions& opt, CommitPipeline& pipe,
                             std::condition_variable& cv, std::condition_variable& bg_cv,
                             WalMetrics& metrics)
    : fs_(fs), opt_(opt), pipe_(pipe), cv_(cv), bg_cv_(bg_cv), metrics_(metrics) {}

std::vector<std::shared_ptr<File>> ActiveSegment::open_sync_files(const std::string& path) {
  // Opened before anything is written through the segment's file, so each
  // one has seen no writeback error yet and will report any later one.
  std::vector<std::shared_ptr<File>> files;
  const size_t n =
      opt_.sync == SyncMode::kAlways ? std::max<uint32_t>(1, opt_.syncs_in_flight) + 1 : 0;
  for (size_t i = 0; i < n; ++i) {
    files.push_back(std::shared_ptr<File>(fs_.open(path, OpenMode::kReadWrite)));
  }
  return files;
}

void ActiveSegment::create(uint64_t base) {
  Sha256 sha;
  seg_ = create_segment(fs_, opt_.dir, base, &sha);
  seg_->sync_files = open_sync_files(segment_path(opt_.dir, seg_->name));
  sink_ = std::make_shared<SegmentSink>(seg_, sha, true);
  pipe_.reset(sink_, kHeaderSize, base - 1);
  alloc_end_ = kHeaderSize;
  spare_refused_ = false;
}

void ActiveSegment::adopt(const std::string& name, uint64_t base, std::shared_ptr<File> file,
                          TailScan& scan, bool sha_valid) {
  auto s = std::make_shared<Segment>();
  s->name = name;
  s->base_seq = base;
  s->first_seq = scan.first_seq;
  s->last_seq = scan.entries ? scan.last_seq : base - 1;
  s->entries = scan.entries;
  s->data_end = scan.end;
  s->index = std::move(scan.index);
  s->file = file;
  s->sync_files = open_sync_files(segment_path(opt_.dir, name));
  seg_ = std::move(s);
  sink_ = std::make_shared<SegmentSink>(seg_, scan.sha, sha_valid);
  pipe_.reset(sink_, scan.end, seg_->last_seq);
  alloc_end_ = opt_.sync == SyncMode::kAlways ? std::max(file->size(), scan.end) : scan.end;
  spare_refused_ = false;
}

void ActiveSegment::install_spare(uint64_t base) {
  Spare sp = std::move(*spare_);
  spare_.reset();
  Sha256 sha;
  seg_ = segment_from_spare(fs_, opt_.dir, sp.name, sp.file, base, &sha);
  seg_->sync_files = std::move(sp.sync_files);
  sink_ = std::make_shared<SegmentSink>(seg_, sha, true);
  pipe_.reset(sink_, kHeaderSize, base - 1);
  alloc_end_ = std::max<uint64_t>(kHeaderSize, sp.alloc_end);
  spare_refused_ = false;
}

void ActiveSegment::want_spare(uint64_t end) {
  if (end > opt_.segment_bytes / 2 && !spare_ && !spare_wanted_ && !spare_running_ &&
      !spare_refused_) {
    spare_wanted_ = true;
    bg_cv_.notify_all();
  }
}

void ActiveSegment::prepare_spare(std::unique_lock<std::mutex>& lk) {
  spare_wanted_ = false;
  if (spare_ || spare_running_ || !seg_) return;
  spare_running_ = true;
  lk.unlock();
  Spare sp;
  std::optional<Error> failure;
  try {
    sp.name = new_spare_name(fs_, opt_.dir);
    const std::string path = segment_path(opt_.dir, sp.name);
    sp.file = std::shared_ptr<File>(fs_.open(path, OpenMode::kCreate));
    sp.sync_files = open_sync_files(path);
    if (opt_.sync == SyncMode::kAlways) {
      // Synced here, so the first fdatasyncs in the new segment find their
      // blocks allocated. A failure of this sync cannot hide a writeback
      // error of records: the errors are per file, and no record is in it.
      const uint64_t end = std::min(kPreallocChunk, opt_.segment_bytes);
      write_zeros(*sp.file, 0, end);
      sp.sync_files.back()->sync_data();
      sp.alloc_end = end;
    }
  } catch (const Error& e) {
    failure = e;
    sp.file.reset();
    sp.sync_files.clear();
    if (!sp.name.empty()) {
      try {
        fs_.remove(segment_path(opt_.dir, sp.name));
      } catch (const Error&) {
      }
    }
  }
  lk.lock();
  spare_running_ = false;
  if (failure) {
    spare_refused_ = true;
    spdlog::warn("WAL {}: making the next segment ahead of rotation: {}", opt_.dir,
                 failure->what());
    return;
  }
  spare_ = std::move(sp);
}

void ActiveSegment::discard_spare() {
  if (!spare_) return;
  const std::string path = segment_path(opt_.dir, spare_->name);
  spare_.reset();
  try {
    fs_.remove(path);
  } catch (const Error& e) {
    spdlog::warn("WAL {}: removing {}: {}", opt_.dir, path, e.what());
  }
}

bool ActiveSegment::ensure_allocated(std::unique_lock<std::mutex>& lk, uint64_t end) {
  want_spare(end);
  if (opt_.sync != SyncMode::kAlways) return true;  // the file grows with its writes
  if (end > alloc_end_ && prealloc_running_) {
    // The background thread is behind: let it finish, then look again
    // (the segment may have rotated meanwhile).
    cv_.wait(lk, [&] { return !prealloc_running_ || pipe_.stopped(); });
    if (pipe_.stopped()) throw pipe_.stopped_error();
    return false;
  }
  const uint64_t chunk = std::min(kPreallocChunk, opt_.segment_bytes);
  if (end > alloc_end_) {
    const uint64_t target = std::max(end, std::min(alloc_end_ + chunk, opt_.segment_bytes));
    try {
      write_zeros(*seg_->file, alloc_end_, target);
    } catch (const Error& e) {
      // e.g. ENOSPC: nothing was acknowledged and the zeros are not records,
      // so refusing this write leaves the log as it was.
      try {
        seg_->file->truncate(alloc_end_);
      } catch (const Error&) {
      }
      metrics_.rejected_writes++;
      throw Error(ErrorCode::kIoError, fmt::format("cannot grow WAL segment: {}", e.what()));
    }
    alloc_end_ = target;
  }
  if (alloc_end_ - end < chunk / 2 && alloc_end_ < opt_.segment_bytes && !prealloc_running_) {
    prealloc_wanted_ = true;
    bg_cv_.notify_all();
  }
  return true;
}

void ActiveSegment::preallocate(std::unique_lock<std::mutex>& lk) {
  prealloc_wanted_ = false;
  if (prealloc_running_ || !seg_ || seg_->sync_files.empty()) return;
  const uint64_t from = alloc_end_;
  const uint64_t to =
      std::min(from + std::min(kPreallocChunk, opt_.segment_bytes), opt_.segment_bytes);
  if (to <= from) return;
  prealloc_running_ = true;
  auto seg = seg_;
  lk.unlock();
  std::optional<Error> failure;
  bool sync_failed = false;
  try {
    write_zeros(*seg->file, from, to);
    sync_failed = true;
    // Synced here so the writers' fdatasyncs find the blocks allocated and
    // have no metadata to journal.
    seg->sync_files.back()->sync_data();
    sync_failed = false;
  } catch (const Error& e) {
    failure = e;
  }
  lk.lock();
  prealloc_running_ = false;
  cv_.notify_all();
  if (!failure) {
    metrics_.fsyncs++;
    if (seg_ == seg) alloc_end_ = std::max(alloc_end_, to);
    return;
  }
  // Any failed fdatasync of a segment may have consumed a writeback error
  // that belonged to records, so it stops the WAL like a leader's would.
  if (sync_failed) pipe_.stop(fmt::format("fdatasync of segment {} failed", seg->name), *failure);
  // A failed write (ENOSPC, say) only means the writers grow the file
  // themselves and meet the error there, where it can be refused cleanly.
  try {
    seg->file->truncate(from);
  } catch (const Error&) {
  }
  spdlog::warn("WAL {}: preallocating {}: {}", opt_.dir, seg->name, failure->what());
}

void ActiveSegment::seal() {
  Segment& s = *seg_;
  try {
    const uint64_t end = pipe_.written_end();
    seal_segment(s, end, sink_->digest(end));
  } catch (const Error& e) {
    pipe_.stop(fmt::format("sealing segment {} failed", s.name), e);
  }
  metrics_.fsyncs += 2;
  pipe_.mark_durable();
}

void ActiveSegment::rotate(std::unique_lock<std::mutex>& lk,
                           const std::function<void(std::shared_ptr<Segment>)>& on_sealed) {
  auto seg = seg_;
  drain(lk);
  if (seg_ != seg) return;  // another writer rotated while this one waited
  seal();
  on_sealed(seg);
  const uint64_t base = seg->last_seq + 1;
  try {
    if (spare_) {
      install_spare(base);
    } else {
      create(base);
    }
  } catch (const Error& e) {
    pipe_.stop(fmt::format("creating the segment for seq {} failed", base), e);
  }
  metrics_.rotations++;
}

}  // namespace strata::wal
