// Helpers for the sync tier's tests: a store that counts what is asked of
// it (and can be told to fail), WALs filled with JSON-like entries, and
// options with test-friendly settings.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/object_sync.h"
#include "strata/storage.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata::testing {

// Wraps a store and counts calls by operation ("get", "put", "head", "list",
// "delete", "verify"); a hook may throw before any call reaches the store.
class CountingStore : public CheckpointStorage {
 public:
  explicit CountingStore(CheckpointStorage& inner) : inner_(inner) {}
  std::function<void(const std::string& op, std::string_view key)> before;
  // Called after a write reached the store: may throw, as a reply lost on
  // the way back does.
  std::function<void(const std::string& op, std::string_view key)> after_write;

  uint64_t count(const std::string& op) const {
    std::lock_guard lk(mu_);
    auto it = counts_.find(op);
    return it == counts_.end() ? 0 : it->second;
  }
  uint64_t writes() const { return count("put") + count("delete"); }
  void reset() {
    std::lock_guard lk(mu_);
    counts_.clear();
  }

  std::string describe() const override { return inner_.describe(); }
  bool is_available() override { return inner_.is_available(); }
  std::optional<std::string> read_file(std::string_view key) override {
    note("get", key);
    return inner_.read_file(key);
  }
  std::optional<VersionedObject> read_versioned(std::string_view key) override {
    note("get", key);
    return inner_.read_versioned(key);
  }
  bool read_file_to(std::string_view key, const std::string& path) override {
    note("get", key);
    return inner_.read_file_to(key, path);
  }
  bool stream_file(std::string_view key, const ByteSink& sink) override {
    note("get", key);
    return inner_.stream_file(key, sink);
  }
  void write_file(std::string_view key, std::string_view data,
                  const WriteOptions& options = {}) override {
    note("put", key);
    inner_.write_file(key, data, options);
    if (after_write) after_write("put", key);
  }
  void write_file_from(std::string_view key, const std::string& path,
                       const WriteOptions& options = {}) override {
    note("put", key);
    inner_.write_file_from(key, path, options);
  }
  void delete_file(std::string_view key) override {
    note("delete", key);
    inner_.delete_file(key);
  }
  std::vector<std::string> list_files(std::string_view prefix) override {
    note("list", prefix);
    return inner_.list_files(prefix);
  }
  bool verify_checksum(std::string_view key, std::string_view sha) override {
    note("verify", key);
    return inner_.verify_checksum(key, sha);
  }
  std::optional<ObjectStat> stat(std::string_view key) override {
    note("head", key);
    return inner_.stat(key);
  }
  std::vector<CheckResult> check() override { return inner_.check(); }

 private:
  void note(const std::string& op, std::string_view key) {
    if (before) before(op, key);
    std::lock_guard lk(mu_);
    counts_[op]++;
  }
  CheckpointStorage& inner_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counts_;
};

// JSON-like session data, as an agent would write it: repetitive keys,
// varying values.
inline std::string session_json(uint64_t i, size_t approx_bytes = 600) {
  std::string s = fmt::format(
      R"({{"session":"s-{:06}","turn":{},"role":"{}","model":"m-2","tokens":{},"text":")", i % 97,
      i, i % 2 ? "assistant" : "user", 100 + (i * 37) % 900);
  static const char* words[] = {"the",   "state", "of",     "agent",  "memory", "task",
                                "bead",  "tool",  "result", "called", "with",   "file",
                                "error", "retry", "plan",   "next",   "step",   "done"};
  uint64_t x = i * 2654435761u + 1;
  while (s.size() + 3 < approx_bytes) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    s += words[(x >> 33) % 18];
    s += ' ';
  }
  s += "\"}";
  return s;
}

// Appends n entries (paths sessions/s-<k>.json) and returns the last seq.
inline uint64_t append_sessions(Wal& wal, uint64_t n, uint64_t first_index = 0,
                                size_t bytes = 600) {
  std::vector<Entry> batch;
  uint64_t last = 0;
  for (uint64_t i = first_index; i < first_index + n; ++i) {
    batch.push_back(make_entry(fmt::format("sessions/s-{:04}.json", i % 50), session_json(i, bytes),
                               EntryOp::kUpdate));
    if (batch.size() == 256) {
      last = wal.append_batch(batch);
      batch.clear();
    }
  }
  if (!batch.empty()) last = wal.append_batch(batch);
  return last;
}

inline ObjectSyncOptions sync_options(const std::string& data_dir,
                                      const std::string& lineage = "lineage-test-a") {
  ObjectSyncOptions o;
  o.data_dir = data_dir;
  o.lineage_id = lineage;
  o.manifest_min_interval_ms = 0;
  o.object_bytes = 64 * 1024;
  return o;
}

}  // namespace strata::testing
