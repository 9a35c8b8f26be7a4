// Helpers for the recovery tests: a workload of creates, updates and deletes
// whose state at every seq is known independently of the code under test,
// and data directories built the way a running strata builds them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "git/git_test_support.h"
#include "strata/entry.h"
#include "strata/git_sync.h"
#include "strata/materializer.h"
#include "strata/recovery.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata::testing {

using Files = std::map<std::string, std::string>;

// Entries appended, in seq order (entries[i] has seq i + 1). Paths never
// nest inside one another, so the state is a plain map.
struct Workload {
  std::vector<Entry> entries;

  // What state/ must hold right after entry `seq`.
  Files state_at(uint64_t seq) const {
    Files f;
    for (uint64_t i = 0; i < seq && i < entries.size(); ++i) {
      const Entry& e = entries[i];
      if (e.op == EntryOp::kDelete) {
        f.erase(e.path);
      } else {
        f[e.path] = e.data;
      }
    }
    return f;
  }
  // The seq of the last entry whose timestamp is at or before t.
  uint64_t seq_at_time(uint64_t t) const {
    uint64_t s = 0;
    for (const auto& e : entries)
      if (e.timestamp_ms <= t) s = e.seq;
    return s;
  }
};

inline const char* kPrefixes[] = {"sessions", "learnings/deep", ".beads", "config"};

// Appends n entries (about 60% creates/updates, the rest deletes of live
// paths) with timestamps t0, t0 + 10, ... and appends them to w.
inline void append_workload(Wal& wal, Workload& w, int n, unsigned seed,
                            uint64_t t0 = 1'700'000'000'000) {
  std::mt19937 rng(seed);
  std::vector<Entry> batch;
  Files live = w.state_at(w.entries.size());
  for (int i = 0; i < n; ++i) {
    Entry e;
    e.type = static_cast<EntryType>(1 + rng() % 4);
    e.timestamp_ms = t0 + 10 * (w.entries.size() + batch.size());
    const bool del = !live.empty() && rng() % 5 < 2;
    if (del) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      e.op = EntryOp::kDelete;
      e.path = it->first;
      live.erase(it);
    } else {
      e.path = std::string(kPrefixes[rng() % 4]) + "/f" + std::to_string(rng() % 200);
      e.op = live.count(e.path) ? EntryOp::kUpdate : EntryOp::kCreate;
      std::string data(16 + rng() % 400, '\0');
      for (auto& c : data) c = static_cast<char>('a' + rng() % 26);
      e.data = data;
      live[e.path] = e.data;
    }
    batch.push_back(e);
    if (batch.size() == 20 || i + 1 == n) {
      const uint64_t last = wal.append_batch(batch);
      for (size_t k = 0; k < batch.size(); ++k) {
        batch[k].seq = last - batch.size() + 1 + k;
        w.entries.push_back(batch[k]);
      }
      batch.clear();
    }
  }
  wal.flush();
}

inline WalOptions quick_wal(const std::string& dir, uint64_t segment_bytes = 16 << 10) {
  WalOptions o = test_options(dir);
  o.sync = SyncMode::kNone;
  o.segment_bytes = segment_bytes;
  return o;
}

// Regular files under dir, relative path -> bytes (directories left out).
inline Files state_files(const std::string& dir) {
  Files out;
  for (const auto& [rel, data] : dir_bytes(dir))
    if (rel.empty() || rel.back() != '/') out[rel] = data;
  return out;
}

// dir_bytes without the Git tier's local repository, which fetching (reading
// the remote) updates.
inline std::map<std::string, std::string> data_bytes(const std::string& dir) {
  auto out = dir_bytes(dir);
  for (auto it = out.begin(); it != out.end();)
    it = it->first.starts_with("archive.git") ? out.erase(it) : std::next(it);
  return out;
}

// A config for run_recovery on data_dir with test-friendly timeouts.
inline RecoveryConfig recovery_config(const std::string& data_dir) {
  RecoveryConfig c;
  c.data_dir = data_dir;
  c.wal = quick_wal("");
  c.probe_timeout = std::chrono::milliseconds(3000);
  c.stall_timeout = std::chrono::milliseconds(5000);
  c.deadline = std::chrono::milliseconds(60000);
  return c;
}

// run_recovery with the Git tier on git_url (when with_git; its local
// repository in the restored directory, or beside --target) and the object
// store (nullptr: not configured).
inline RecoveryResult recover_with(const RecoveryConfig& c, const std::string& git_url,
                                   bool with_git, CheckpointStorage* store = nullptr) {
  std::unique_ptr<GitSync> git;
  if (with_git)
    git = std::make_unique<GitSync>(
        test_config(c.target_dir.empty() ? c.data_dir : c.target_dir + "-git", git_url));
  RecoveryTiers t;
  t.object_store = store;
  t.git = git.get();
  return run_recovery(c, t);
}

}  // namespace strata::testing
