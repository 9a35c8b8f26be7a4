// `strata bench recover`: how long a restore takes, from the object store and
// from the local WAL alone, on the data of bench/recover_vs_sdk.sh.
//
// It builds one data directory: --snapshot-kib of state written by creates
// of --entry-bytes of base64 text (one file each, over 20 directories),
// materialized and synced with a snapshot, then --log-kib of updates of the
// same paths, synced as log objects after it. Then, --repeat times in turn:
//   r2     run_recovery into a new --target directory from the configured
//          store (S3/R2 when R2_ENDPOINT is set, else a directory store under
//          the run directory): download, SHA-256 and record checks, WAL
//          import, snapshot extraction, replay, Wal::verify, state digest
//   local  run_recovery of the data directory with state/ and state.seq
//          deleted and no remote: the whole log replayed into state/
// MB/s is the entries' payload (data bytes, snapshot and log) per second of
// run_recovery, the way the script reports it. Everything goes under a
// fresh key prefix (bench-<random>/), deleted afterwards unless --keep (the
// script then downloads the same objects with the AWS SDK).
#include <chrono>
#include <iostream>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "bench/bench.h"
#include "cli/bench_run_dir.h"
#include "cli/cli.h"
#include "common/random_id.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/lineage.h"
#include "strata/materializer.h"
#include "strata/object_sync.h"
#include "strata/recovery.h"
#include "strata/storage.h"
#include "strata/wal.h"

namespace strata::cli {
namespace {

struct RecoverOptions {
  std::string dir;
  bool json = false;
  bool keep = false;
  uint64_t snapshot_kib = 10 << 10;  // the script's 10 MiB
  uint64_t log_kib = 100 << 10;      // and 100 MiB
  uint64_t entry_bytes = 4096;
  int repeat = 1;
};

// Base64 text from a fixed seed: it compresses about as poorly as most real
// state, and every run ships the same bytes.
class Base64Text {
 public:
  std::string next(size_t n) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string s(n, '\0');
    uint64_t bits = 0;
    int left = 0;
    for (char& c : s) {
      if (left < 6) {
        bits = rng_();
        left = 64;
      }
      c = kAlphabet[bits & 63];
      bits >>= 6;
      left -= 6;
    }
    return s;
  }

