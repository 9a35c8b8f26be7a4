// The lock-free, read-only view of a WAL directory (include/strata/wal_reader.h).
//
// It lists the directory the way the writer's open does (same order, same
// handling of a compaction's leftovers and of an interrupted truncation),
// but where the writer would repair it only looks: an inconsistent listing is
// taken again, because a writer changing the directory is the likely cause.
#include "strata/wal_reader.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "common/thread_annotations.h"
#include "strata/error.h"
#include "strata/hash.h"
#include "wal/dir_state.h"
#include "wal/log_recovery.h"
#include "wal/record_format.h"
#include "wal/segment_file.h"
#include "wal/segment_reader.h"

namespace strata {
namespace {

using wal::RecordReader;
using wal::RecordView;
using wal::Segment;

constexpr size_t kPointReadBytes = wal::kIndexStride + 4096;
constexpr int kListAttempts = 20;

struct View {
  // The chain, oldest first, each with its file open; the last may be the
  // unsealed tail (data_end: the end of its valid records).
  std::vector<std::shared_ptr<Segment>> segments;
  uint64_t head = 0;
  std::string history_id;
};

// A listing that does not add up, probably because the writer is changing
// the directory right now: listed again, reported if it persists.
struct Inconsistent {
  std::string what;
};

std::shared_ptr<File> open_listed(FileSystem& fs, const std::string& path) {
  try {
    return fs.open(path, OpenMode::kRead);
  } catch (const Error&) {
    if (!fs.exists(path)) throw Inconsistent{fmt::format("{} vanished while listing", path)};
    throw;
  }
}

// One view of dir through the listing and chain rules of opening
// (wal/log_recovery.h), which never write.
View take_view(FileSystem& fs, const std::string& dir, bool last_attempt) {
  View view;
  // Read before the listing: a truncate_after changes it before it cuts
  // anything, so a view whose history id is still current after a read was
  // not cut under it.
  view.history_id = wal::read_history_id(fs, dir);
  wal::LogPlan plan;
  try {
    plan = wal::plan_log(wal::list_segments(fs, dir), dir);
  } catch (const Error& e) {
    if (last_attempt) throw;
    throw Inconsistent{e.what()};  // e.g. a segment removed while it was being read
  }
  if (plan.problem) {
    if (last_attempt) throw wal::log_problem_error(*plan.problem);
    throw Inconsistent{plan.problem->file + ": " + plan.problem->what};
  }
  for (const auto& s : plan.sealed) {
    // Held from now on: a name is never given to other bytes, so the file
    // opened is the one listed, and stays readable if it is deleted.
    s->file = open_listed(fs, wal::segment_path(dir, s->name));
    view.segments.push_back(s);
  }
  if (plan.tail) {
    const std::string path = wal::segment_path(dir, plan.tail->name);
    auto file = open_listed(fs, path);
    wal::SegmentHeader h;
    if (!wal::read_segment_header(*file, &h) || h.base_seq != plan.tail->base) {
      // A segment being created has no synced header yet and holds nothing.
      if (file->size() >= wal::kHeaderSize && wal::non_zero_extent(*file, 0, file->size()) != 0) {
        if (last_attempt) {
          throw Error(ErrorCode::kWalCorrupt, fmt::format("{}: bad segment header", path));
        }
        throw Inconsistent{fmt::format("{}: bad segment header", path)};
      }
    } else {
      wal::TailScan scan;
      try {
        scan = wal::scan_segment(*file, plan.tail->base, plan.tail_prev_last, wal::kMaxBody,
                                 /*skip_corrupt=*/false, /*hash=*/false);
      } catch (const Error& e) {
        // A record the writer is writing right now can look like corruption
        // followed by a valid record; a second look tells.
        if (last_attempt) throw;
        throw Inconsistent{e.what()};
      }
      auto s = std::make_shared<Segment>();
      s->name = plan.tail->name;
      s->base_seq = plan.tail->base;
      s->first_seq = scan.entries ? scan.first_seq : 0;
      s->last_seq = scan.entries ? scan.last_seq : plan.tail->base - 1;
      s->entries = scan.entries;
      s->data_end = s->size = scan.end;
      s->index = std::move(scan.index);
      s->file = file;
      view.segments.push_back(std::move(s));
    }
  }
  view.head = view.segments.empty() ? 0 : view.segments.back()->last_seq;
  return view;
}

class WalReaderImpl final : public WalReader {
 public:
  explicit WalReaderImpl(const WalOptions& options)
      : opt_(options), fs_(options.fs ? *options.fs : FileSystem::real()) {
    if (opt_.dir.empty()) throw Error(ErrorCode::kInvalidArgument, "WAL directory is empty");
    refresh();
  }

  void refresh() override {
    if (!is_directory_following_links(fs_, opt_.dir)) {
      throw Error(ErrorCode::kNotFound, fmt::format("no WAL at {}", opt_.dir));
    }
    std::string last;
    for (int attempt = 0; attempt < kListAttempts; ++attempt) {
      try {
        auto v =
            std::make_shared<const View>(take_view(fs_, opt_.dir, attempt + 1 == kListAttempts));
        MutexLock lk(mu_);
        view_ = std::move(v);
        return;
      } catch (const Inconsistent& e) {
        last = e.what;
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + 5 * attempt));
      }
    }
    throw Error(ErrorCode::kInternal,
                fmt::format("WAL {}: the last listing attempt neither failed nor succeeded ({})",
                            opt_.dir, last));
  }

