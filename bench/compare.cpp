// strata_compare: the same durable-append workload through strata, RocksDB
// (WriteOptions.sync=true), LevelDB (sync=true) and SQLite (WAL mode,
// synchronous=FULL, one transaction per entry), at several thread counts, in
// one run, next to the disk's own write+fdatasync limit.
//
// Every figure in one invocation comes from the same machine at nearly the
// same time, so ratios between them mean more than any absolute number on a
// shared, noisy machine. Runs are interleaved by thread count (all systems at
// 1 thread, then all at 8, ...) so a burst of outside load hits one column,
// not one system.
#include <sqlite3.h>

#include <iostream>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <CLI/CLI.hpp>

#include "bench/bench.h"
#include "strata/error.h"

namespace {

using strata::bench::Limit;
using strata::bench::Result;

std::string value_of(size_t size, int thread) {
  std::string v(size, '\0');
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<char>('a' + (i * 7 + thread) % 26);
  return v;
}

// Keys are distinct per operation, as WAL entries are: no peer gets to
// overwrite one hot key in its memtable.
std::string key_of(int thread, uint64_t i) {
  return fmt::format("bench/t{:03}/{:010}", thread, i);
}

Result run_rocksdb(const std::string& dir, int threads, size_t size, const Limit& limit,
                   bool sync) {
  rocksdb::Options opt;
  opt.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(opt, dir, &raw);
  if (!s.ok()) throw std::runtime_error("rocksdb open: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::vector<std::string> values;
  for (int t = 0; t < threads; ++t) values.push_back(value_of(size, t));
  Result r;
  r.name = sync ? "rocksdb" : "rocksdb-nosync";
  r.params = {{"threads", threads}, {"size", size}, {"sync", sync ? "always" : "none"}};
  strata::bench::run_timed(
      threads, limit,
      [&](int t, uint64_t i) {
        auto st = db->Put(wo, key_of(t, i), values[static_cast<size_t>(t)]);
        if (!st.ok()) throw std::runtime_error("rocksdb put: " + st.ToString());
      },
      &r);
  r.bytes = r.ops * size;
  db->Close();
  return r;
}

Result run_leveldb(const std::string& dir, int threads, size_t size, const Limit& limit) {
  leveldb::Options opt;
  opt.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  auto s = leveldb::DB::Open(opt, dir, &raw);
  if (!s.ok()) throw std::runtime_error("leveldb open: " + s.ToString());
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions wo;
  wo.sync = true;
  std::vector<std::string> values;
  for (int t = 0; t < threads; ++t) values.push_back(value_of(size, t));
  Result r;
  r.name = "leveldb";
  r.params = {{"threads", threads}, {"size", size}, {"sync", "always"}};
  strata::bench::run_timed(
      threads, limit,
      [&](int t, uint64_t i) {
        auto st = db->Put(wo, key_of(t, i), values[static_cast<size_t>(t)]);
        if (!st.ok()) throw std::runtime_error("leveldb put: " + st.ToString());
      },
      &r);
  r.bytes = r.ops * size;
  return r;
}

void sqlite_check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(fmt::format("sqlite {}: {}", what, sqlite3_errmsg(db)));
  }
}

