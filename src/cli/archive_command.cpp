// Archive commands: `strata archive` (snapshot and push), `archive log`,
// `archive restore`. The seq comes from DATA_DIR/state.seq, which the
// materializer writes; the WAL is opened only after a successful push, to
// record the Git tier's confirmation there.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/git_sync.h"
#include "strata/lineage.h"
#include "strata/materializer.h"
#include "strata/utf8.h"
#include "strata/wal.h"

namespace strata::cli {

namespace {

// The seq the state directory corresponds to, as the materializer recorded
// it in DATA_DIR/state.seq (0 when nothing was applied yet).
uint64_t read_state_seq(const std::string& data_dir) {
  return Materializer(data_dir).applied_seq();
}

// "2026-02-11T01:12:00Z", "2026-02-11T01:12:00.5+02:00", "2026-02-11 01:12:00"
// (UTC), "2026-02-11" (midnight UTC) or "@1770772320" (Unix seconds).
std::chrono::system_clock::time_point parse_time(const std::string& text) {
  auto bad = [&text]() -> Error {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format("--before: '{}' is not a time like 2026-02-11T01:12:00Z or @<unix seconds>",
                    text));
  };
  if (!text.empty() && text[0] == '@') {
    const std::string digits = text.substr(1);
    uint64_t secs = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), secs);
    // Whole seconds after 1970, small enough for the clock (year < 10000).
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        secs > 253402300799ull) {
      throw bad();
    }
    return std::chrono::system_clock::time_point(std::chrono::seconds(static_cast<int64_t>(secs)));
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) !=
          3 ||
      consumed != 10) {
    throw bad();
  }
  std::string_view rest = std::string_view(text).substr(10);
  long offset = 0;
  if (!rest.empty()) {
    if (rest[0] != 'T' && rest[0] != ' ') throw bad();
    int n = 0;
    std::string r(rest.substr(1));
    if (std::sscanf(r.c_str(), "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 3 ||
        n != 8) {
      throw bad();
    }
    std::string_view tail = std::string_view(r).substr(8);
    if (!tail.empty() && tail[0] == '.') {
      size_t digits = 1;
      while (digits < tail.size() && std::isdigit(static_cast<unsigned char>(tail[digits])))
        ++digits;
      if (digits == 1) throw bad();
      tail.remove_prefix(digits);  // sub-second precision: commit times are whole seconds
    }
    if (tail == "Z" || tail.empty()) {
    } else if ((tail[0] == '+' || tail[0] == '-') && tail.size() == 6 && tail[3] == ':') {
      int oh = 0, om = 0;
      std::string t(tail.substr(1));
      if (std::sscanf(t.c_str(), "%2d:%2d", &oh, &om) != 2) throw bad();
      offset = (tail[0] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    } else {
      throw bad();
    }
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    throw bad();
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t - offset);
}

std::string iso(int64_t secs) {
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json snapshot_json(const SnapshotInfo& s) {
  nlohmann::json j = {{"commit", s.commit}, {"commit_time", iso(s.commit_time)}};
  if (s.has_manifest) {
    j["snapshot_id"] = s.snapshot_id;
    j["created_at"] = s.created_at;
    j["wal_seq"] = s.wal_seq;
    j["lineage_id"] = s.lineage_id;
    j["file_count"] = s.file_count;
    j["total_bytes"] = s.total_bytes;
  } else {
    j["wal_seq"] = nullptr;  // not a strata snapshot
  }
  return j;
}

nlohmann::json status_json(const GitSyncStatus& s) {
  nlohmann::json j = {
      {"state", std::string(git_sync_state_name(s.state))},
      {"message", s.message},
      {"branch", s.branch},
      {"remote", s.remote},
      {"local_tip", s.local_tip ? nlohmann::json(*s.local_tip) : nlohmann::json(nullptr)},
      {"remote_tip", s.remote_tip ? nlohmann::json(*s.remote_tip) : nlohmann::json(nullptr)},
      {"confirmed_seq",
       s.confirmed_seq ? nlohmann::json(*s.confirmed_seq) : nlohmann::json(nullptr)},
  };
  if (s.state == GitSyncState::kConflict) {
    j["local_only"] = s.local_only;
    j["remote_only"] = s.remote_only;
  }
  return j;
}

std::string short_id(const std::string& hex) {
  return hex.substr(0, 12);
}

// Records in the WAL that the Git tier holds every entry up to `seq` (the
// seq of the snapshot the remote confirmed): Wal::confirm("git", ...), so
// `strata compact` without --force and the pruner may drop those entries.
// Clamped to the WAL's head (a state ahead of the log confirms no more than
// the log holds). Returns the mark now recorded, or nullopt when there is
// no WAL (nothing to protect, and a WAL is never created here).
std::optional<uint64_t> confirm_git_in_wal(const Context& ctx, uint64_t seq) {
  if (!is_directory_following_links(FileSystem::real(), ctx.wal_dir())) return std::nullopt;
  WalOptions options = wal_writer_options(ctx);
  options.tiers = {"git"};
  auto wal = Wal::open(options);
  const uint64_t mark = std::min(seq, wal->status().head_seq);
  wal->confirm("git", mark);
  const uint64_t now = wal->confirmed("git");
  wal->close();
  return now;
}

struct ArchiveOptions {
  bool no_push = false;
  bool json = false;
  size_t limit = 0;
  bool remote = false;
  std::string dir;
  std::string commit;
  std::string before;
  bool local = false;
};

int run_archive(Context& ctx, const ArchiveOptions& o) {
  if (!is_directory_following_links(FileSystem::real(), ctx.data_dir)) {
    throw Error(ErrorCode::kNotFound, fmt::format("DATA_DIR {} does not exist", ctx.data_dir));
  }
  GitSyncConfig cfg = GitSyncConfig::from_env(ctx.data_dir);
  cfg.lineage_id = lineage::load_or_create(FileSystem::real(), ctx.data_dir);
  // Read before the walk: files the materializer changes meanwhile are
  // newer than this seq, and replaying from it repairs them.
  const uint64_t seq = read_state_seq(ctx.data_dir);
  GitSync git(cfg);
  SnapshotResult snap = git.snapshot(seq);
  nlohmann::json out;
  out["snapshot"] = snapshot_json(snap.tip);
  out["snapshot"]["committed"] = snap.committed;
  out["skipped"] = nlohmann::json::array();
  for (const auto& s : snap.skipped)
    out["skipped"].push_back({{"path", s.path}, {"reason", s.reason}});
  if (!o.json) {
    if (snap.committed) {
      std::cout << fmt::format("snapshot {} on {}: seq {}, {} files, {} bytes\n",
                               short_id(snap.tip.commit), cfg.branch, snap.tip.wal_seq,
                               snap.tip.file_count, snap.tip.total_bytes);
    } else {
      std::cout << fmt::format("unchanged since {} (seq {}): no commit\n",
                               short_id(snap.tip.commit), snap.tip.wal_seq);
    }
    for (const auto& s : snap.skipped)
      std::cout << "skipped " << escape_for_display(s.path) << ": " << escape_for_display(s.reason)
                << "\n";
  }
  out["push"] = nullptr;
  if (o.no_push) {
    if (!o.json) std::cout << "not pushed (--no-push)\n";
  } else {
    try {
      PushResult p = git.push();
      std::optional<uint64_t> wal_mark;
      if (!cfg.remote.empty() && p.confirmed_seq)
        wal_mark = confirm_git_in_wal(ctx, *p.confirmed_seq);
      if (!cfg.remote.empty()) {
        out["push"] = {
            {"pushed", p.pushed},
            {"commit", p.local_commit},
            {"remote_before",
             p.remote_before.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.remote_before)},
            {"confirmed_seq",
             p.confirmed_seq ? nlohmann::json(*p.confirmed_seq) : nlohmann::json(nullptr)},
            {"wal_git_mark", wal_mark ? nlohmann::json(*wal_mark) : nlohmann::json(nullptr)}};
      }
      if (!o.json) {
        std::cout << git.status().message << "\n";
        if (wal_mark) std::cout << fmt::format("WAL: the Git tier's mark is seq {}\n", *wal_mark);
      }
    } catch (const Error& e) {
      if (o.json) {
        out["status"] = status_json(git.status());
        out["error"] = {{"code", std::string(e.code_name())}, {"message", e.what()}};
        std::cout << out.dump(2) << "\n";
      }
      throw;
    }
  }
  if (o.json) {
    out["status"] = status_json(git.status());
    std::cout << out.dump(2) << "\n";
  }
  return 0;
}

// Whether GitSync would open (rather than create) a repository at dir.
bool repository_exists(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) && !std::filesystem::is_empty(dir, ec);
}

