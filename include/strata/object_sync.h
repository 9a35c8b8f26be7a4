// The object-store sync tier: ships the WAL to a CheckpointStorage (S3, R2,
// a directory) as immutable log objects, with a verified manifest
// (checkpoint.json) replaced by a two-phase protocol, lineage fencing, state
// snapshots, retention and the local pruner. The byte layout of everything
// it writes is in docs/remote-format.md.
//
// The WAL and the store know nothing about this tier: it reads the WAL's
// framed records, confirms what the store holds through the WAL's tier mark
// "object", and deletes local segments only below what every configured
// remote tier confirmed.
//
// Guarantees (each tested in tests/sync):
//  - A seq is confirmed locally (Wal::confirm("object", seq)) only after a
//    manifest listing every entry up to it was written and every object it
//    lists was verified on the store.
//  - A crash at any point leaves the old or the new manifest, and both are
//    complete: every object either lists is on the store.
//  - Nothing is written when the remote prefix belongs to another lineage or
//    holds a manifest version this data directory did not write
//    (kLineageConflict), or when the manifest is invalid (kManifestInvalid).
//  - A failed sync marks nothing confirmed and loses nothing local.
//
// Thread-safety: every method may be called from any thread. sync(),
// prune() and verify_remote() are serialized internally (a second caller
// waits for the first); status(), metrics() and wait_confirmed() never wait
// for a sync to finish.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/storage.h"
#include "strata/wal.h"

namespace strata {

// ---------------------------------------------------------------------------
// Settings

enum class SyncCompression { kNone, kZstd };
std::string_view sync_compression_name(SyncCompression c);  // "none", "zstd"

struct ObjectSyncOptions {
  // DATA_DIR. The tier keeps what it needs to recognise its own manifests in
  // DATA_DIR/sync/state.json.
  std::string data_dir;
  // The data directory's lineage id, written into every manifest. Required.
  std::string lineage_id;
  // Prepended by this tier to every key ("" or ending in '/'). from_env sets
  // it from R2_PREFIX only for a filesystem store: the S3 store applies
  // R2_PREFIX itself (S3Config::prefix), so the layout under the prefix is the
  // same on both.
  std::string key_prefix;

  uint64_t interval_ms = 30000;         // SYNC_INTERVAL_MS: for the scheduler and status
  uint64_t object_bytes = 16ull << 20;  // SYNC_OBJECT_BYTES: raw record bytes per log object
  uint32_t parallelism = 4;             // SYNC_PARALLELISM: objects built and uploaded at once
  SyncCompression compression = SyncCompression::kZstd;  // SYNC_COMPRESSION
  int zstd_level = 3;                                    // SYNC_ZSTD_LEVEL (1..19)
  uint64_t orphan_ms =
      600000;  // SYNC_ORPHAN_MS: age after which stale intents and unlisted objects go
  // SYNC_VERIFY=read: verify uploads by reading them back and hashing, for
  // stores whose metadata cannot be trusted; default (metadata) checks size
  // and the sha256 metadata with a HEAD.
  bool verify_read_back = false;
  // SYNC_MANIFEST_MIN_INTERVAL_MS: R2 accepts about one write per second to
  // one key; manifest writes closer together than this wait.
  uint64_t manifest_min_interval_ms = 1000;

  uint64_t snapshot_interval_ms = 24ull * 3600 * 1000;  // SNAPSHOT_INTERVAL_MS
  uint64_t snapshot_every_bytes = 256ull << 20;         // SNAPSHOT_EVERY_BYTES of shipped log
  uint64_t retention_ms = 7ull * 24 * 3600 * 1000;      // RETENTION_MS
  uint32_t prune_keep_segments = 2;                     // PRUNE_KEEP_SEGMENTS
  // Whether the Git tier is configured (GIT_REMOTE set): then its mark
  // "git" holds pruning back too. An unconfigured tier never does.
  bool git_tier = false;
  // Prune local segments after every sync that confirmed something.
  bool prune_after_sync = true;

