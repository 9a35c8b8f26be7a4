#include "bench/bench.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "strata/error.h"

namespace strata::bench {
namespace {

using Clock = std::chrono::steady_clock;

double pct(std::vector<uint64_t>& ns, double q) {
  if (ns.empty()) return 0;
  size_t k = static_cast<size_t>(q * static_cast<double>(ns.size() - 1));
  std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
  return static_cast<double>(ns[k]) / 1000.0;
}

// Payload bytes that do not compress to nothing, the same for every run.
std::string payload(size_t size, uint64_t seed) {
  std::string s(size, '\0');
  std::mt19937_64 rng(seed);
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

[[noreturn]] void throw_errno(const char* what, const std::string& path) {
  throw Error(ErrorCode::kIoError, fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// Entries of the generated logs: short paths, so per-entry overhead figures
// are about the format, not about long names.
std::string gen_path(uint64_t i) {
  return fmt::format("bench/k{:06}", i % 1000000);
}

}  // namespace

size_t generated_entry_bytes(size_t size) {
  return gen_path(0).size() + size;
}

nlohmann::json to_json(const Result& r) {
  nlohmann::json j;
  j["name"] = r.name;
  j["params"] = r.params;
  j["ops"] = r.ops;
  j["seconds"] = r.seconds;
  j["ops_per_s"] = r.ops_per_s();
  j["mb_per_s"] = r.mb_per_s();
  j["p50_us"] = r.p50_us;
  j["p99_us"] = r.p99_us;
  j["p999_us"] = r.p999_us;
  j["fsyncs"] = r.fsyncs;
  j["mean_group_size"] = r.mean_group;
  if (r.extra.is_object()) {
    for (const auto& [k, v] : r.extra.items()) j[k] = v;
  }
  return j;
}

std::string format_table(const std::vector<Result>& results) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"name", "params", "ops", "ops/s", "MB/s", "p50 us", "p99 us", "p999 us", "fsyncs",
                  "group", "notes"});
  for (const auto& r : results) {
    std::string params;
    for (const auto& [k, v] : r.params.items()) {
      if (!params.empty()) params += ' ';
      params += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    std::string notes;
    if (r.extra.is_object()) {
      for (const auto& [k, v] : r.extra.items()) {
        if (!notes.empty()) notes += ' ';
        if (v.is_number_float()) {
          notes += fmt::format("{}={:.3g}", k, v.get<double>());
        } else {
          notes += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
        }
      }
    }
    rows.push_back({r.name, params, std::to_string(r.ops), fmt::format("{:.0f}", r.ops_per_s()),
                    fmt::format("{:.1f}", r.mb_per_s()), fmt::format("{:.1f}", r.p50_us),
                    fmt::format("{:.1f}", r.p99_us), fmt::format("{:.1f}", r.p999_us),
                    std::to_string(r.fsyncs),
                    r.mean_group > 0 ? fmt::format("{:.1f}", r.mean_group) : "-", notes});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      // Text columns left-aligned, figures right-aligned.
      const bool text = i < 2 || i + 1 == row.size();
      line +=
          text ? fmt::format("{:<{}}", row[i], width[i]) : fmt::format("{:>{}}", row[i], width[i]);
      if (i + 1 < row.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  return out.str();
}

void run_timed(int threads, const Limit& limit, const std::function<void(int, uint64_t)>& op,
               Result* result) {
  if (threads < 1) throw Error(ErrorCode::kInvalidArgument, "threads must be at least 1");
  std::vector<std::vector<uint64_t>> lat(static_cast<size_t>(threads));
  std::atomic<bool> go{false}, failed{false};
  std::atomic<int> ready{0};
  std::exception_ptr error;
  std::mutex error_mu;
  Clock::time_point start, deadline;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto& mine = lat[static_cast<size_t>(t)];
      uint64_t n = 0;
      if (limit.count > 0) {
        n = limit.count / static_cast<uint64_t>(threads) +
            (static_cast<uint64_t>(t) < limit.count % static_cast<uint64_t>(threads) ? 1 : 0);
        mine.reserve(n);
      } else {
        mine.reserve(1 << 16);
      }
      ready++;
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      try {
        // One clock read per operation: the end of one is the start of the next.
        auto t0 = Clock::now();
        for (uint64_t i = 0; limit.count > 0 ? i < n : true; ++i) {
          if (failed.load(std::memory_order_relaxed)) break;
          op(t, i);
          auto t1 = Clock::now();
          mine.push_back(static_cast<uint64_t>((t1 - t0).count()));
          t0 = t1;
          if (limit.count == 0 && t1 >= deadline) break;
        }
      } catch (...) {
        std::lock_guard lk(error_mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(limit.seconds));
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  const auto end = Clock::now();
  if (error) std::rethrow_exception(error);
  std::vector<uint64_t> all;
  size_t total = 0;
  for (const auto& v : lat) total += v.size();
  all.reserve(total);
  for (auto& v : lat) {
    all.insert(all.end(), v.begin(), v.end());
    std::vector<uint64_t>().swap(v);
  }
  result->ops = all.size();
  result->seconds = std::chrono::duration<double>(end - start).count();
  result->p50_us = pct(all, 0.50);
  result->p99_us = pct(all, 0.99);
  result->p999_us = pct(all, 0.999);
}

Result bench_fsync(const std::string& dir, int threads, size_t size, const Limit& limit,
                   bool preallocated) {
  // Space each preallocated file cycles through: large enough that the
  // writes are spread like a log's, small enough to zero-fill quickly.
  constexpr uint64_t kPreallocBytes = 16ull << 20;
  if (size == 0 || size > kPreallocBytes)
    throw Error(ErrorCode::kInvalidArgument, "fsync: size must be 1 byte to 16 MiB");
  std::vector<int> fds;
  std::vector<std::string> paths;
  const std::string buf = payload(size, 1);
  for (int t = 0; t < threads; ++t) {
    paths.push_back(fmt::format("{}/fsync-{}.dat", dir, t));
    int fd = ::open(paths.back().c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("open", paths.back());
    fds.push_back(fd);
    if (preallocated) {
      // Zero-filled, written and synced before timing: the timed writes only
      // overwrite allocated blocks, as the WAL's preallocated segments do.
      const std::string zeros(1 << 20, '\0');
      for (uint64_t off = 0; off < kPreallocBytes; off += zeros.size()) {
        if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(off)) < 0)
          throw_errno("write", paths.back());
      }
      if (::fsync(fd) != 0) throw_errno("fsync", paths.back());
    }
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // the new files' entries, so they are not part of the timed syncs
    ::close(dfd);
  }
  Result r;
  r.name = "fsync";
  r.params = {
      {"threads", threads}, {"size", size}, {"file", preallocated ? "preallocated" : "growing"}};
  const uint64_t slots = kPreallocBytes / size;
  try {
    run_timed(
        threads, limit,
        [&](int t, uint64_t i) {
          const int fd = fds[static_cast<size_t>(t)];
          const uint64_t off = preallocated ? (i % slots) * size : i * size;
          ssize_t n = ::pwrite(fd, buf.data(), size, static_cast<off_t>(off));
          if (n != static_cast<ssize_t>(size)) throw_errno("write", paths[static_cast<size_t>(t)]);
          if (::fdatasync(fd) != 0) throw_errno("fdatasync", paths[static_cast<size_t>(t)]);
        },
        &r);
  } catch (...) {
    for (int fd : fds) ::close(fd);
    throw;
  }
  for (int fd : fds) ::close(fd);
  for (const auto& p : paths) ::unlink(p.c_str());
  r.bytes = r.ops * size;
  r.fsyncs = r.ops;
  r.mean_group = 1;
  return r;
}

WalOptions bench_wal_options(const std::string& dir, SyncMode sync, uint64_t segment_bytes) {
  WalOptions o;
  o.dir = dir;
  o.sync = sync;
  o.segment_bytes = segment_bytes;
  // A benchmark log may pass the default WAL_WARN_BYTES/WAL_MAX_BYTES; those
  // would start compactions (or refuse writes) in the middle of a measurement.
  o.warn_bytes = o.max_bytes = 1ull << 50;
  o.stop_free_bytes = o.resume_free_bytes = 0;
  return o;
}

Result bench_append(const std::string& dir, const AppendOptions& o) {
  WalOptions wo = bench_wal_options(dir, o.sync, o.segment_bytes);
  wo.syncs_in_flight = o.syncs_in_flight;
  auto wal = Wal::open(wo);
  // One prepared entry per thread, so the measured loop allocates nothing of
  // its own: the time is the WAL's.
  std::vector<Entry> entries(static_cast<size_t>(o.threads));
  for (int t = 0; t < o.threads; ++t) {
    auto& e = entries[static_cast<size_t>(t)];
    e.type = EntryType::kSession;
    e.op = EntryOp::kUpdate;
    e.path = fmt::format("bench/t{:03}", t);
    e.data = payload(o.size, static_cast<uint64_t>(t) + 7);
  }
  Result r;
  r.name = "append";
  r.params = {
      {"threads", o.threads}, {"size", o.size}, {"sync", std::string(sync_mode_name(o.sync))}};
  if (o.sync == SyncMode::kAlways) r.params["syncs_in_flight"] = o.syncs_in_flight;
  run_timed(
      o.threads, o.limit, [&](int t, uint64_t) { wal->append(entries[static_cast<size_t>(t)]); },
      &r);
  const WalMetrics m = wal->metrics();
  const WalStatus st = wal->status();
  r.bytes = r.ops * o.size;
  r.fsyncs = m.fsyncs;
  r.mean_group = o.sync == SyncMode::kAlways ? m.mean_group_size() : 0;
  const double per_entry =
      r.ops ? static_cast<double>(st.total_bytes) / static_cast<double>(r.ops) : 0;
  r.extra["disk_bytes_per_entry"] = per_entry;
  r.extra["overhead_bytes_per_entry"] =
      per_entry - static_cast<double>(o.size + entries[0].path.size());
  wal->close();
  return r;
}

uint64_t generate_log(const std::string& dir, uint64_t entries, size_t size,
                      uint64_t segment_bytes) {
  auto wal = Wal::open(bench_wal_options(dir, SyncMode::kNone, segment_bytes));
  std::vector<Entry> batch(256);
  uint64_t done = 0;
  uint64_t next = wal->status().head_seq;
  while (done < entries) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(batch.size(), entries - done));
    batch.resize(n);
    for (size_t i = 0; i < n; ++i) {
      auto& e = batch[i];
      e.type = EntryType::kBead;
      e.op = EntryOp::kUpdate;
      e.path = gen_path(next + i);
      if (e.data.size() != size) e.data = payload(size, next + i);
      e.data[0] = static_cast<char>('a' + (next + i) % 26);
    }
    wal->append_batch(batch);
    done += n;
    next += n;
  }
  wal->close();
  return done;
}

Result bench_replay(const std::string& dir, int passes) {
  auto wal = Wal::open(bench_wal_options(dir, SyncMode::kNone, 64ull << 20));
  const WalStatus st = wal->status();
  Result best;
  for (int p = 0; p < std::max(passes, 1); ++p) {
    Result r;
    uint64_t payload_bytes = 0, n = 0;
    auto t0 = Clock::now();
    wal->replay_view(0, 0, [&](const EntryView& v) {
      payload_bytes += v.path.size() + v.data.size();
      n++;
      return true;
    });
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    r.ops = n;
    r.bytes = st.total_bytes;  // bytes of log read, headers and framing included
    r.extra["payload_mb_per_s"] =
        r.seconds > 0 ? static_cast<double>(payload_bytes) / r.seconds / 1e6 : 0;
    r.extra["overhead_bytes_per_entry"] =
        n ? static_cast<double>(st.total_bytes - payload_bytes) / static_cast<double>(n) : 0;
    if (p == 0 || r.seconds < best.seconds) best = r;
  }
  wal->close();
  best.name = "replay";
  best.params = {{"passes", passes}, {"log_bytes", st.total_bytes}, {"segments", st.segments}};
  return best;
}

Result bench_open(const std::string& dir, int times) {
  std::vector<uint64_t> ns;
  WalStatus st;
  OpenReport rep;
  for (int i = 0; i < std::max(times, 1); ++i) {
    auto t0 = Clock::now();
    auto wal = Wal::open(bench_wal_options(dir, SyncMode::kAlways, 64ull << 20), &rep);
    ns.push_back(static_cast<uint64_t>((Clock::now() - t0).count()));
    if (i == 0) st = wal->status();
    wal->close();
  }
  Result r;
  r.name = "open";
  r.params = {{"log_bytes", st.total_bytes}, {"segments", st.segments}, {"entries", st.head_seq}};
  r.ops = ns.size();
  for (auto v : ns) r.seconds += static_cast<double>(v) / 1e9;
  std::vector<uint64_t> sorted = ns;
  r.p50_us = pct(sorted, 0.5);
  r.p99_us = pct(sorted, 0.99);
  r.p999_us = pct(sorted, 0.999);
  r.extra["open_ms_median"] = r.p50_us / 1000.0;
  return r;
}

Result bench_read(const std::string& dir, int threads, const Limit& limit) {
  auto wal = Wal::open(bench_wal_options(dir, SyncMode::kAlways, 64ull << 20));
  const WalStatus st = wal->status();
  if (st.head_seq == 0) throw Error(ErrorCode::kInvalidArgument, "read: the log is empty");
  const uint64_t first = std::max<uint64_t>(st.first_seq, 1);
  std::vector<std::mt19937_64> rngs;
  for (int t = 0; t < threads; ++t) rngs.emplace_back(static_cast<uint64_t>(t) * 7919 + 1);
  std::vector<uint64_t> bytes(static_cast<size_t>(threads), 0);
  Result r;
  r.name = "read";
  r.params = {
      {"threads", threads}, {"entries", st.head_seq - first + 1}, {"segments", st.segments}};
  run_timed(
      threads, limit,
      [&](int t, uint64_t) {
        auto& rng = rngs[static_cast<size_t>(t)];
        const uint64_t seq = first + rng() % (st.head_seq - first + 1);
        auto e = wal->read_entry(seq);
        if (!e || e->seq != seq)
          throw Error(ErrorCode::kInternal, fmt::format("read_entry({}) found nothing", seq));
        bytes[static_cast<size_t>(t)] += e->path.size() + e->data.size();
      },
      &r);
  for (auto b : bytes) r.bytes += b;
  wal->close();
  return r;
}

std::string make_run_dir(const std::string& parent, const std::string& tag) {
  static std::atomic<int> counter{0};
  std::filesystem::create_directories(parent);
  const std::string path =
      fmt::format("{}/{}-{}-{}", parent, tag, static_cast<long>(::getpid()), counter++);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace strata::bench
