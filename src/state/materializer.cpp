#include "strata/materializer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "strata/config.h"
#include "strata/error.h"

namespace strata {

namespace {
// How many entries may be applied between two state.seq records: bounds the
// work a crash can make us redo, and the number of syncfs calls.
constexpr uint64_t kCommitEvery = 10000;
}  // namespace

Materializer::Materializer(std::string data_dir, FileSystem* fs)
    : data_dir_(std::move(data_dir)),
      state_dir_(data_dir_ + "/state"),
      seq_file_(data_dir_ + "/state.seq"),
      tmp_dir_(data_dir_ + "/state.tmp"),
      fs_(fs ? *fs : FileSystem::real()) {}

std::string Materializer::read_seq_file() const {
  if (!fs_.exists(seq_file_)) return "";
  auto f = fs_.open(seq_file_, OpenMode::kRead);
  std::string text(256, '\0');
  text.resize(f->pread(text.data(), text.size(), 0));
  return text;
}

uint64_t Materializer::applied_seq() const {
  std::string text = read_seq_file();
  if (text.empty()) return 0;
  return config::parse_u64(text.substr(0, text.find('\n')), seq_file_);
}

std::string Materializer::applied_history() const {
  const std::string text = read_seq_file();
  const std::string key = "\nhistory ";
  size_t at = text.find(key);
  if (at == std::string::npos) return "";
  std::string id = text.substr(at + key.size());
  return id.substr(0, id.find('\n'));
}

void Materializer::commit(uint64_t seq, const std::string& history_id) {
  fs_.make_dirs(state_dir_);
  // Files were written without per-file fsync; one syncfs covers them all
  // before state.seq claims they are there.
  fs_.sync_filesystem(state_dir_);
  const std::string tmp = seq_file_ + ".tmp";
  {
    auto f = fs_.open(tmp, OpenMode::kCreateTrunc);
    std::string text = history_id.empty() ? fmt::format("{}\n", seq)
                                          : fmt::format("{}\nhistory {}\n", seq, history_id);
    f->pwrite(text.data(), text.size(), 0);
    f->sync();
  }
  fs_.rename(tmp, seq_file_);
  fs_.sync_dir(data_dir_);
}

void Materializer::remove_tree(const std::string& path) {
  if (fs_.is_directory(path)) {
    for (const auto& name : fs_.list_dir(path)) remove_tree(path + "/" + name);
  }
  fs_.remove(path);
}

void Materializer::prune_empty_parents(const std::string& rel) {
  std::string dir = rel;
  while (true) {
    size_t slash = dir.rfind('/');
    if (slash == std::string::npos) return;
    dir.resize(slash);
    const std::string abs = state_dir_ + "/" + dir;
    if (!fs_.is_directory(abs) || !fs_.list_dir(abs).empty()) return;
    fs_.remove(abs);
  }
}

void Materializer::apply(const EntryView& e) {
  // The WAL validated the path, but state on disk is ours to protect: check
  // again so nothing can ever be written outside the state directory.
  validate_entry_path(e.path);
  const std::string rel(e.path);
  const std::string target = state_dir_ + "/" + rel;
  if (e.op == EntryOp::kDelete) {
    if (fs_.exists(target)) {
      remove_tree(target);
      prune_empty_parents(rel);
    }
    return;
  }
  // Every parent must be a real directory: a file (or symlink) in the way is
  // an older entry that this one supersedes.
  fs_.make_dirs(state_dir_);
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string::npos) {
    const std::string dir = state_dir_ + "/" + rel.substr(0, pos);
    if (fs_.exists(dir) && !fs_.is_directory(dir)) fs_.remove(dir);
    if (!fs_.exists(dir)) fs_.make_dirs(dir);
    pos++;
  }
  if (fs_.is_directory(target)) remove_tree(target);
  fs_.make_dirs(tmp_dir_);
  const std::string tmp = tmp_dir_ + "/apply";
  {
    auto f = fs_.open(tmp, OpenMode::kCreateTrunc);
    if (!e.data.empty()) f->pwrite(e.data.data(), e.data.size(), 0);
  }
  fs_.rename(tmp, target);
}

void Materializer::reset() {
  if (fs_.exists(state_dir_)) remove_tree(state_dir_);
  fs_.make_dirs(state_dir_);
  commit(0);
}

MaterializeResult Materializer::run(Wal& wal) {
  MaterializeResult r;
  r.from_seq = applied_seq();
  const WalStatus st = wal.status();
  uint64_t since = r.from_seq;
  const std::string history = applied_history();
  const bool rewritten = !history.empty() && history != st.history_id;
  if (since > st.head_seq || rewritten) {
    // The log was truncated below what the state shows: start over.
    spdlog::warn("state at seq {} does not match the WAL (head {}{}): rebuilding {}", since,
                 st.head_seq, rewritten ? ", history rewritten by truncate-after" : "", state_dir_);
    reset();
    since = 0;
    r.rebuilt = true;
  }
  fs_.make_dirs(state_dir_);
  uint64_t last = since;
  uint64_t uncommitted = 0;
  wal.replay_view(since, 0, [&](const EntryView& e) {
    apply(e);
    last = e.seq;
    r.entries_applied++;
    if (++uncommitted >= kCommitEvery) {
      commit(last, st.history_id);
      uncommitted = 0;
    }
    return true;
  });
  // Entries dropped by compaction or a truncation leave the head beyond the
  // last entry applied; the state is still "everything up to head".
  last = std::max(last, st.head_seq);
  if (last != r.from_seq || r.rebuilt || history != st.history_id) commit(last, st.history_id);
  r.applied_seq = last;
  return r;
}

}  // namespace strata
