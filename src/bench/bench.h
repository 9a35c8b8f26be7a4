// Benchmark workloads shared by `strata bench` and the comparison program in
// bench/: a thread driver that times every operation, the disk's own
// write+fdatasync limit, and the WAL workloads (append, replay, open, read).
//
// Every workload returns a Result; the caller prints it as a table row or as
// one JSON object. Nothing here asserts speed: it only measures.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/wal.h"

namespace strata::bench {

struct Result {
  std::string name;       // "fsync", "append", "rocksdb", ...
  nlohmann::json params;  // what was run: threads, size, sync, ...
  uint64_t ops = 0;
  uint64_t bytes = 0;  // payload bytes moved (MB/s is computed from these)
  double seconds = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  uint64_t fsyncs = 0;    // fdatasync calls made (0 when not known)
  double mean_group = 0;  // entries per group commit (0 when not known)
  nlohmann::json extra;   // workload-specific figures (ratios, sizes, ...)
  double ops_per_s() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double mb_per_s() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0; }
};

// One flat-ish JSON object: name, params, ops, seconds, ops_per_s, mb_per_s,
// p50_us, p99_us, p999_us, fsyncs, mean_group_size, then `extra`'s fields.
nlohmann::json to_json(const Result& r);
// A human table, one row per result.
std::string format_table(const std::vector<Result>& results);

// How long a run lasts: `count` operations in total (split over threads) if
// non-zero, else `seconds` of wall time per thread.
struct Limit {
  uint64_t count = 0;
  double seconds = 2.0;
};

// Runs op(thread, i) on `threads` threads until the limit, timing each call.
// Fills ops, seconds and the latency percentiles of the result.
void run_timed(int threads, const Limit& limit, const std::function<void(int, uint64_t)>& op,
               Result* result);

// write(size bytes)+fdatasync in a loop, one file per thread under dir.
// preallocated: overwrite zero-filled space (no size change per sync)
// instead of appending to a growing file.
Result bench_fsync(const std::string& dir, int threads, size_t size, const Limit& limit,
                   bool preallocated);

struct AppendOptions {
  int threads = 1;
  size_t size = 256;  // payload bytes per entry
  SyncMode sync = SyncMode::kAlways;
  uint64_t segment_bytes = 64ull << 20;
  uint32_t syncs_in_flight = WalOptions{}.syncs_in_flight;
  Limit limit;
};
// Durable (or not) appends of distinct entries into a fresh WAL in dir.
Result bench_append(const std::string& dir, const AppendOptions& o);

// Fills the WAL in dir (created if needed) with `entries` more entries of
// `size` bytes using sync=none, then closes it. Returns entries written.
uint64_t generate_log(const std::string& dir, uint64_t entries, size_t size,
                      uint64_t segment_bytes);
// Bytes of payload + path per generated entry (for overhead figures).
size_t generated_entry_bytes(size_t size);

// Replays every entry of the WAL in dir `passes` times (CRCs are checked by
// the reader); the result is the fastest pass.
Result bench_replay(const std::string& dir, int passes);
// Opens and closes the WAL in dir `times` times; latency figures are per open.
Result bench_open(const std::string& dir, int times);
// Random read_entry over the WAL in dir.
Result bench_read(const std::string& dir, int threads, const Limit& limit);

// WAL options for benchmarking: size limits that a large log does not hit
// (they would request compaction) and the given sync mode.
WalOptions bench_wal_options(const std::string& dir, SyncMode sync, uint64_t segment_bytes);

// A fresh, empty directory path under parent (created), and its removal.
std::string make_run_dir(const std::string& parent, const std::string& tag);
void remove_tree(const std::string& path);

}  // namespace strata::bench
