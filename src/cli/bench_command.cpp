// `strata bench`: measures this machine's disk and the WAL on it, like
// `etcdctl check perf` or `pgbench`. Subcommands fsync, append, replay, open,
// read and sync (bench_sync_command.cpp) print a table, or with --json one
// JSON object per result.
//
// Data goes to a fresh directory under --dir (default DATA_DIR/bench), on the
// data directory's file system because that is where fsync speed matters;
// it is removed afterwards unless --keep.
#include <iostream>

#include <fmt/format.h>

#include "bench/bench.h"
#include "cli/bench_run_dir.h"
#include "cli/cli.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/fs.h"

namespace strata::cli {
namespace {

struct Common {
  std::string dir;  // parent of the run directories
  bool json = false;
  bool keep = false;
  uint64_t count = 0;
  double seconds = 2.0;
  std::vector<int> threads;
  size_t size = 256;
};

// A size option (the same syntax as the WAL_* sizes), as a usage error when bad.
uint64_t parse_size(const std::string& option, const std::string& s, uint64_t min = 0) {
  uint64_t v = 0;
  try {
    v = config::parse_bytes(s, option);
  } catch (const Error& e) {
    throw CLI::ValidationError(option, e.what());
  }
  if (v < min) throw CLI::ValidationError(option, fmt::format("must be at least {}", min));
  return v;
}

// The WAL refuses smaller segments (WAL_SEGMENT_BYTES has the same floor).
constexpr uint64_t kMinSegmentBytes = 4096;

void add_common(CLI::App* cmd, Common& c, std::vector<int> default_threads, bool timed) {
  c.threads = std::move(default_threads);
  cmd->add_option("--dir", c.dir,
                  "Parent directory for benchmark data (default DATA_DIR/bench; use a disk, "
                  "not tmpfs)");
  cmd->add_flag("--json", c.json, "Print one JSON object per result instead of a table");
  cmd->add_flag("--keep", c.keep, "Keep the generated data");
  if (!timed) return;
  cmd->add_option("--threads", c.threads, "Thread counts, comma-separated (one result each)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--size", c.size, "Payload bytes per operation")->check(CLI::Range(1, 16 << 20));
  auto* count = cmd->add_option("--count", c.count, "Operations per result (all threads)");
  auto* secs = cmd->add_option("--seconds", c.seconds, "Seconds per result (when no --count)")
                   ->check(CLI::PositiveNumber);
  count->excludes(secs);
}

bench::Limit limit_of(const Common& c) {
  return bench::Limit{c.count, c.seconds};
}

std::string parent_dir(const Common& c, const Context& ctx) {
  return bench_parent_dir(c.dir, ctx);
}

// Prints results as they come when --json (a long run shows progress), else
// collects them for one table at the end.
class Printer {
 public:
  explicit Printer(bool json) : json_(json) {}
  void add(const bench::Result& r) {
    if (json_) {
      std::cout << bench::to_json(r).dump() << std::endl;
    } else {
      results_.push_back(r);
    }
  }
  void finish() {
    if (!json_) std::cout << bench::format_table(results_);
  }

