#include "recovery/local_source.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/error.h"
#include "strata/lineage.h"
#include "strata/materializer.h"
#include "strata/wal_reader.h"
#include "wal/record_format.h"
#include "wal/segment_reader.h"

namespace strata::recovery {

std::string read_lineage_id(FileSystem& fs, const std::string& data_dir) {
  try {
    return lineage::read(fs, data_dir).value_or("");
  } catch (const Error& e) {
    // Not an id: the directory has no history this run could continue.
    spdlog::warn("recovery: {}", e.what());
    return "";
  }
}

uint64_t read_local_records(FileSystem& fs, const std::string& wal_dir, uint64_t after,
                            uint64_t max_entry_bytes,
                            const std::function<bool(const EntryView&, std::string_view)>& fn,
                            std::string* stopped) {
  stopped->clear();
  std::vector<std::pair<uint64_t, std::string>> names;
  for (const auto& name : fs.list_dir(wal_dir)) {
    uint64_t base = 0;
    if (wal::parse_segment_file_name(name, &base)) names.emplace_back(base, name);
  }
  std::sort(names.begin(), names.end());
  const uint64_t max_body = wal::kBodyFixed + max_entry_bytes;
  uint64_t prev = 0;  // last seq seen (delivered or not)
  uint64_t delivered = after;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& [base, name] = names[i];
    const std::string path = wal_dir + "/" + name;
    // A segment the next one shows to end at or below `after` is not needed
    // (its damage, if any, costs nothing).
    if (i + 1 < names.size() && names[i + 1].first <= after + 1) {
      prev = names[i + 1].first - 1;
      continue;
    }
    auto file = fs.open(path, OpenMode::kRead);
    wal::SegmentHeader h;
    if (!wal::read_segment_header(*file, &h) || h.base_seq != base) {
      *stopped = fmt::format("{}: bad segment header", path);
      return delivered;
    }
    if (i > 0 && base != prev + 1) {
      *stopped =
          fmt::format("{}: starts at seq {}, the previous segment ends at {}", path, base, prev);
      return delivered;
    }
    if (i == 0) prev = base - 1;
    const uint64_t size = file->size();
    wal::Trailer t;
    const bool sealed = wal::read_segment_trailer(*file, size, &t);
    wal::RecordReader reader(*file, wal::kHeaderSize, sealed ? t.index_offset : size, max_body);
    wal::RecordView v;
    uint64_t off = 0;
    while (true) {
      const auto r = reader.next(&v, &off);
      if (r == wal::RecordReader::Result::kRecord) {
        if (v.seq <= prev) {
          *stopped =
              fmt::format("{} at offset {}: seq {} does not follow {}", path, off, v.seq, prev);
          return delivered;
        }
        prev = v.seq;
        if (v.seq <= after) continue;
        if (!fn(v, reader.raw())) return delivered;
        delivered = v.seq;
        continue;
      }
      const bool last = i + 1 == names.size();
      if (r == wal::RecordReader::Result::kEnd || (r == wal::RecordReader::Result::kZero && last))
        break;
      *stopped =
          fmt::format("{} at offset {}: {}", path, off,
                      r == wal::RecordReader::Result::kZero        ? "zeros in a sealed segment"
                      : r == wal::RecordReader::Result::kTruncated ? "a record cut short"
                                                                   : "a record that fails its CRC");
      return delivered;
    }
    if (sealed) prev = std::max(prev, t.last_seq);
  }
  return delivered;
}

