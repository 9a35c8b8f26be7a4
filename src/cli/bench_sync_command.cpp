// `strata bench sync`: what the object-store tier costs on the configured
// store (S3/R2 when R2_ENDPOINT is set, else a directory under --dir).
//
// For each compression it appends --mb megabytes of JSON-like session entries
// to a fresh WAL (sync=none: the appends are not what is measured), runs one
// ObjectStoreSync::sync() and reports the bytes stored per byte of payload
// (path + data) and per byte of WAL record, the wall and CPU time of that
// sync, then runs a sync with nothing new and counts the store requests it
// made. Everything goes under a fresh key prefix (bench-<random>/), deleted
// afterwards unless --keep, so a bucket that holds real data is not touched.
#include <sys/resource.h>

#include <atomic>
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
#include "strata/object_sync.h"
#include "strata/storage.h"
#include "strata/wal.h"

namespace strata::cli {
namespace {

// Counts the requests a sync makes, by kind, around the store under test.
class CountingStore final : public CheckpointStorage {
 public:
  struct Counts {
    uint64_t reads = 0, writes = 0, deletes = 0, lists = 0, stats = 0;
  };
  explicit CountingStore(CheckpointStorage& inner) : inner_(inner) {}

  Counts counts() const {
    return {reads_.load(), writes_.load(), deletes_.load(), lists_.load(), stats_.load()};
  }

  std::string describe() const override { return inner_.describe(); }
  bool is_available() override { return inner_.is_available(); }
  std::optional<std::string> read_file(std::string_view key) override {
    reads_++;
    return inner_.read_file(key);
  }
  std::optional<VersionedObject> read_versioned(std::string_view key) override {
    reads_++;
    return inner_.read_versioned(key);
  }
  bool read_file_to(std::string_view key, const std::string& local_path) override {
    reads_++;
    return inner_.read_file_to(key, local_path);
  }
  bool stream_file(std::string_view key, const ByteSink& sink) override {
    reads_++;
    return inner_.stream_file(key, sink);
  }
  void write_file(std::string_view key, std::string_view data,
                  const WriteOptions& options) override {
    writes_++;
    inner_.write_file(key, data, options);
  }
  void write_file_from(std::string_view key, const std::string& local_path,
                       const WriteOptions& options) override {
    writes_++;
    inner_.write_file_from(key, local_path, options);
  }
  void delete_file(std::string_view key) override {
    deletes_++;
    inner_.delete_file(key);
  }
  std::vector<std::string> list_files(std::string_view prefix) override {
    lists_++;
    return inner_.list_files(prefix);
  }
  bool verify_checksum(std::string_view key, std::string_view sha256_hex) override {
    reads_++;
    return inner_.verify_checksum(key, sha256_hex);
  }
  std::optional<ObjectStat> stat(std::string_view key) override {
    stats_++;
    return inner_.stat(key);
  }
  std::vector<CheckResult> check() override { return inner_.check(); }

 private:
  CheckpointStorage& inner_;
  std::atomic<uint64_t> reads_{0}, writes_{0}, deletes_{0}, lists_{0}, stats_{0};
};

// Entries like an agent's session log: a JSON object per turn with a few
// fields and a text of 60-140 words, spread over 500 session files. A fixed
// seed, so every run ships the same bytes.
class SessionEntries {
 public:
  Entry next() {
    static const char* const kWords[] = {"the",   "state", "of",     "agent",  "memory", "task",
                                         "bead",  "tool",  "result", "called", "with",   "file",
                                         "error", "retry", "plan",   "next",   "step",   "done"};
    std::uniform_int_distribution<int> len(60, 140), word(0, std::size(kWords) - 1);
    std::string text;
    for (int n = len(rng_), k = 0; k < n; ++k) {
      if (k) text.push_back(' ');
      text += kWords[word(rng_)];
    }
    const uint64_t i = i_++;
    Entry e;
    e.type = EntryType::kSession;
    e.op = EntryOp::kUpdate;
    e.path = fmt::format("sessions/s-{:04}.json", i % 500);
    e.data = fmt::format(
        R"({{"session":"s-{:06}","turn":{},"role":"{}","model":"m-2","tokens":{},"ts":{},"text":"{}"}})",
        i % 500, i, i % 2 ? "assistant" : "user", 100 + (i * 37) % 900, 1764500000000ull + i * 1000,
        text);
    return e;
  }

