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

#include "common/thread_annotations.h"
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

  // Taken in this order: a sync prunes after it; both count under mu.
  Mutex run_mu ACQUIRED_BEFORE(prune_mu);  // one sync or verify at a time
  Mutex prune_mu ACQUIRED_BEFORE(mu);      // one prune at a time

  // Loaded by the constructor.
  std::optional<sync::LocalState> local GUARDED_BY(run_mu);
  // First sync of the process, after a failure, every orphan_ms.
  bool sweep_due GUARDED_BY(run_mu) = true;
  std::chrono::steady_clock::time_point last_sweep GUARDED_BY(run_mu){};
  std::chrono::steady_clock::time_point last_manifest_write GUARDED_BY(run_mu){};

  std::atomic<uint64_t> confirmed{0};  // the mark, readable without run_mu

  // For status and metrics, which must not wait for a sync.
  mutable Mutex mu;
  SyncMetrics counters GUARDED_BY(mu);
  uint64_t manifest_version GUARDED_BY(mu) = 0;
  std::optional<int64_t> last_success_ms GUARDED_BY(mu);
  std::optional<int64_t> last_error_ms GUARDED_BY(mu);
  std::string last_error GUARDED_BY(mu);
  bool last_failed GUARDED_BY(mu) = false;
  std::optional<SnapshotObjectInfo> latest_snapshot GUARDED_BY(mu);

  // Waiters (waiter.cpp).
  Mutex wait_mu;
  std::condition_variable wait_cv;
  uint64_t wanted_seq GUARDED_BY(wait_mu) = 0;
  uint64_t sync_rounds GUARDED_BY(wait_mu) = 0;  // finished syncs of the worker, for waiters
  std::string wait_error GUARDED_BY(wait_mu);
  bool stopping GUARDED_BY(wait_mu) = false;
  // Started under wait_mu by the first waiter; joined by stop_worker.
  std::thread worker;
  ObjectStoreSync* self = nullptr;  // the worker runs syncs through the public call

  int64_t now_ms() const;

  // object_store_sync.cpp
  SyncResult run_sync(const SyncRequest& req) REQUIRES(run_mu);
  std::optional<RemoteManifest> read_remote() EXCLUDES(mu);
  void check_fence(const std::optional<RemoteManifest>& remote, bool adopt) REQUIRES(run_mu);
  uint64_t confirmed_mark();
  void set_confirmed_mark(uint64_t seq, const std::string& history) REQUIRES(run_mu);
  void save_local() REQUIRES(run_mu);
  void note_failure(const Error& e) REQUIRES(run_mu) EXCLUDES(mu);
  // Records the last success/error in DATA_DIR/sync.
  void note_outcome() REQUIRES(run_mu) EXCLUDES(mu);

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

  void run_worker() EXCLUDES(wait_mu);  // waiter.cpp
  void stop_worker() EXCLUDES(wait_mu);
};

}  // namespace strata