 private:
  std::mt19937_64 rng_{12};
};

struct BuiltData {
  std::string data_dir;
  uint64_t snapshot_entries = 0;
  uint64_t log_entries = 0;
  uint64_t payload_bytes = 0;  // data bytes of every entry
  uint64_t stored_bytes = 0;   // what the two syncs stored, snapshot included
};

void append_entries(Wal& wal, Base64Text& text, uint64_t n, uint64_t paths, EntryOp op,
                    size_t bytes) {
  std::vector<Entry> batch;
  for (uint64_t i = 0; i < n; ++i) {
    Entry e;
    e.type = EntryType::kMemory;
    e.op = op;
    e.path = fmt::format("mem/d{}/f{}", i % 20, i % paths);
    e.data = text.next(bytes);
    batch.push_back(std::move(e));
    if (batch.size() == 256) {
      wal.append_batch(batch);
      batch.clear();
    }
  }
  if (!batch.empty()) wal.append_batch(batch);
  wal.flush();
}

BuiltData build_data(const RecoverOptions& o, const std::string& run_dir, CheckpointStorage& store,
                     const std::string& prefix) {
  FileSystem& fs = FileSystem::real();
  BuiltData d;
  d.data_dir = run_dir + "/data";
  create_directories(fs, d.data_dir);
  const std::string lineage_id = lineage::load_or_create(fs, d.data_dir);
  WalOptions w = WalOptions::from_env(d.data_dir + "/wal");
  w.sync = SyncMode::kNone;  // the appends are not what is measured
  w.tiers = {"object"};
  w.warn_bytes = w.max_bytes = std::numeric_limits<uint64_t>::max() / 4;
  auto wal = Wal::open(w);

  d.snapshot_entries = std::max<uint64_t>(1, (o.snapshot_kib << 10) / o.entry_bytes);
  d.log_entries = (o.log_kib << 10) / o.entry_bytes;
  d.payload_bytes = (d.snapshot_entries + d.log_entries) * o.entry_bytes;
  Base64Text text;
  append_entries(*wal, text, d.snapshot_entries, d.snapshot_entries, EntryOp::kCreate,
                 o.entry_bytes);
  Materializer(d.data_dir).run(*wal);

  ObjectSyncOptions so = ObjectSyncOptions::from_env(d.data_dir, lineage_id, true);
  so.key_prefix = prefix;
  // One snapshot, where the bench asks for it; the local WAL stays whole so
  // that it can be restored from alone.
  so.snapshot_interval_ms = so.snapshot_every_bytes = std::numeric_limits<uint64_t>::max();
  so.prune_after_sync = false;
  so.git_tier = false;
  {
    ObjectStoreSync sync(*wal, store, so);
    SyncRequest with_snapshot;
    with_snapshot.force_snapshot = true;
    d.stored_bytes += sync.sync(with_snapshot).stored_bytes;
    append_entries(*wal, text, d.log_entries, d.snapshot_entries, EntryOp::kUpdate, o.entry_bytes);
    d.stored_bytes += sync.sync().stored_bytes;
  }
  Materializer(d.data_dir).run(*wal);
  return d;
}

bench::Result time_recovery(const RecoverOptions& o, const BuiltData& d, const std::string& source,
                            const RecoveryConfig& cfg, const RecoveryTiers& tiers, int run) {
  const auto t0 = std::chrono::steady_clock::now();
  const RecoveryResult r = run_recovery(cfg, tiers);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string_view want = source == "r2" ? "r2" : "local";
  if (r.state != RecoveryState::kRunning || recovery_source_name(r.source) != want ||
      (source == "r2" && !r.verified)) {
    throw Error(ErrorCode::kInternal,
                fmt::format("bench recover: the {} restore ended {} from {}: {} {}", source,
                            recovery_state_name(r.state), recovery_source_name(r.source),
                            r.error_code, r.error));
  }
  bench::Result res;
  res.name = "recover";
  res.params = {{"source", source},
                {"run", run},
                {"snapshot_kib", o.snapshot_kib},
                {"log_kib", o.log_kib},
                {"entry_bytes", o.entry_bytes},
                {"parallelism", cfg.parallelism},
                {"store", tiers.object_store ? tiers.object_store->describe() : "none"}};
  res.ops = r.entries_replayed;
  res.bytes = d.payload_bytes;
  res.seconds = seconds;
  res.extra = {{"payload_bytes", d.payload_bytes},
               {"stored_bytes", d.stored_bytes},
               {"snapshot_entries", d.snapshot_entries},
               {"log_entries", d.log_entries},
               {"files_restored", r.files_restored},
               {"entries_restored", r.entries_restored},
               {"entries_replayed", r.entries_replayed},
               {"objects_downloaded", r.objects_downloaded},
               {"bytes_downloaded", r.bytes_downloaded},
               {"seq_reached", r.seq_reached},
               {"verified", r.verified},
               // Where the data and the objects are (for --keep).
               {"data_dir", d.data_dir},
               {"key_prefix", tiers.object_store ? tiers.object_key_prefix : ""}};
  return res;
}

std::string recover_table(const std::vector<bench::Result>& results) {
  std::string out = fmt::format("{:<6} {:>4} {:>10} {:>9} {:>8} {:>11} {:>9}\n", "source", "run",
                                "seconds", "MB/s", "objects", "downloaded", "replayed");
  for (const auto& r : results) {
    out += fmt::format("{:<6} {:>4} {:>10.3f} {:>9.1f} {:>8} {:>10.1f}M {:>9}\n",
                       r.params["source"].get<std::string>(), r.params["run"].get<int>(), r.seconds,
                       r.mb_per_s(), r.extra["objects_downloaded"].get<uint64_t>(),
                       r.extra["bytes_downloaded"].get<double>() / 1e6,
                       r.extra["entries_replayed"].get<uint64_t>());
  }
  return out;
}

void delete_keys(CheckpointStorage& store, const std::string& prefix) {
  try {
    for (const auto& key : store.list_files(prefix)) store.delete_file(key);
  } catch (const Error& e) {
    std::cerr << fmt::format("strata bench: could not delete {}* on {}: {}\n", prefix,
                             store.describe(), e.what());
  }
}

int run_bench_recover(const Context& ctx, const RecoverOptions& o) {
  // Declared before the store, which lives in it when no R2_* is set.
  RunDir run(bench_parent_dir(o.dir, ctx), "recover", o.keep);
  const std::string prefix = fmt::format("bench-{}/", random_hex(8));
  auto store = open_checkpoint_storage_from_env(run.path() + "/remote");
  std::vector<bench::Result> results;
  try {
    const BuiltData d = build_data(o, run.path(), *store, prefix);
    if (!o.json)
      std::cout << fmt::format(
          "data: {} entries in the snapshot, {} after it ({}-byte payloads, {:.1f} MB); stored "
          "{:.1f} MB on {} under {}\n",
          d.snapshot_entries, d.log_entries, o.entry_bytes, d.payload_bytes / 1e6,
          d.stored_bytes / 1e6, store->describe(), prefix);
    for (int i = 1; i <= o.repeat; ++i) {
      // Each restore starts as the script's does: the previous result
      // removed just before (which is what makes this file system's
      // creates slow, so it is part of what is measured).
      const std::string target = run.path() + "/target";
      bench::remove_tree(target);
      RecoveryConfig to_target = RecoveryConfig::from_env(d.data_dir);
      to_target.target_dir = target;
      RecoveryTiers remote;
      remote.object_store = store.get();
      remote.object_key_prefix = prefix;
      results.push_back(time_recovery(o, d, "r2", to_target, remote, i));
      if (o.json) std::cout << bench::to_json(results.back()).dump() << std::endl;

      bench::remove_tree(d.data_dir + "/state");
      bench::remove_tree(d.data_dir + "/state.seq");
      results.push_back(
          time_recovery(o, d, "local", RecoveryConfig::from_env(d.data_dir), RecoveryTiers{}, i));
      if (o.json) std::cout << bench::to_json(results.back()).dump() << std::endl;
    }
  } catch (...) {
    if (!o.keep) delete_keys(*store, prefix);
    throw;
  }
  if (!o.json) std::cout << recover_table(results);
  if (o.keep) {
    std::cerr << fmt::format("strata bench: kept {}* on {}\n", prefix, store->describe());
  } else {
    delete_keys(*store, prefix);
  }
  return 0;
}

}  // namespace

