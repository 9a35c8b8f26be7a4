#include "strata/materializer.h"

#include <charconv>

#include "apply_batch.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/error.h"
#include "strata/hash.h"

namespace strata {

namespace {
// How many entries may be applied between two state.seq records. They are
// applied as one batch, so a larger batch means less disk work (only the
// last write of a path reaches the disk, one syncfs per batch); the bound
// keeps the batch's index in memory and the work a crash makes us redo
// small.
constexpr uint64_t kCommitEvery = 100000;
// A batch also ends when the data of its surviving writes reaches this, so
// large entries do not pile up in memory.
constexpr uint64_t kBatchBytes = 64ull << 20;
// state.seq is three short lines; anything longer is not ours.
constexpr size_t kMaxSeqFileBytes = 1024;

bool parse_decimal(std::string_view text, uint64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void add_field(Sha256& h, std::string_view bytes) {
  const uint64_t n = bytes.size();
  h.update(&n, sizeof(n));
  h.update(bytes);
}

}  // namespace

std::string entry_fingerprint(const EntryView& e) {
  Sha256 h;
  const uint64_t fixed[2] = {e.seq, e.timestamp_ms};
  h.update(fixed, sizeof(fixed));
  const uint8_t kinds[2] = {static_cast<uint8_t>(e.type), static_cast<uint8_t>(e.op)};
  h.update(kinds, sizeof(kinds));
  add_field(h, e.path);
  add_field(h, e.data);
  return to_hex(h.finish());
}

Materializer::Materializer(std::string data_dir, FileSystem* fs)
    : data_dir_(std::move(data_dir)),
      state_dir_(data_dir_ + "/state"),
      seq_file_(data_dir_ + "/state.seq"),
      tmp_dir_(data_dir_ + "/state.tmp"),
      fs_(fs ? *fs : FileSystem::real()) {}

Materializer::SeqFile Materializer::read_seq_file() const {
  SeqFile out;
  if (!fs_.exists(seq_file_)) return out;
  std::string text(kMaxSeqFileBytes + 1, '\0');
  {
    auto f = fs_.open(seq_file_, OpenMode::kRead);
    text.resize(f->pread(text.data(), text.size(), 0));
  }
  auto corrupt = [&](std::string_view why) {
    return Error(ErrorCode::kIoError,
                 fmt::format("{}: {}; it is not a state.seq strata wrote (move {} and {} aside "
                             "to rebuild the state from the WAL)",
                             seq_file_, why, state_dir_, seq_file_));
  };
  if (text.empty()) return out;  // left by a crash before anything was recorded
  if (text.size() > kMaxSeqFileBytes) throw corrupt("it is too long");
  if (text.back() != '\n') throw corrupt("its last line is incomplete");
  size_t start = 0;
  for (int line = 0; start < text.size(); ++line) {
    const size_t nl = text.find('\n', start);
    const std::string_view l = std::string_view(text).substr(start, nl - start);
    start = nl + 1;
    if (line == 0) {
      if (!parse_decimal(l, &out.seq)) throw corrupt("line 1 is not a seq");
    } else if (l.starts_with("history ")) {
      out.history = std::string(l.substr(8));
    } else if (l.starts_with("last ")) {
      const std::string_view rest = l.substr(5);
      const size_t sp = rest.find(' ');
      if (sp == std::string_view::npos || !parse_decimal(rest.substr(0, sp), &out.last.seq) ||
          !is_hex64(rest.substr(sp + 1)) || out.last.seq == 0 || out.last.seq > out.seq) {
        throw corrupt(fmt::format("line {} is not 'last <seq> <sha256>'", line + 1));
      }
      out.last.fingerprint = std::string(rest.substr(sp + 1));
    } else {
      throw corrupt(fmt::format("line {} is not understood", line + 1));
    }
  }
  return out;
}

uint64_t Materializer::applied_seq() const {
  return read_seq_file().seq;
}

std::string Materializer::applied_history() const {
  return read_seq_file().history;
}

AppliedEntry Materializer::applied_entry() const {
  return read_seq_file().last;
}

void Materializer::commit(uint64_t seq, const std::string& history_id, const AppliedEntry& last) {
  fs_.make_dirs(state_dir_);
  // Files were written without per-file fsync; one syncfs covers them all
  // before state.seq claims they are there.
  fs_.sync_filesystem(state_dir_);
  std::string text = fmt::format("{}\n", seq);
  if (!history_id.empty()) text += fmt::format("history {}\n", history_id);
  if (last.seq != 0) text += fmt::format("last {} {}\n", last.seq, last.fingerprint);
  write_file_atomically(fs_, seq_file_, text);
}

void Materializer::apply(const EntryView& e) {
  state_detail::ApplyBatch one;
  one.add(e);
  fs_.make_dirs(state_dir_);
  one.apply(fs_, state_dir_, tmp_dir_);
}

void Materializer::reset() {
  if (auto data = fs_.open_dir(data_dir_)) remove_tree(*data, "state");
  fs_.make_dirs(state_dir_);
  commit(0);
}

std::string Materializer::mismatch(Wal& wal, const WalStatus& st, const SeqFile& recorded) const {
  if (recorded.seq > st.head_seq) {
    return fmt::format("state at seq {} is ahead of the WAL (head {})", recorded.seq, st.head_seq);
  }
  if (!recorded.history.empty() && recorded.history != st.history_id) {
    return fmt::format(
        "state at seq {} was applied from a WAL history that truncate-after "
        "rewrote",
        recorded.seq);
  }
  if (recorded.last.seq != 0) {
    // The one read that tells a rolled-back-and-appended log from the one
    // the state was made from: the seqs match, the entries do not.
    auto e = wal.read_entry(recorded.last.seq);
    // Gone from a log that still reaches past it: pruned or compacted away
    // once the remote tiers held it (with PRUNE_KEEP_SEGMENTS=0, after a
    // rotation, the segment holding the head goes). Nothing to compare, and
    // no sign of a rollback; rebuilding would replay a log without its
    // start and empty the state.
    if (!e) return "";
    const EntryView v{e->seq, e->timestamp_ms, e->type, e->op, e->path, e->data};
    if (entry_fingerprint(v) != recorded.last.fingerprint) {
      return fmt::format(
          "entry {} in the WAL is not the entry {} applied to the state (was "
          "the WAL directory replaced by an older copy?)",
          recorded.last.seq, recorded.last.seq);
    }
  }
  return "";
}

MaterializeResult Materializer::run(Wal& wal) {
  MaterializeResult r;
  const SeqFile recorded = read_seq_file();
  r.from_seq = recorded.seq;
  const WalStatus st = wal.status();
  uint64_t since = r.from_seq;
  AppliedEntry last_entry = recorded.last;
  r.rebuild_reason = mismatch(wal, st, recorded);
  if (!r.rebuild_reason.empty()) {
    spdlog::warn("{}: rebuilding {} from the WAL", r.rebuild_reason, state_dir_);
    reset();
    since = 0;
    last_entry = {};
    r.rebuilt = true;
  }
  fs_.make_dirs(state_dir_);
  uint64_t last = since;
  state_detail::ApplyBatch batch;
  const auto writes = in_place_ ? state_detail::ApplyBatch::Writes::kInPlace
                                : state_detail::ApplyBatch::Writes::kStaged;
  wal.replay_view(since, 0, [&](const EntryView& e) {
    batch.add(e);
    if (observer_) observer_(e);
    last = e.seq;
    r.entries_applied++;
    // Fingerprints only where state.seq may be written next: at the end of
    // a batch and at the head (hashing every entry would cost a SHA-256 of
    // all data applied).
    const bool batch_full = batch.entries() >= kCommitEvery || batch.pending_bytes() >= kBatchBytes;
    if (batch_full || e.seq >= st.head_seq) last_entry = {e.seq, entry_fingerprint(e)};
    if (batch_full) {
      batch.apply(fs_, state_dir_, tmp_dir_, writes);
      batch.clear();
      commit(last, st.history_id, last_entry);
    }
    return true;
  });
  batch.apply(fs_, state_dir_, tmp_dir_, writes);
  if (last_entry.seq != last && last > since) {
    // The replay went past the head seen at the start (another thread
    // appended meanwhile): fingerprint the entry it ended on.
    auto e = wal.read_entry(last);
    last_entry = e ? AppliedEntry{last, entry_fingerprint({e->seq, e->timestamp_ms, e->type, e->op,
                                                           e->path, e->data})}
                   : AppliedEntry{};
  }
  // The staging directory of apply() is empty once every rename is done.
  if (fs_.is_directory(tmp_dir_) && fs_.list_dir(tmp_dir_).empty()) fs_.remove(tmp_dir_);
  // Entries dropped by compaction or a truncation leave the head beyond the
  // last entry applied; the state is still "everything up to head".
  last = std::max(last, st.head_seq);
  if (last != r.from_seq || r.rebuilt || recorded.history != st.history_id ||
      last_entry != recorded.last) {
    commit(last, st.history_id, last_entry);
  }
  r.applied_seq = last;
  return r;
}

}  // namespace strata
