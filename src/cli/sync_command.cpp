// The object-store tier on the command line: `strata sync`, `strata
// checkpoint show`, `strata prune`, `strata remote verify`, and the tier's
// part of `strata status`. The store is the one `strata remote` and the
// daemon use (S3 when R2_ENDPOINT is set, else STRATA_LOCAL_REMOTE_DIR,
// default DATA_DIR/remote); docs/remote-format.md describes what is written
// there.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/lineage.h"
#include "strata/object_sync.h"
#include "strata/storage.h"
#include "strata/wal.h"

namespace strata::cli {

namespace {

std::optional<std::string> read_lineage(const Context& ctx) {
  return lineage::read(FileSystem::real(), ctx.data_dir);
}

std::string lineage_of(const Context& ctx) {
  return lineage::load_or_create(FileSystem::real(), ctx.data_dir);
}

bool store_applies_prefix() {
  return config::env("R2_ENDPOINT").has_value();
}

std::unique_ptr<CheckpointStorage> open_store(const Context& ctx) {
  return open_checkpoint_storage_from_env(ctx.local_remote_dir());
}

// The prefix this tier applies itself (filesystem store only).
std::string tier_prefix() {
  if (store_applies_prefix()) return "";
  std::string p = config::env_or("R2_PREFIX", "");
  if (!p.empty() && p.back() != '/') p.push_back('/');
  return p;
}

struct Tier {
  std::unique_ptr<Wal> wal;
  std::unique_ptr<CheckpointStorage> store;
  std::unique_ptr<ObjectStoreSync> sync;
};

Tier open_tier(const Context& ctx) {
  Tier t;
  ObjectSyncOptions o =
      ObjectSyncOptions::from_env(ctx.data_dir, lineage_of(ctx), store_applies_prefix());
  t.store = open_store(ctx);
  WalOptions w = WalOptions::from_env(ctx.wal_dir());
  // Both remote tiers hold the floor, so the pruner deletes only what each holds.
  w.tiers = {"object"};
  if (o.git_tier) w.tiers.push_back("git");
  t.wal = Wal::open(w);
  t.sync = std::make_unique<ObjectStoreSync>(*t.wal, *t.store, std::move(o));
  return t;
}

std::string mib(uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// Progress on a terminal, once an operation has run for about two seconds;
// nothing at all when stderr is not a terminal.
class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), tty_(::isatty(2) == 1) {}
  ~Progress() {
    if (shown_) std::fputs("\n", stderr);
  }
  ProgressFn fn() {
    if (!tty_) return {};
    return [this](const SyncProgress& p) { show(p); };
  }