  FileSystem* fs = nullptr;  // for DATA_DIR/sync; nullptr: the real file system

  // Brings DATA_DIR/state up to the WAL head and returns the seq it reflects.
  // Unset: a Materializer on data_dir. A daemon that materializes elsewhere
  // passes its own so two materializers never run at once.
  std::function<uint64_t()> materialize;

  // Reads the SYNC_*, SNAPSHOT_*, RETENTION_MS, PRUNE_KEEP_SEGMENTS, R2_PREFIX
  // (filesystem store only, see key_prefix) and GIT_REMOTE variables.
  // Throws kConfigInvalid naming the variable.
  static ObjectSyncOptions from_env(std::string data_dir, std::string lineage_id,
                                    bool store_applies_prefix);
  // Throws kConfigInvalid (naming the variable) for an out-of-range field.
  void validate() const;
};

// ---------------------------------------------------------------------------
// The remote format (docs/remote-format.md)

inline constexpr uint32_t kRemoteFormatVersion = 1;
inline constexpr std::string_view kManifestKey = "checkpoint.json";

// One immutable log object: the WAL's record framing for the seq range
// [first_seq, last_seq], optionally zstd-compressed.
struct LogObjectInfo {
  std::string key;                 // "log/<first>-<last>-<tag>.wal[.zst]" (relative to the prefix)
  uint64_t first_seq = 0;          // range start: the previous object's last_seq + 1
  uint64_t last_seq = 0;           // the seq of the object's last record
  uint64_t entries = 0;            // records in the object (>= 1)
  uint64_t last_timestamp_ms = 0;  // timestamp of the last record
  uint64_t raw_bytes = 0;          // bytes of framed records
  uint64_t stored_bytes = 0;       // bytes of the object on the store
  std::string sha256;              // hex, of the stored bytes
  std::string raw_sha256;          // hex, of the framed records
  SyncCompression compression = SyncCompression::kZstd;
  uint64_t created_at_ms = 0;

  bool operator==(const LogObjectInfo&) const = default;
};

// A state snapshot: DATA_DIR/state as of seq, tar + zstd.
struct SnapshotObjectInfo {
  std::string key;  // "snapshots/<seq>-<tag>.tar.zst"
  uint64_t seq = 0;
  uint64_t timestamp_ms = 0;  // timestamp of the entry at seq (0 for seq 0)
  uint64_t stored_bytes = 0;
  std::string sha256;  // hex, of the stored bytes
  uint64_t created_at_ms = 0;

  bool operator==(const SnapshotObjectInfo&) const = default;
};

struct Manifest {
  uint32_t format_version = kRemoteFormatVersion;
  uint64_t manifest_version = 0;  // 1 for the first manifest of a prefix, +1 per replacement
  std::string lineage_id;
  std::string history_id;  // the WAL history the head belongs to
  uint64_t written_at_ms = 0;
  uint64_t head_seq = 0;
  uint64_t head_timestamp_ms = 0;
  std::vector<LogObjectInfo> log;             // by seq, contiguous
  std::vector<SnapshotObjectInfo> snapshots;  // by seq, oldest first
  std::string manifest_sha256;                // set by encode/parse