 private:
  bool json_;
  std::vector<bench::Result> results_;
};

void add_fsync(CLI::App& bench, Context& ctx) {
  auto* cmd = bench.add_subcommand(
      "fsync", "The disk's limit: write(size)+fdatasync in a loop, one file per thread");
  auto c = std::make_shared<Common>();
  auto file = std::make_shared<std::string>("both");
  add_common(cmd, *c, {1, 4}, true);
  cmd->add_option("--file", *file,
                  "growing (append to the file), preallocated (overwrite zero-filled space) "
                  "or both")
      ->check(CLI::IsMember({"growing", "preallocated", "both"}));
  cmd->callback([&ctx, c, file] {
    ctx.action = [&ctx, c, file] {
      RunDir dir(parent_dir(*c, ctx), "fsync", c->keep);
      Printer out(c->json);
      for (int t : c->threads) {
        for (bool pre : {false, true}) {
          if (*file != "both" && (*file == "preallocated") != pre) continue;
          out.add(bench::bench_fsync(dir.path(), t, c->size, limit_of(*c), pre));
        }
      }
      out.finish();
      return 0;
    };
  });
}

void add_append(CLI::App& bench, Context& ctx) {
  auto* cmd = bench.add_subcommand(
      "append", "WAL appends: throughput, latency, fsyncs per entry, ratio to the fsync limit");
  auto c = std::make_shared<Common>();
  struct Args {
    std::string sync = "always";
    std::string segment_bytes = "64M";
    uint32_t syncs_in_flight = WalOptions{}.syncs_in_flight;
    double baseline_seconds = 1.0;
    bool no_baseline = false;
  };
  auto a = std::make_shared<Args>();
  add_common(cmd, *c, {1}, true);
  cmd->add_option("--sync", a->sync, "always, interval or none")
      ->check(CLI::IsMember({"always", "interval", "none"}));
  cmd->add_option("--segment-bytes", a->segment_bytes, "WAL segment size (e.g. 64M)");
  cmd->add_option("--syncs-in-flight", a->syncs_in_flight,
                  "always mode: group commits whose fdatasync may overlap")
      ->check(CLI::Range(1, 16));
  cmd->add_option("--baseline-seconds", a->baseline_seconds,
                  "Length of the single-thread fsync run the ratio is taken against")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-baseline", a->no_baseline, "Skip the fsync run (no ratio)");
  cmd->callback([&ctx, c, a] {
    const uint64_t seg = parse_size("--segment-bytes", a->segment_bytes, kMinSegmentBytes);
    ctx.action = [&ctx, c, a, seg] {
      Printer out(c->json);
      double base_ops = 0;
      if (!a->no_baseline) {
        // The same size, one thread, a growing file: the plain append+fdatasync
        // loop an application would write without a WAL, measured now.
        RunDir dir(parent_dir(*c, ctx), "fsync", c->keep);
        auto r =
            bench::bench_fsync(dir.path(), 1, c->size, bench::Limit{0, a->baseline_seconds}, false);
        base_ops = r.ops_per_s();
        out.add(r);
      }
      for (int t : c->threads) {
        RunDir dir(parent_dir(*c, ctx), "append", c->keep);
        bench::AppendOptions o;
        o.threads = t;
        o.size = c->size;
        o.sync = parse_sync_mode(a->sync);
        o.segment_bytes = seg;
        o.syncs_in_flight = a->syncs_in_flight;
        o.limit = limit_of(*c);
        auto r = bench::bench_append(dir.path() + "/wal", o);
        if (base_ops > 0) r.extra["ratio_to_fsync"] = r.ops_per_s() / base_ops;
        out.add(r);
      }
      out.finish();
      return 0;
    };
  });
}

void add_replay(CLI::App& bench, Context& ctx) {
  auto* cmd = bench.add_subcommand(
      "replay", "Replay speed (CRC-checked) over a generated log, or the data directory's");
  auto c = std::make_shared<Common>();
  struct Args {
    uint64_t entries = 1000000;
    size_t size = 256;
    int passes = 3;
    bool existing = false;
  };
  auto a = std::make_shared<Args>();
  add_common(cmd, *c, {1}, false);
  cmd->add_option("--entries", a->entries, "Entries to generate")->check(CLI::PositiveNumber);
  cmd->add_option("--size", a->size, "Payload bytes per generated entry")
      ->check(CLI::Range(1, 16 << 20));
  cmd->add_option("--passes", a->passes, "Replays; the fastest is reported (page cache warm)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--existing", a->existing,
                "Replay DATA_DIR/wal instead of generating (stop writers first: it takes the "
                "WAL's lock)");
  cmd->callback([&ctx, c, a] {
    ctx.action = [&ctx, c, a] {
      Printer out(c->json);
      if (a->existing) {
        out.add(bench::bench_replay(ctx.wal_dir(), a->passes));
      } else {
        RunDir dir(parent_dir(*c, ctx), "replay", c->keep);
        bench::generate_log(dir.path() + "/wal", a->entries, a->size, 64ull << 20);
        auto r = bench::bench_replay(dir.path() + "/wal", a->passes);
        r.params["size"] = a->size;
        out.add(r);
      }
      out.finish();
      return 0;
    };
  });
}

void add_open(CLI::App& bench, Context& ctx) {
  auto* cmd = bench.add_subcommand(
      "open", "Time to open a data directory holding a large log, at growing log sizes");
  auto c = std::make_shared<Common>();
  struct Args {
    std::vector<std::string> sizes{"128M", "1G"};
    std::string segment_bytes = "64M";
    size_t size = 256;
    int times = 5;
  };
  auto a = std::make_shared<Args>();
  add_common(cmd, *c, {1}, false);
  cmd->add_option("--log-sizes", a->sizes,
                  "Log sizes to reach, comma-separated, ascending (one result each)")
      ->delimiter(',');
  cmd->add_option("--segment-bytes", a->segment_bytes, "Segment size of the generated log");
  cmd->add_option("--size", a->size, "Payload bytes per generated entry")
      ->check(CLI::Range(1, 16 << 20));
  cmd->add_option("--times", a->times, "Opens per size; the median is reported")
      ->check(CLI::PositiveNumber);
  cmd->callback([&ctx, c, a] {
    std::vector<uint64_t> sizes;
    for (const auto& s : a->sizes) sizes.push_back(parse_size("--log-sizes", s, 1));
    if (!std::is_sorted(sizes.begin(), sizes.end()))
      throw CLI::ValidationError("--log-sizes", "must be ascending");
    const uint64_t seg = parse_size("--segment-bytes", a->segment_bytes, kMinSegmentBytes);
    ctx.action = [&ctx, c, a, sizes, seg] {
      Printer out(c->json);
      RunDir dir(parent_dir(*c, ctx), "open", c->keep);
      const std::string wal = dir.path() + "/wal";
      // Each size extends the same log, so the whole run writes the largest
      // size once. Record bytes are estimated for the entry count; the
      // result reports the log's real size.
      const uint64_t record = bench::generated_entry_bytes(a->size) + 28;
      uint64_t written = 0;
      for (uint64_t target : sizes) {
        const uint64_t want = target / record;
        if (want > written) written += bench::generate_log(wal, want - written, a->size, seg);
        auto r = bench::bench_open(wal, a->times);
        r.params["segment_bytes"] = seg;
        out.add(r);
      }
      out.finish();
      return 0;
    };
  });
}

void add_read(CLI::App& bench, Context& ctx) {
  auto* cmd = bench.add_subcommand("read", "Random read_entry per second over a generated log");
  auto c = std::make_shared<Common>();
  auto entries = std::make_shared<uint64_t>(200000);
  add_common(cmd, *c, {1}, true);
  cmd->add_option("--entries", *entries, "Entries to generate")->check(CLI::PositiveNumber);
  cmd->callback([&ctx, c, entries] {
    ctx.action = [&ctx, c, entries] {
      Printer out(c->json);
      RunDir dir(parent_dir(*c, ctx), "read", c->keep);
      // Small segments, so reads cross many sealed segments as in a long-lived log.
      bench::generate_log(dir.path() + "/wal", *entries, c->size, 8ull << 20);
      for (int t : c->threads) {
        auto r = bench::bench_read(dir.path() + "/wal", t, limit_of(*c));
        r.params["size"] = c->size;
        out.add(r);
      }
      out.finish();
      return 0;
    };
  });
}

}  // namespace

void register_bench_commands(CLI::App& app, Context& ctx) {
  auto* bench =
      app.add_subcommand("bench", "Measure the disk, the WAL, sync and recovery on this machine");
  bench->require_subcommand(1);
  add_fsync(*bench, ctx);
  add_append(*bench, ctx);
  add_replay(*bench, ctx);
  add_open(*bench, ctx);
  add_read(*bench, ctx);
  add_bench_sync(*bench, ctx);
  add_bench_recover(*bench, ctx);
}

}  // namespace strata::cli