 private:
  std::mt19937_64 rng_{7};
  uint64_t i_ = 0;
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Options {
  std::string dir;
  bool json = false;
  bool keep = false;
  uint64_t mb = 16;
  std::vector<std::string> compressions{"none", "zstd"};
};

// Deletes every key under prefix; what cannot be deleted is named, not fatal.
void delete_prefix(CheckpointStorage& store, const std::string& prefix) {
  try {
    for (const auto& key : store.list_files(prefix)) store.delete_file(key);
  } catch (const Error& e) {
    std::cerr << fmt::format("strata bench: could not delete {}* on {}: {}\n", prefix,
                             store.describe(), e.what());
  }
}

bench::Result run_one(const Options& o, const std::string& run_dir, CheckpointStorage& base,
                      const std::string& prefix, const std::string& compression) {
  FileSystem& fs = FileSystem::real();
  const std::string data_dir = fmt::format("{}/data-{}", run_dir, compression);
  create_directories(fs, data_dir);
  const std::string lineage_id = lineage::load_or_create(fs, data_dir);

  WalOptions w = WalOptions::from_env(data_dir + "/wal");
  w.sync = SyncMode::kNone;
  w.tiers = {"object"};
  w.warn_bytes = w.max_bytes = std::numeric_limits<uint64_t>::max() / 4;
  auto wal = Wal::open(w);
  SessionEntries gen;
  uint64_t payload = 0, entries = 0;
  std::vector<Entry> batch;
  while (payload < o.mb * 1000 * 1000) {
    batch.push_back(gen.next());
    payload += batch.back().path.size() + batch.back().data.size();
    if (batch.size() == 256) {
      wal->append_batch(batch);
      entries += batch.size();
      batch.clear();
    }
  }
  if (!batch.empty()) {
    wal->append_batch(batch);
    entries += batch.size();
  }
  wal->flush();
  const uint64_t wal_bytes = wal->status().total_bytes;

  ObjectSyncOptions so = ObjectSyncOptions::from_env(data_dir, lineage_id, true);
  so.key_prefix = fmt::format("{}{}/", prefix, compression);
  so.compression = compression == "zstd" ? SyncCompression::kZstd : SyncCompression::kNone;
  // The log alone is measured: no snapshot, no pruning.
  so.snapshot_interval_ms = so.snapshot_every_bytes = std::numeric_limits<uint64_t>::max();
  so.prune_after_sync = false;
  so.git_tier = false;
  CountingStore store(base);
  ObjectStoreSync sync(*wal, store, so);

  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  const SyncResult r = sync.sync();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  const auto busy = store.counts();

  const auto t1 = std::chrono::steady_clock::now();
  const SyncResult idle = sync.sync();
  const double idle_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  const auto after = store.counts();
  if (idle.wrote_manifest || idle.objects_uploaded) {
    throw Error(ErrorCode::kInternal, "a sync with nothing new uploaded something");
  }

  bench::Result res;
  res.name = "sync";
  res.params = {{"compression", compression},
                {"zstd_level", so.zstd_level},
                {"mb", o.mb},
                {"parallelism", so.parallelism},
                {"object_bytes", so.object_bytes},
                {"store", store.describe()}};
  res.ops = r.objects_uploaded;
  res.bytes = payload;
  res.seconds = seconds;
  const auto ratio = [](uint64_t a, uint64_t b) {
    return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
  };
  res.extra = {{"entries", entries},
               {"payload_bytes", payload},
               {"record_bytes", r.raw_bytes},
               {"wal_bytes", wal_bytes},
               {"stored_bytes", r.stored_bytes},
               {"stored_per_payload_byte", ratio(r.stored_bytes, payload)},
               {"stored_per_record_byte", ratio(r.stored_bytes, r.raw_bytes)},
               {"cpu_seconds", cpu},
               {"requests",
                {{"reads", busy.reads},
                 {"writes", busy.writes},
                 {"deletes", busy.deletes},
                 {"lists", busy.lists},
                 {"stats", busy.stats}}},
               {"idle_ms", idle_ms},
               {"idle_requests",
                {{"reads", after.reads - busy.reads},
                 {"writes", after.writes - busy.writes},
                 {"deletes", after.deletes - busy.deletes},
                 {"lists", after.lists - busy.lists},
                 {"stats", after.stats - busy.stats}}}};
  return res;
}

std::string table(const std::vector<bench::Result>& results) {
  std::string out =
      fmt::format("{:<6} {:>9} {:>12} {:>9} {:>9} {:>8} {:>8} {:>9}  {}\n", "comp", "payload",
                  "stored", "B/B pay", "B/B rec", "sync s", "cpu s", "MB/s", "nothing new");
  for (const auto& r : results) {
    const auto& x = r.extra;
    const auto& idle = x["idle_requests"];
    out += fmt::format(
        "{:<6} {:>8.1f}M {:>11.1f}M {:>9.3f} {:>9.3f} {:>8.2f} {:>8.2f} {:>9.1f}  {} GET, {} PUT, "
        "{} HEAD, {} LIST, {} DELETE in {:.0f} ms\n",
        r.params["compression"].get<std::string>(), x["payload_bytes"].get<double>() / 1e6,
        x["stored_bytes"].get<double>() / 1e6, x["stored_per_payload_byte"].get<double>(),
        x["stored_per_record_byte"].get<double>(), r.seconds, x["cpu_seconds"].get<double>(),
        r.mb_per_s(), idle["reads"].get<uint64_t>(), idle["writes"].get<uint64_t>(),
        idle["stats"].get<uint64_t>(), idle["lists"].get<uint64_t>(),
        idle["deletes"].get<uint64_t>(), x["idle_ms"].get<double>());
  }
  return out;
}

}  // namespace

void add_bench_sync(CLI::App& bench, Context& ctx) {
  auto* cmd = bench.add_subcommand(
      "sync",
      "One object-store sync of generated session entries to the configured store (R2_* or a "
      "directory), per compression: bytes stored, time, CPU, requests of a sync with nothing new");
  auto o = std::make_shared<Options>();
  cmd->add_option("--dir", o->dir,
                  "Parent directory for the generated data directories (default DATA_DIR/bench)");
  cmd->add_flag("--json", o->json, "Print one JSON object per result instead of a table");
  cmd->add_flag("--keep", o->keep, "Keep the generated data and the uploaded objects");
  cmd->add_option("--mb", o->mb, "Megabytes of entry payload (path + data) to ship")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  cmd->add_option("--compression", o->compressions, "none, zstd or both (comma-separated)")
      ->delimiter(',')
      ->check(CLI::IsMember({"none", "zstd"}));
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      // Declared before the store, which lives in it when no R2_* is set.
      RunDir run(bench_parent_dir(o->dir, ctx), "sync", o->keep);
      const std::string prefix = fmt::format("bench-{}/", random_hex(8));
      auto store = open_checkpoint_storage_from_env(run.path() + "/remote");
      std::vector<bench::Result> results;
      try {
        for (const auto& c : o->compressions) {
          results.push_back(run_one(*o, run.path(), *store, prefix, c));
          if (o->json) std::cout << bench::to_json(results.back()).dump() << std::endl;
        }
      } catch (...) {
        if (!o->keep) delete_prefix(*store, prefix);
        throw;
      }
      if (!o->json) std::cout << table(results);
      if (o->keep) {
        std::cerr << fmt::format("strata bench: kept {}* on {}\n", prefix, store->describe());
      } else {
        delete_prefix(*store, prefix);
      }
      return 0;
    };
  });
}

}  // namespace strata::cli