  // The newest snapshot, or nullptr.
  const SnapshotObjectInfo* latest_snapshot() const {
    return snapshots.empty() ? nullptr : &snapshots.back();
  }
  // The first seq the log objects cover (head_seq + 1 when there are none).
  uint64_t log_start() const { return log.empty() ? head_seq + 1 : log.front().first_seq; }
  bool operator==(const Manifest&) const = default;
};

// The manifest's bytes, ending in its own SHA-256 (sets m.manifest_sha256).
// Checks the rules parse_manifest checks first (throws kManifestInvalid), so
// nothing invalid is ever written.
std::string encode_manifest(Manifest& m);
// Parses and checks a manifest read from `where` (named in every message):
// JSON, format and version (a version above kRemoteFormatVersion is refused
// as from the future), the trailing self-checksum, every key (store key
// rules and this format's names), contiguous seq ranges, sizes and digests.
// Throws kManifestInvalid.
Manifest parse_manifest(std::string_view bytes, std::string_view where);

// "log/00000000000000000001-00000000000000000100-<16 hex>.wal.zst".
std::string log_object_key(uint64_t first_seq, uint64_t last_seq, std::string_view tag,
                           SyncCompression c);
std::string snapshot_object_key(uint64_t seq, std::string_view tag);

// Checks a downloaded log object against its manifest entry (size, SHA-256
// of the stored bytes, decompression bounded by raw_bytes, SHA-256 of the
// records, every record's CRC, seqs ascending inside [first_seq, last_seq],
// the last one at last_seq, the count) and returns the framed records, ready
// for the WAL's import. Throws kStorageIntegrity naming the key and the
// first thing that does not match.
std::string decode_log_object(std::string_view stored, const LogObjectInfo& info);

// ---------------------------------------------------------------------------
// Calls and their results

struct SyncProgress {
  uint64_t objects_done = 0, objects_total = 0;  // total is an estimate while planning
  uint64_t bytes_done = 0, bytes_total = 0;      // raw record bytes
  std::chrono::steady_clock::duration elapsed{};
};
using ProgressFn = std::function<void(const SyncProgress&)>;

struct SyncRequest {
  // Take over a prefix written by another lineage or by a copy of this data
  // directory: its manifest is replaced by one listing this log only. The
  // only way past kLineageConflict.
  bool adopt = false;
  bool force_snapshot = false;  // upload a state snapshot in this sync
  ProgressFn progress;          // called from the syncing thread now and then
};

struct SyncResult {
  bool wrote_manifest = false;  // false: nothing new, nothing uploaded
  uint64_t manifest_version = 0;
  uint64_t confirmed_seq = 0;  // after the sync
  uint64_t previous_confirmed_seq = 0;
  uint64_t objects_uploaded = 0;
  uint64_t objects_reused = 0;                 // found intact on the store from an interrupted sync
  uint64_t raw_bytes = 0;                      // framed record bytes shipped
  uint64_t stored_bytes = 0;                   // bytes uploaded for them
  std::optional<SnapshotObjectInfo> snapshot;  // uploaded in this sync
  uint64_t retention_deleted = 0;              // objects retention removed
  uint64_t orphans_deleted = 0;                // stale intents and unlisted objects removed
  uint64_t segments_pruned = 0;                // local segments the pruner deleted
  std::chrono::milliseconds duration{0};
};

struct PrunedSegment {
  std::string file;
  uint64_t first_seq = 0, last_seq = 0, bytes = 0;
};

struct PruneResult {
  bool dry_run = false;
  // The seq every configured tier confirmed (what may be deleted at or below).
  uint64_t confirmed_seq = 0;
  uint64_t object_confirmed = 0;
  std::optional<uint64_t> git_confirmed;  // set when the Git tier is configured
  std::vector<PrunedSegment> deleted;     // (or, for a dry run, would be)
  uint64_t bytes = 0;
  uint64_t sealed_before = 0;
  std::string reason;  // why nothing (more) was deleted, for the CLI
};

struct RemoteVerifyProblem {
  std::string key;
  std::string problem;  // "missing", "size 10 != 20", "sha256 ... != ...", "gap before seq 5"
};

struct RemoteVerifyResult {
  bool ok = false;
  bool manifest_found = false;
  Manifest manifest;
  uint64_t objects_checked = 0;
  uint64_t bytes_checked = 0;
  std::vector<RemoteVerifyProblem> problems;  // the first is what the CLI names
};

struct WaitResult {
  bool confirmed = false;  // false: the timeout passed first
  uint64_t confirmed_seq = 0;
  std::string last_error;  // the last sync failure while waiting, if any
};

struct SyncStatus {
  std::string store;  // CheckpointStorage::describe(), never a secret
  std::string lineage_id;
  uint64_t head_seq = 0;
  uint64_t confirmed_seq = 0;
  uint64_t lag_entries = 0;
  double lag_seconds = 0;                  // age of the oldest unconfirmed entry; 0 when none
  uint64_t manifest_version = 0;           // the last one this process read or wrote
  std::optional<int64_t> last_success_ms;  // wall clock, ms since the epoch
  std::optional<int64_t> last_error_ms;
  std::string last_error;  // "CODE: message" of the last failure
  bool last_attempt_failed = false;
  std::optional<SnapshotObjectInfo> latest_snapshot;
};

struct SyncMetrics {
  uint64_t syncs = 0;          // sync() calls that succeeded
  uint64_t sync_failures = 0;  // that failed
  uint64_t empty_syncs = 0;    // succeeded with nothing to upload
  uint64_t manifests_written = 0;
  uint64_t objects_uploaded = 0;
  uint64_t objects_reused = 0;
  uint64_t raw_bytes_shipped = 0;
  uint64_t stored_bytes_shipped = 0;
  uint64_t snapshots_uploaded = 0;
  uint64_t retention_objects_deleted = 0;
  uint64_t orphans_deleted = 0;
  uint64_t segments_pruned = 0;
  uint64_t bytes_pruned = 0;
  uint64_t lineage_conflicts = 0;
  uint64_t storage_retries = 0;  // retried attempts of the S3 store (0 for others)
  double compression_ratio() const {
    return raw_bytes_shipped
               ? static_cast<double>(stored_bytes_shipped) / static_cast<double>(raw_bytes_shipped)
               : 0;
  }
};

// Read-only views of a remote prefix for tools that do not own the WAL
// (`strata checkpoint show`, `strata remote verify`); key_prefix as in
// ObjectSyncOptions. read_remote_manifest throws kManifestInvalid for a
// manifest that is not valid; verify_remote_prefix reports it as a problem.
std::optional<Manifest> read_remote_manifest(CheckpointStorage& store,
                                             std::string_view key_prefix = "");
RemoteVerifyResult verify_remote_prefix(CheckpointStorage& store, std::string_view key_prefix,
                                        uint32_t parallelism, const ProgressFn& progress = {});

class ObjectStoreSync {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // wal and store must outlive this object. Validates options
  // (kConfigInvalid). Sends nothing yet.
  ObjectStoreSync(Wal& wal, CheckpointStorage& store, ObjectSyncOptions options, Clock clock = {});
  ~ObjectStoreSync();
  ObjectStoreSync(const ObjectStoreSync&) = delete;
  ObjectStoreSync& operator=(const ObjectStoreSync&) = delete;