 private:
  void show(const SyncProgress& p) {
    double secs = std::chrono::duration<double>(p.elapsed).count();
    if (secs < 2.0) return;
    double rate = secs > 0 ? static_cast<double>(p.bytes_done) / secs : 0;
    std::string eta = "?";
    if (rate > 0 && p.bytes_total > p.bytes_done) {
      eta = fmt::format("{:.0f} s", static_cast<double>(p.bytes_total - p.bytes_done) / rate);
    } else if (p.bytes_total <= p.bytes_done) {
      eta = "0 s";
    }
    std::fprintf(stderr, "\r%s: %llu/%llu objects, %s of %s, %s/s, ETA %s   ", what_.c_str(),
                 static_cast<unsigned long long>(p.objects_done),
                 static_cast<unsigned long long>(p.objects_total), mib(p.bytes_done).c_str(),
                 mib(p.bytes_total).c_str(), mib(static_cast<uint64_t>(rate)).c_str(), eta.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  std::string what_;
  bool tty_;
  bool shown_ = false;
};

nlohmann::json snapshot_json(const SnapshotObjectInfo& s) {
  return {{"key", s.key},
          {"seq", s.seq},
          {"timestamp_ms", s.timestamp_ms},
          {"stored_bytes", s.stored_bytes},
          {"sha256", s.sha256},
          {"created_at_ms", s.created_at_ms}};
}

nlohmann::json manifest_json(const Manifest& m) {
  nlohmann::json j = {{"format_version", m.format_version},
                      {"manifest_version", m.manifest_version},
                      {"lineage_id", m.lineage_id},
                      {"history_id", m.history_id},
                      {"written_at_ms", m.written_at_ms},
                      {"head_seq", m.head_seq},
                      {"head_timestamp_ms", m.head_timestamp_ms},
                      {"manifest_sha256", m.manifest_sha256},
                      {"log", nlohmann::json::array()},
                      {"snapshots", nlohmann::json::array()}};
  for (const auto& o : m.log) {
    j["log"].push_back({{"key", o.key},
                        {"first_seq", o.first_seq},
                        {"last_seq", o.last_seq},
                        {"entries", o.entries},
                        {"last_timestamp_ms", o.last_timestamp_ms},
                        {"raw_bytes", o.raw_bytes},
                        {"stored_bytes", o.stored_bytes},
                        {"sha256", o.sha256},
                        {"raw_sha256", o.raw_sha256},
                        {"compression", sync_compression_name(o.compression)},
                        {"created_at_ms", o.created_at_ms}});
  }
  for (const auto& s : m.snapshots) j["snapshots"].push_back(snapshot_json(s));
  return j;
}

struct Args {
  bool json = false;
  bool adopt = false;
  bool snapshot = false;
  bool dry_run = false;
};

int run_sync(const Context& ctx, const Args& a) {
  Tier t = open_tier(ctx);
  SyncRequest req;
  req.adopt = a.adopt;
  req.force_snapshot = a.snapshot;
  Progress progress("sync");
  req.progress = progress.fn();
  SyncResult r = t.sync->sync(req);
  if (a.json) {
    nlohmann::json j = {{"store", t.store->describe()},
                        {"wrote_manifest", r.wrote_manifest},
                        {"manifest_version", r.manifest_version},
                        {"previous_confirmed_seq", r.previous_confirmed_seq},
                        {"confirmed_seq", r.confirmed_seq},
                        {"objects_uploaded", r.objects_uploaded},
                        {"objects_reused", r.objects_reused},
                        {"raw_bytes", r.raw_bytes},
                        {"stored_bytes", r.stored_bytes},
                        {"snapshot", r.snapshot ? snapshot_json(*r.snapshot) : nullptr},
                        {"retention_deleted", r.retention_deleted},
                        {"orphans_deleted", r.orphans_deleted},
                        {"segments_pruned", r.segments_pruned},
                        {"duration_ms", r.duration.count()}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  if (!r.wrote_manifest) {
    std::cout << fmt::format("nothing new: confirmed seq {} (manifest version {}) on {}\n",
                             r.confirmed_seq, r.manifest_version, t.store->describe());
    return 0;
  }
  std::cout << fmt::format(
      "uploaded {} object(s){}: {} of records stored as {}{}\n", r.objects_uploaded,
      r.objects_reused ? fmt::format(" (+{} reused)", r.objects_reused) : "", mib(r.raw_bytes),
      mib(r.stored_bytes),
      r.raw_bytes ? fmt::format(" (ratio {:.2f})", static_cast<double>(r.stored_bytes) /
                                                       static_cast<double>(r.raw_bytes))
                  : "");
  if (r.snapshot) {
    std::cout << fmt::format("snapshot at seq {}: {} ({})\n", r.snapshot->seq, r.snapshot->key,
                             mib(r.snapshot->stored_bytes));
  }
  std::cout << fmt::format("confirmed seq {} (was {}), manifest version {} on {}\n",
                           r.confirmed_seq, r.previous_confirmed_seq, r.manifest_version,
                           t.store->describe());
  if (r.retention_deleted || r.orphans_deleted || r.segments_pruned) {
    std::cout << fmt::format(
        "deleted {} object(s) no longer needed, {} orphan(s); pruned {} "
        "local segment(s)\n",
        r.retention_deleted, r.orphans_deleted, r.segments_pruned);
  }
  return 0;
}

int run_checkpoint_show(const Context& ctx, const Args& a) {
  auto store = open_store(ctx);
  auto m = read_remote_manifest(*store, tier_prefix());
  if (!m) {
    std::cerr << "strata: NOT_FOUND: no " << kManifestKey << " in " << store->describe() << "\n";
    return kExitNotFound;
  }
  if (a.json) {
    std::cout << manifest_json(*m).dump(2) << "\n";
    return 0;
  }
  uint64_t raw = 0, stored = 0;
  for (const auto& o : m->log) {
    raw += o.raw_bytes;
    stored += o.stored_bytes;
  }
  std::cout << fmt::format(
      "store:            {}\n"
      "manifest version: {} (format {}, sha256 {} verified)\n"
      "lineage:          {}\n"
      "head seq:         {}\n"
      "log objects:      {} (seqs {}..{}; {} of records stored as {})\n"
      "snapshots:        {}{}\n",
      store->describe(), m->manifest_version, m->format_version, m->manifest_sha256, m->lineage_id,
      m->head_seq, m->log.size(), m->log_start(), m->head_seq, mib(raw), mib(stored),
      m->snapshots.size(),
      m->latest_snapshot() ? fmt::format(" (newest at seq {})", m->latest_snapshot()->seq) : "");
  for (const auto& s : m->snapshots) {
    std::cout << fmt::format("  {}  seq {}  {}\n", s.key, s.seq, mib(s.stored_bytes));
  }
  for (const auto& o : m->log) {
    std::cout << fmt::format("  {}  {}..{}  {} entries  {} -> {}\n", o.key, o.first_seq, o.last_seq,
                             o.entries, o.raw_bytes, o.stored_bytes);
  }
  return 0;
}

int run_prune(const Context& ctx, const Args& a) {
  Tier t = open_tier(ctx);
  PruneResult r = t.sync->prune(a.dry_run);
  if (a.json) {
    nlohmann::json j = {{"dry_run", r.dry_run},
                        {"confirmed_seq", r.confirmed_seq},
                        {"object_confirmed", r.object_confirmed},
                        {"git_confirmed", r.git_confirmed ? nlohmann::json(*r.git_confirmed)
                                                          : nlohmann::json(nullptr)},
                        {"sealed_before", r.sealed_before},
                        {"bytes", r.bytes},
                        {"reason", r.reason},
                        {"deleted", nlohmann::json::array()}};
    for (const auto& s : r.deleted) {
      j["deleted"].push_back({{"file", s.file},
                              {"first_seq", s.first_seq},
                              {"last_seq", s.last_seq},
                              {"bytes", s.bytes}});
    }
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("confirmed by every configured tier: seq {} (object store {}{})\n",
                           r.confirmed_seq, r.object_confirmed,
                           r.git_confirmed ? fmt::format(", git {}", *r.git_confirmed) : "");
  for (const auto& s : r.deleted) {
    std::cout << fmt::format("{} {}  seqs {}..{}  {} bytes\n",
                             r.dry_run ? "would delete" : "deleted", s.file, s.first_seq,
                             s.last_seq, s.bytes);
  }
  if (r.deleted.empty()) std::cout << "nothing to prune: " << r.reason << "\n";
  return 0;
}

int run_remote_verify(const Context& ctx, const Args& a) {
  auto store = open_store(ctx);
  uint32_t parallelism =
      static_cast<uint32_t>(std::min<uint64_t>(config::env_u64("SYNC_PARALLELISM", 4), 64));
  Progress progress("verify");
  RemoteVerifyResult r =
      verify_remote_prefix(*store, tier_prefix(), std::max(1u, parallelism), progress.fn());
  if (a.json) {
    nlohmann::json j = {{"ok", r.ok},
                        {"store", store->describe()},
                        {"manifest_found", r.manifest_found},
                        {"objects_checked", r.objects_checked},
                        {"bytes_checked", r.bytes_checked},
                        {"problems", nlohmann::json::array()}};
    if (r.manifest_found && r.ok) {
      j["manifest_version"] = r.manifest.manifest_version;
      j["head_seq"] = r.manifest.head_seq;
    }
    for (const auto& p : r.problems)
      j["problems"].push_back({{"key", p.key}, {"problem", p.problem}});
    std::cout << j.dump() << "\n";
    return r.ok ? 0 : kExitNotFound;
  }
  if (!r.ok) {
    const auto& p = r.problems.front();
    std::cout << fmt::format("FAIL {}: {}\n", p.key, p.problem);
    if (r.problems.size() > 1) {
      std::cout << fmt::format("({} more problem(s); --json lists them all)\n",
                               r.problems.size() - 1);
    }
    return kExitNotFound;
  }
  const Manifest& m = r.manifest;
  std::cout << fmt::format(
      "ok: manifest version {}, {} object(s), {} read back and hashed; seqs {}..{} contiguous{} "
      "on {}\n",
      m.manifest_version, r.objects_checked, mib(r.bytes_checked), m.log_start(), m.head_seq,
      m.latest_snapshot() ? fmt::format(" from the snapshot at seq {}", m.snapshots.front().seq)
                          : "",
      store->describe());
  return 0;
}

nlohmann::json sync_status_or_throw(const Context& ctx, Wal& wal) {
  auto lineage = read_lineage(ctx);
  if (!lineage) return {{"configured", false}, {"reason", "no lineage id yet (never synced)"}};
  auto store = open_store(ctx);
  ObjectStoreSync tier(wal, *store,
                       ObjectSyncOptions::from_env(ctx.data_dir, *lineage, store_applies_prefix()));
  SyncStatus s = tier.status();
  auto opt = [](const std::optional<int64_t>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"store", s.store},
          {"lineage_id", s.lineage_id},
          {"confirmed_seq", s.confirmed_seq},
          {"lag_entries", s.lag_entries},
          {"lag_seconds", s.lag_seconds},
          {"last_success_ms", opt(s.last_success_ms)},
          {"last_error_ms", opt(s.last_error_ms)},
          {"last_error", s.last_error},
          {"last_attempt_failed", s.last_attempt_failed}};
}

}  // namespace

nlohmann::json sync_status_json(const Context& ctx, Wal& wal) {
  try {
    return sync_status_or_throw(ctx, wal);
  } catch (const Error& e) {
    return {{"configured", false}, {"error", fmt::format("{}: {}", e.code_name(), e.what())}};
  }
}

std::string sync_status_text(const Context& ctx, Wal& wal) {
  nlohmann::json j = sync_status_json(ctx, wal);
  if (j.contains("error")) return "object store:   " + j["error"].get<std::string>() + "\n";
  if (!j.contains("store")) return "object store:   not synced yet\n";
  auto when = [](const nlohmann::json& v) {
    if (v.is_null()) return std::string("never");
    auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(v.get<int64_t>()));
    auto age =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t);
    return fmt::format("{} s ago", age.count());
  };
  std::string out = fmt::format(
      "object store:   {}\n"
      "  confirmed:    seq {} (lag {} entries, {:.1f} s)\n"
      "  last success: {}\n",
      j["store"].get<std::string>(), j["confirmed_seq"].get<uint64_t>(),
      j["lag_entries"].get<uint64_t>(), j["lag_seconds"].get<double>(), when(j["last_success_ms"]));
  if (j["last_attempt_failed"].get<bool>()) {
    out += fmt::format("  last error:   {} ({})\n", j["last_error"].get<std::string>(),
                       when(j["last_error_ms"]));
  }
  return out;
}

void register_sync_commands(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<Args>();

  CLI::App* sync = app.add_subcommand(
      "sync",
      "Ship the WAL to the object store now (S3/R2 when R2_ENDPOINT is set, else "
      "STRATA_LOCAL_REMOTE_DIR, default DATA_DIR/remote)");
  sync->add_flag("--json", args->json, "Print the result as one JSON object");
  sync->add_flag("--adopt", args->adopt,
                 "Take over a prefix written by another lineage (its objects are deleted)");
  sync->add_flag("--snapshot", args->snapshot, "Upload a state snapshot in this sync");
  sync->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_sync(ctx, *args); }; });

  CLI::App* checkpoint = app.add_subcommand("checkpoint", "The object store's manifest");
  checkpoint->require_subcommand(1);
  CLI::App* show = checkpoint->add_subcommand("show", "Print checkpoint.json, verified");
  show->add_flag("--json", args->json, "Print JSON");
  show->callback(
      [&ctx, args] { ctx.action = [&ctx, args] { return run_checkpoint_show(ctx, *args); }; });

  CLI::App* prune = app.add_subcommand(
      "prune", "Delete local sealed segments every configured remote tier has confirmed");
  prune->add_flag("--dry-run", args->dry_run, "Only say what would be deleted");
  prune->add_flag("--json", args->json, "Print JSON");
  prune->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_prune(ctx, *args); }; });

  CLI::App* remote = app.get_subcommand("remote");
  CLI::App* verify = remote->add_subcommand(
      "verify",
      "Check every object the manifest lists (present, size, SHA-256, contiguous "
      "seqs); exit 1 naming the first bad one");
  verify->add_flag("--json", args->json, "Print JSON");
  verify->callback(
      [&ctx, args] { ctx.action = [&ctx, args] { return run_remote_verify(ctx, *args); }; });
}

}  // namespace strata::cli
