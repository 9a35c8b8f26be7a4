// ObjectStoreSync's internals, shared by its source files: the two-phase
// sync in object_store_sync.cpp, shipping in shipper.cpp, the orphan sweep in
// orphans.cpp, remote verification in remote_verify.cpp, the pruner and the
// waiters in pruner.cpp and waiter.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "strata/error.h"
#include "strata/object_sync.h"
#include "sync/local_state.h"
#include "sync/prefixed_store.h"

namespace strata {

// The WAL tier whose mark says what the object store holds.
inline constexpr std::string_view kObjectTier = "object";

// The manifest as read, with the etag a replacement must match.
struct RemoteManifest {
  Manifest manifest;
  std::string etag;
  std::string bytes;
};

// What the orphan sweep saw on the store.
struct SweepResult {
  uint64_t deleted = 0;  // stale intents removed
  // Unlisted objects of this format that are present (candidates to reuse
  // rather than upload again, after a HEAD proves them intact).
  std::set<std::string> unlisted;
  // Those of them older than SYNC_ORPHAN_MS: deleted after the next manifest
  // is written, unless it lists them.
  std::vector<std::string> stale_unlisted;
};

struct ObjectStoreSync::Impl {
  Impl(Wal& w, CheckpointStorage& s, ObjectSyncOptions o, Clock c);
  ~Impl();

  Wal& wal;
  CheckpointStorage& base_store;
  std::unique_ptr<sync::PrefixedStore> prefixed;
  CheckpointStorage* store;  // base_store, or the prefixed view of it
  ObjectSyncOptions opt;
  Clock clock;
  FileSystem& fs;

  std::mutex run_mu;    // one sync or verify at a time
  std::mutex prune_mu;  // one prune at a time

  // Guarded by run_mu (loaded by the constructor).
  std::optional<sync::LocalState> local;
  bool sweep_due = true;  // first sync of the process, after a failure, every orphan_ms
  std::chrono::steady_clock::time_point last_sweep{};
  std::chrono::steady_clock::time_point last_manifest_write{};

  std::atomic<uint64_t> confirmed{0};  // the mark, readable without run_mu

  // Guarded by mu.
  mutable std::mutex mu;
  SyncMetrics counters;
  uint64_t manifest_version = 0;
  std::optional<int64_t> last_success_ms;
  std::optional<int64_t> last_error_ms;
  std::string last_error;
  bool last_failed = false;
  std::optional<SnapshotObjectInfo> latest_snapshot;

  // Waiters (waiter.cpp).
  std::mutex wait_mu;
  std::condition_variable wait_cv;
  uint64_t wanted_seq = 0;
  uint64_t sync_rounds = 0;  // finished syncs of the worker, for waiters
  std::string wait_error;
  bool stopping = false;
  std::thread worker;
  ObjectStoreSync* self = nullptr;  // the worker runs syncs through the public call

  int64_t now_ms() const;

  // object_store_sync.cpp
  SyncResult run_sync(const SyncRequest& req);
  std::optional<RemoteManifest> read_remote();
  void check_fence(const std::optional<RemoteManifest>& remote, bool adopt);
  uint64_t confirmed_mark();
  void set_confirmed_mark(uint64_t seq, const std::string& history);
  void save_local();
  void note_failure(const Error& e);
  void note_outcome();  // records the last success/error in DATA_DIR/sync

  // shipper.cpp: ships (after, up_to] as log objects starting at range_start,
  // uploading `parallelism` at a time; returns them in seq order, verified.
  std::vector<LogObjectInfo> ship(uint64_t after, uint64_t up_to, const SweepResult& seen,
                                  const SyncRequest& req, SyncResult* res);
  void verify_uploaded(const std::vector<LogObjectInfo>& objects);

  // snapshots.cpp: whether the manifest being extended calls for a
  // snapshot; materializing, archiving, uploading and verifying one.
  bool snapshot_due(const Manifest& base, uint64_t now) const;
  SnapshotObjectInfo take_snapshot(uint64_t now);

  // orphans.cpp
  SweepResult sweep(const std::optional<RemoteManifest>& remote);

  void run_worker();  // waiter.cpp
  void stop_worker();
};

}  // namespace strata