// A repository in a temporary directory, removed again: where `archive log
// --remote` fetches when there is no local repository (a fresh machine
// about to restore), so listing creates nothing in DATA_DIR.
class ScratchRepository {
 public:
  ScratchRepository() {
    const char* tmp = std::getenv("TMPDIR");
    path_ = fmt::format("{}/strata-log-XXXXXX", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
    if (::mkdtemp(path_.data()) == nullptr) throw_errno("creating", path_, errno);
  }
  ~ScratchRepository() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchRepository(const ScratchRepository&) = delete;
  ScratchRepository& operator=(const ScratchRepository&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int run_log(Context& ctx, const ArchiveOptions& o) {
  GitSyncConfig cfg = GitSyncConfig::from_env(ctx.data_dir);
  cfg.create_repo = false;  // listing creates nothing
  std::optional<ScratchRepository> scratch;
  if (o.remote && !repository_exists(cfg.repo_dir)) {
    scratch.emplace();
    cfg.repo_dir = scratch->path();
    cfg.create_repo = true;
  }
  GitSync git(cfg);
  auto entries = git.log(o.limit, o.remote);
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : entries) arr.push_back(snapshot_json(s));
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<12}  {:<20}  {:>10}  {:>8}  {:>12}\n", "COMMIT", "TIME", "SEQ",
                           "FILES", "BYTES");
  for (const auto& s : entries) {
    if (s.has_manifest) {
      std::cout << fmt::format("{:<12}  {:<20}  {:>10}  {:>8}  {:>12}\n", short_id(s.commit),
                               iso(s.commit_time), s.wal_seq, s.file_count, s.total_bytes);
    } else {
      std::cout << fmt::format("{:<12}  {:<20}  {:>10}  (not a strata snapshot)\n",
                               short_id(s.commit), iso(s.commit_time), "-");
    }
  }
  return 0;
}