  uint64_t head_seq() override { return view()->head; }

  std::optional<Entry> read_entry(uint64_t seq) override {
    auto v = view();
    if (seq == 0 || seq > v->head) return std::nullopt;
    for (const auto& sp : v->segments) {
      const Segment& s = *sp;
      if (s.entries == 0 || s.last_seq < seq) continue;
      if (seq < s.first_seq) return std::nullopt;  // compacted away
      RecordReader reader(*s.file, wal::index_start(s, seq), s.data_end, wal::kMaxBody,
                          kPointReadBytes);
      RecordView r;
      uint64_t off = 0;
      RecordReader::Result res;
      std::optional<Entry> out;
      while ((res = reader.next(&r, &off)) == RecordReader::Result::kRecord) {
        if (r.seq >= seq) {
          if (r.seq == seq) out = r.to_entry();
          break;
        }
      }
      if (res != RecordReader::Result::kRecord && res != RecordReader::Result::kEnd) {
        throw unreadable(*v, s, off);
      }
      check_history(*v);
      return out;
    }
    return std::nullopt;
  }

  uint64_t replay_view(uint64_t since_seq, uint64_t limit,
                       const std::function<bool(const EntryView&)>& fn) override {
    auto v = view();
    uint64_t visited = 0;
    for (const auto& sp : v->segments) {
      const Segment& s = *sp;
      if (s.entries == 0 || s.last_seq <= since_seq) continue;
      RecordReader reader(*s.file, wal::index_start(s, since_seq + 1), s.data_end, wal::kMaxBody);
      RecordView r;
      uint64_t off = 0;
      RecordReader::Result res;
      while ((res = reader.next(&r, &off)) == RecordReader::Result::kRecord) {
        if (r.seq <= since_seq) continue;
        visited++;
        if (!fn(r) || (limit != 0 && visited >= limit)) {
          count_replayed(visited);
          check_history(*v);
          return visited;
        }
      }
      if (res != RecordReader::Result::kEnd) throw unreadable(*v, s, off);
      check_history(*v);
    }
    count_replayed(visited);
    return visited;
  }

  WalSnapshot snapshot() override {
    auto v = view();
    WalSnapshot snap;
    snap.head_seq = v->head;
    for (const auto& sp : v->segments) {
      const Segment& s = *sp;
      SegmentInfo info{
          s.name,    s.base_seq, s.entries ? s.first_seq : 0,   s.entries ? s.last_seq : 0,
          s.entries, s.size,     s.sealed ? to_hex(s.sha) : "", s.sealed};
      if (s.sealed) {
        snap.sealed.push_back(std::move(info));
      } else {
        snap.active = std::move(info);
      }
    }
    return snap;
  }

  WalStatus status() override {
    auto v = view();
    WalStatus st;
    st.dir = opt_.dir;
    st.open = true;
    st.sync = opt_.sync;
    st.head_seq = st.durable_seq = v->head;
    for (const auto& sp : v->segments) {
      const Segment& s = *sp;
      if (st.first_seq == 0 && s.entries > 0) st.first_seq = s.first_seq;
      st.total_bytes += s.size;
    }
    st.segments = v->segments.size();
    st.history_id = v->history_id;
    st.free_bytes = fs_.disk_space(opt_.dir).free_bytes;
    st.low_free_space = st.free_bytes < opt_.stop_free_bytes;
    st.pressure = st.low_free_space || st.total_bytes >= opt_.max_bytes ? DiskPressure::kCritical
                  : st.total_bytes >= opt_.warn_bytes                   ? DiskPressure::kWarning
                                                                        : DiskPressure::kNormal;
    st.tiers = Wal::read_tier_marks(opt_.dir, &fs_);
    return st;
  }

  WalMetrics metrics() override {
    MutexLock lk(mu_);
    return metrics_;
  }

 private:
  std::shared_ptr<const View> view() {
    MutexLock lk(mu_);
    return view_;
  }

  // A truncate_after by the writer changes HISTORY before it cuts anything:
  // if it changed, what was just read may mix two histories.
  void check_history(const View& v) {
    if (wal::read_history_id(fs_, opt_.dir) != v.history_id) {
      throw Error(ErrorCode::kWalCorrupt,
                  fmt::format("WAL {} changed while it was read (truncate_after in another "
                              "process): read again",
                              opt_.dir));
    }
  }

  Error unreadable(const View& v, const Segment& s, uint64_t off) {
    check_history(v);  // cut under the read, not damaged
    return wal::unreadable_record(*s.file, off);
  }

  void count_replayed(uint64_t n) {
    MutexLock lk(mu_);
    metrics_.replayed_entries += n;
  }

  WalOptions opt_;
  FileSystem& fs_;
  Mutex mu_;
  std::shared_ptr<const View> view_ GUARDED_BY(mu_);
  WalMetrics metrics_ GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<WalReader> WalReader::open(const WalOptions& options) {
  return std::make_unique<WalReaderImpl>(options);
}

}  // namespace strata