  // One sync now: reads the manifest, refuses another lineage, uploads the
  // entries after the confirmed seq in objects of about object_bytes,
  // `parallelism` at a time, verifies them, uploads a snapshot when one is
  // due, replaces the manifest (If-Match on the etag read), confirms the
  // new head locally, deletes what retention no longer needs and prunes.
  // A sync with nothing new reads the manifest and writes nothing. Throws
  // strata::Error; nothing is confirmed then.
  SyncResult sync(const SyncRequest& request = {});

  // Blocks until `seq` is confirmed by the store or `timeout` passes,
  // starting syncs at once (on an internal thread shared by all waiters)
  // rather than waiting for the scheduler's interval.
  WaitResult wait_confirmed(uint64_t seq, std::chrono::milliseconds timeout);

  // Deletes local sealed segments whose last seq is at or below the seq every
  // configured remote tier confirmed, keeping the newest
  // prune_keep_segments sealed segments. Never an unconfirmed entry.
  PruneResult prune(bool dry_run = false);

  // The manifest as it is on the store, verified; nullopt when there is none.
  std::optional<Manifest> read_manifest();

  // Every object the manifest lists: present, right size, right SHA-256 of
  // its bytes (read back), and seq ranges contiguous from the oldest
  // snapshot (or seq 1) to the head.
  RemoteVerifyResult verify_remote(const ProgressFn& progress = {});

  SyncStatus status();
  SyncMetrics metrics();
  const ObjectSyncOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