int run_restore(Context& ctx, const ArchiveOptions& o) {
  RestoreOptions ro;
  if (o.local) ro.source = RestoreOptions::Source::kLocal;
  if (!o.commit.empty()) ro.commit = o.commit;
  if (!o.before.empty()) ro.before = parse_time(o.before);
  GitSyncConfig cfg = GitSyncConfig::from_env(ctx.data_dir);
  // Restoring from the remote on a fresh machine needs a repository to fetch
  // into; restoring from the local branch never creates one.
  cfg.create_repo = !cfg.remote.empty() && !o.local;
  RestoreResult r;
  try {
    GitSync git(cfg);
    r = git.restore(o.dir, ro);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    std::cerr << "strata: " << e.code_name() << ": " << escape_for_display(e.what()) << "\n";
    return kExitNotFound;
  }
  if (o.json) {
    nlohmann::json j = snapshot_json(r.snapshot);
    j["target"] = o.dir;
    j["files_written"] = r.files_written;
    j["bytes_written"] = r.bytes_written;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("restored {} (seq {}, {} files, {} bytes) into {}\n",
                             short_id(r.snapshot.commit), r.snapshot.wal_seq, r.files_written,
                             r.bytes_written, o.dir);
  }
  return 0;
}

}  // namespace

void register_archive_commands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ArchiveOptions>();
  auto* cmd = app.add_subcommand(
      "archive", "Snapshot DATA_DIR/state to the Git archive branch and push it (GIT_* variables)");
  cmd->add_flag("--no-push", o->no_push, "Commit locally only");
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  add_lock_timeout_option(cmd, ctx);

  auto* log = cmd->add_subcommand("log", "List the snapshots on the archive branch, newest first");
  log->add_option("--limit", o->limit, "Show at most this many (0: all)");
  log->add_flag("--remote", o->remote,
                "Fetch and list the remote's branch instead of the local one");
  log->add_flag("--json", o->json, "Print JSON");

  auto* restore = cmd->add_subcommand(
      "restore", "Write a snapshot into DIR (new or empty); prints the WAL seq it corresponds to");
  restore->add_option("DIR", o->dir, "Target directory")->required();
  auto* commit = restore->add_option("--commit", o->commit, "Restore this commit (id or revision)");
  auto* before = restore->add_option("--before", o->before,
                                     "Restore the newest snapshot at or before TIME "
                                     "(2026-02-11T01:12:00Z, @unix-seconds)");
  commit->excludes(before);
  restore->add_flag("--local", o->local, "Use the local branch even when GIT_REMOTE is set");
  restore->add_flag("--json", o->json, "Print JSON");

  cmd->callback([&ctx, o, log, restore] {
    if (log->parsed() || restore->parsed()) return;
    ctx.action = [&ctx, o] { return run_archive(ctx, *o); };
  });
  log->callback([&ctx, o] { ctx.action = [&ctx, o] { return run_log(ctx, *o); }; });
  restore->callback([&ctx, o] { ctx.action = [&ctx, o] { return run_restore(ctx, *o); }; });
}

}  // namespace strata::cli