LocalWal probe_local(RunContext& ctx) {
  LocalWal l;
  if (!begin_offer(l.offer, RecoverySource::kLocal, ctx.live,
                   "not used: --target restores from the remotes only")) {
    return l;
  }
  l.offer.reachable = true;
  const std::string wal_dir = ctx.dest + "/wal";
  l.offer.lineage = read_lineage_id(ctx.fs, ctx.dest);
  bool any_segment = false;
  if (is_directory_following_links(ctx.fs, wal_dir)) {
    for (const auto& name : ctx.fs.list_dir(wal_dir)) {
      uint64_t base = 0;
      if (wal::parse_segment_file_name(name, &base)) {
        if (!any_segment) l.base_seq = base;
        any_segment = true;
      }
    }
  }
  // Read with or without a WAL: state/ at a seq is history of this data
  // directory's own lineage even when its log is lost.
  l.state_seq = Materializer(ctx.dest, &ctx.fs).applied_seq();
  if (!any_segment) {
    l.offer.line = "no local WAL";
    return l;
  }
  l.exists = true;
  // The probe only reads: a run that fails (strict, a remote down) must
  // leave every segment as it was, so the log is looked at through a reader
  // under the WAL lock, and opened for writing only when it is used in
  // place. Wal::open would cut a torn tail and re-extend the active
  // segment's preallocation here.
  pid_t holder = 0;
  l.lock = ctx.fs.try_lock(wal_dir + "/LOCK", &holder);
  if (!l.lock)
    throw Error(ErrorCode::kWalLockFailed,
                fmt::format("WAL {} is locked by another process (pid {})", wal_dir, holder));
  WalOptions o = ctx.config.wal;
  o.dir = wal_dir;
  o.fs = &ctx.fs;
  o.skip_corrupt = false;
  std::unique_ptr<WalReader> reader;
  const VerifyResult v = Wal::verify(wal_dir, &ctx.fs);
  // A torn tail is what opening for writing cuts (nothing acknowledged is
  // in it); anything else is damage.
  const bool torn_only = !v.ok && !v.dropped.empty() &&
                         std::all_of(v.dropped.begin(), v.dropped.end(),
                                     [](const DroppedRange& d) { return d.torn_tail; }) &&
                         v.problem.starts_with("torn tail");
  if (v.ok || torn_only) {
    try {
      reader = WalReader::open(o);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kWalCorrupt) throw;
      l.damage = e.what();
    }
  } else {
    l.damage = fmt::format("{} at offset {}: {}", v.bad_file, v.bad_offset, v.problem);
  }
  if (reader) {
    l.intact = true;
    l.options = o;
    const WalStatus st = reader->status();
    const WalSnapshot snap = reader->snapshot();
    for (const auto& s : snap.sealed) l.entries += s.entries;
    l.entries += snap.active.entries;
    l.head_seq = st.head_seq;
    l.first_seq = st.first_seq;
    l.history = st.history_id;
    l.complete_from_one = l.head_seq == 0 || (l.first_seq == 1 && l.entries == l.head_seq);
    if (l.first_seq > 0) {
      if (auto e = reader->read_entry(l.first_seq)) l.first_time_ms = e->timestamp_ms;
      if (auto e = reader->read_entry(l.head_seq)) l.head_time_ms = e->timestamp_ms;
    }
    l.offer.has_data = l.entries > 0;
    l.offer.head_seq = l.head_seq;
    l.offer.line =
        fmt::format("intact WAL, {} entries, seqs {}-{}{}", l.entries, l.first_seq, l.head_seq,
                    l.complete_from_one ? "" : " (older entries pruned or compacted)");
    return l;
  }
  std::string stopped;
  uint64_t count = 0;
  l.head_seq = read_local_records(
      ctx.fs, wal_dir, 0, ctx.config.wal.max_entry_bytes,
      [&](const EntryView& e, std::string_view) {
        if (count++ == 0) {
          l.first_seq = e.seq;
          l.first_time_ms = e.timestamp_ms;
        }
        l.head_time_ms = e.timestamp_ms;
        return true;
      },
      &stopped);
  if (auto h = read_small_file(ctx.fs, wal_dir + "/HISTORY", 256)) {
    l.history = *h;
    while (!l.history.empty() && l.history.back() == '\n') l.history.pop_back();
  }
  l.entries = count;
  l.complete_from_one = l.head_seq == 0 || (l.first_seq == 1 && l.entries == l.head_seq);
  if (l.head_seq == 0) l.head_seq = l.base_seq > 0 ? l.base_seq - 1 : 0;
  if (!stopped.empty()) l.damage = stopped;
  l.offer.has_data = count > 0;
  l.offer.head_seq = l.head_seq;
  l.offer.error = Error(ErrorCode::kWalCorrupt, l.damage);
  l.offer.line = fmt::format("damaged WAL: {} entries readable ({}-{}), then {}", count,
                             l.first_seq, l.head_seq, l.damage);
  return l;
}

}  // namespace strata::recovery

namespace strata::recovery {

Wal& LocalWal::open_for_writing() {
  if (wal) return *wal;
  // Wal::open takes the lock itself (waiting WAL_LOCK_TIMEOUT_MS for it).
  lock.reset();
  wal = Wal::open(options);
  return *wal;
}

}  // namespace strata::recovery