void add_bench_recover(CLI::App& bench, Context& ctx) {
  auto* cmd = bench.add_subcommand(
      "recover",
      "Restore generated data (a state snapshot plus a log after it) from the configured store "
      "(R2_* or a directory) and from the local WAL alone: time and MB/s of payload");
  auto o = std::make_shared<RecoverOptions>();
  cmd->add_option("--dir", o->dir,
                  "Parent directory for the generated data directory (default DATA_DIR/bench)");
  cmd->add_flag("--json", o->json, "Print one JSON object per result instead of a table");
  cmd->add_flag("--keep", o->keep, "Keep the generated data and the uploaded objects");
  cmd->add_option("--snapshot-kib", o->snapshot_kib,
                  "KiB of state in the snapshot (default 10240, as the script)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100} << 20));
  cmd->add_option("--log-kib", o->log_kib, "KiB of log after the snapshot (default 102400)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{100} << 20));
  cmd->add_option("--entry-bytes", o->entry_bytes, "Payload bytes per entry")
      ->check(CLI::Range(uint64_t{1}, uint64_t{64} << 20));
  cmd->add_option("--repeat", o->repeat, "Restores of each kind, in turn")
      ->check(CLI::Range(1, 1000));
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return run_bench_recover(ctx, *o); }; });
}

}  // namespace strata::cli