// SQLite allows one writer at a time and has no group commit: every
// transaction syncs the WAL file. Threads share one connection behind a
// mutex, the arrangement that serves a multi-threaded writer best (separate
// connections would add SQLITE_BUSY back-off sleeps on top of the same
// serialisation).
Result run_sqlite(const std::string& dir, int threads, size_t size, const Limit& limit) {
  sqlite3* db = nullptr;
  const std::string path = dir + "/bench.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    throw std::runtime_error("sqlite open failed");
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> guard(db, sqlite3_close);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                          "CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID"}) {
    sqlite_check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), db, sql);
  }
  sqlite3_stmt* stmt = nullptr;
  sqlite_check(sqlite3_prepare_v2(db, "INSERT INTO kv (k, v) VALUES (?, ?)", -1, &stmt, nullptr),
               db, "prepare");
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> sguard(stmt, sqlite3_finalize);
  std::mutex mu;
  std::vector<std::string> values;
  for (int t = 0; t < threads; ++t) values.push_back(value_of(size, t));
  Result r;
  r.name = "sqlite";
  r.params = {{"threads", threads}, {"size", size}, {"sync", "always"}};
  strata::bench::run_timed(
      threads, limit,
      [&](int t, uint64_t i) {
        const std::string k = key_of(t, i);
        const auto& v = values[static_cast<size_t>(t)];
        std::lock_guard lk(mu);
        // Autocommit: the INSERT is its own transaction, committed durably.
        sqlite3_bind_text(stmt, 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
        sqlite3_bind_blob(stmt, 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        sqlite_check(rc, db, "insert");
      },
      &r);
  r.bytes = r.ops * size;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "strata_compare: durable appends through strata, RocksDB, LevelDB and SQLite in one run"};
  std::string parent = "strata-compare-data";
  std::vector<int> threads{1, 8, 32};
  double seconds = 2.0;
  size_t size = 256;
  bool json = false;
  std::vector<std::string> systems{"fsync", "strata", "rocksdb", "leveldb", "sqlite", "nosync"};
  app.add_option("--dir", parent,
                 "Parent directory for the data (on the disk to measure, not tmpfs; default "
                 "./strata-compare-data)");
  app.add_option("--threads", threads, "Thread counts, comma-separated")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "Seconds per system and thread count")
      ->check(CLI::PositiveNumber);
  app.add_option("--size", size, "Value / payload bytes per entry")->check(CLI::Range(1, 1 << 20));
  app.add_option("--systems", systems,
                 "Which to run: fsync, strata, rocksdb, leveldb, sqlite, nosync (strata with "
                 "sync=none and RocksDB with sync=false, 1 thread)")
      ->delimiter(',')
      ->check(CLI::IsMember({"fsync", "strata", "rocksdb", "leveldb", "sqlite", "nosync"}));
  app.add_flag("--json", json, "One JSON object per result instead of tables");
  CLI11_PARSE(app, argc, argv);

  auto want = [&](const char* s) {
    return std::find(systems.begin(), systems.end(), s) != systems.end();
  };
  const Limit limit{0, seconds};
  std::vector<Result> results;
  auto emit = [&](Result r) {
    if (json) std::cout << strata::bench::to_json(r).dump() << std::endl;
    results.push_back(std::move(r));
  };
  auto in_dir = [&](const char* tag, const auto& fn) {
    const std::string d = strata::bench::make_run_dir(parent, tag);
    try {
      fn(d);
    } catch (...) {
      strata::bench::remove_tree(d);
      throw;
    }
    strata::bench::remove_tree(d);
  };

  try {
    double fsync_1 = 0;
    if (want("fsync")) {
      // The disk's limit for one synchronous writer, growing a file (as a
      // naive log does) and overwriting preallocated space (as strata does).
      in_dir("fsync", [&](const std::string& d) {
        auto r = strata::bench::bench_fsync(d, 1, size, limit, false);
        fsync_1 = r.ops_per_s();
        emit(r);
        emit(strata::bench::bench_fsync(d, 1, size, limit, true));
      });
    }
    for (int t : threads) {
      double strata_ops = 0;
      if (want("strata")) {
        in_dir("strata", [&](const std::string& d) {
          strata::bench::AppendOptions o;
          o.threads = t;
          o.size = size;
          o.limit = limit;
          auto r = strata::bench::bench_append(d + "/wal", o);
          r.name = "strata";
          strata_ops = r.ops_per_s();
          if (fsync_1 > 0) r.extra["ratio_to_fsync"] = strata_ops / fsync_1;
          emit(r);
        });
      }
      auto peer = [&](Result r) {
        if (strata_ops > 0 && r.ops_per_s() > 0) {
          r.extra["strata_ratio"] = strata_ops / r.ops_per_s();
        }
        emit(std::move(r));
      };
      if (want("rocksdb")) {
        in_dir("rocksdb",
               [&](const std::string& d) { peer(run_rocksdb(d, t, size, limit, true)); });
      }
      if (want("leveldb")) {
        in_dir("leveldb", [&](const std::string& d) { peer(run_leveldb(d, t, size, limit)); });
      }
      if (want("sqlite")) {
        in_dir("sqlite", [&](const std::string& d) { peer(run_sqlite(d, t, size, limit)); });
      }
    }
    if (want("nosync")) {
      // Reference points without durability: what the CPU path costs.
      double nosync = 0;
      in_dir("strata-nosync", [&](const std::string& d) {
        strata::bench::AppendOptions o;
        o.size = size;
        o.sync = strata::SyncMode::kNone;
        o.limit = limit;
        auto r = strata::bench::bench_append(d + "/wal", o);
        r.name = "strata-nosync";
        nosync = r.ops_per_s();
        emit(r);
      });
      in_dir("rocksdb-nosync", [&](const std::string& d) {
        auto r = run_rocksdb(d, 1, size, limit, false);
        if (nosync > 0 && r.ops_per_s() > 0) r.extra["strata_ratio"] = nosync / r.ops_per_s();
        emit(r);
      });
    }
  } catch (const std::exception& e) {
    std::cerr << "strata_compare: " << e.what() << "\n";
    return 3;
  }

  if (!json) {
    std::cout << strata::bench::format_table(results);
    // The summary the goals are stated in: strata's ratio to each peer.
    std::cout << "\nstrata durable appends/s relative to each peer (same run):\n";
    std::map<int, std::map<std::string, double>> by_threads;
    for (const auto& r : results) {
      if (r.params.contains("threads") && r.params.value("sync", "") == "always") {
        by_threads[r.params["threads"].get<int>()][r.name] = r.ops_per_s();
      }
    }
    for (const auto& [t, m] : by_threads) {
      if (!m.contains("strata")) continue;
      std::string line = fmt::format("  {:>2} threads: strata {:.0f}/s", t, m.at("strata"));
      for (const auto& [name, ops] : m) {
        if (name != "strata" && ops > 0) {
          line += fmt::format(", {:.2f}x {} ({:.0f}/s)", m.at("strata") / ops, name, ops);
        }
      }
      std::cout << line << "\n";
    }
  }
  return 0;
}
