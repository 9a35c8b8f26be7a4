// Checkpoint storage: the second durability tier. A store holds bytes under
// keys and knows nothing about WAL entries; the sync and recovery layers
// decide what the bytes mean.
//
// Keys are relative to the store's configured prefix and follow one set of
// rules everywhere (validate_key): 1..1024 bytes of UTF-8, segments separated
// by '/', no leading or trailing '/', no empty, "." or ".." segment, no ASCII
// control character (0x00-0x1F, 0x7F). A key breaking them is refused with
// Error(kInvalidPath) before anything touches the store.
//
// Errors are strata::Error with a storage code, so a caller can tell a
// missing object (read_file -> nullopt) from an outage:
//   kStorageNetwork         the store could not be reached (refused, reset, TLS)
//   kTimeout                no answer in time (connect, stall or call budget)
//   kStorageServerError     5xx after retries
//   kStorageThrottled       429 / SlowDown after retries
//   kStorageBadCredentials  unknown key id, wrong secret, expired token
//   kStorageAccessDenied    credentials valid but not allowed
//   kStorageNotFound        the bucket (not an object) does not exist
//   kStorageIntegrity       bytes read back do not match their SHA-256
//   kStoragePreconditionFailed  a conditional write lost (If-None-Match / If-Match)
//   kStorageRejected        any other 4xx: the request itself was refused
//   kStorageUnavailable     the circuit breaker is open; nothing was sent
// Messages name the operation, the key and the store, never a secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/fs.h"

namespace strata {

// Throws Error(kInvalidPath) naming the rule the key breaks.
void validate_key(std::string_view key);

struct ObjectStat {
  uint64_t size = 0;
  std::chrono::system_clock::time_point mtime;
  // Opaque version token for If-Match. S3: the ETag without quotes.
  // Filesystem store: the SHA-256 of the content in hex.
  std::string etag;
  // User metadata, lower-case names without "x-amz-meta-". Both stores add
  // "sha256" (hex of the content) on every write.
  std::map<std::string, std::string> metadata;
};

struct WriteOptions {
  // User metadata. Names: [a-z0-9-]+, values: printable ASCII (S3 carries them
  // in HTTP headers); anything else is refused with kInvalidArgument.
  std::map<std::string, std::string> metadata;
  // Write only if no object exists under the key (If-None-Match: *).
  bool if_absent = false;
  // Write only if the current object's etag equals this (If-Match).
  std::optional<std::string> if_match;
};

// Receives an object's bytes in order, a chunk at a time. Throwing from it
// aborts the read (the exception propagates).
using ByteSink = std::function<void(const char* data, size_t len)>;

// An object's bytes with the etag of exactly those bytes (for If-Match).
struct VersionedObject {
  std::string data;
  std::string etag;
};

// One result line of CheckpointStorage::check().
struct CheckResult {
  std::string name;  // "reachable", "credentials", "write", "read", "delete", ...
  bool ok = false;
  std::string detail;  // what was found, or the error code and message
};

// Thread-safe: every method may be called concurrently.
class CheckpointStorage {
 public:
  virtual ~CheckpointStorage() = default;

  // "s3://bucket/prefix at https://host" or "file:///path": for messages and
  // status output; never contains a secret.
  virtual std::string describe() const = 0;

  // True when the store answered a cheap request successfully. Never throws:
  // any failure (including an open breaker) is false. Use check() for why.
  virtual bool is_available() = 0;

  // The object's bytes, or nullopt when no object has this key.
  // When the object carries a "sha256" metadata value, the bytes are checked
  // against it and a mismatch throws kStorageIntegrity.
  virtual std::optional<std::string> read_file(std::string_view key) = 0;

  // The object's bytes and the etag of the version they came from, or
  // nullopt when no object has this key; same checks as read_file. A
  // conditional write with that etag fails if anyone replaced the object
  // since. The default is stat() then read_file(), retried when they disagree
  // (the bytes do not hash to the stat's sha256); S3 answers both in one GET.
  virtual std::optional<VersionedObject> read_versioned(std::string_view key);

  // Streams the object into local_path (written to a temporary file, fsynced
  // and renamed, so local_path is either complete or untouched). Same checks
  // as read_file. Returns false when no object has this key.
  virtual bool read_file_to(std::string_view key, const std::string& local_path) = 0;

  // Streams the object to sink without holding it whole (e.g. to stdout).
  // Returns false, with sink never called, when no object has this key. The
  // integrity check can only come after the last byte: on a mismatch the
  // sink has seen the bytes and kStorageIntegrity is thrown, so a caller
  // that must not expose unchecked bytes uses read_file_to. A failure after
  // the first chunk is not retried (the sink cannot take bytes back).
  virtual bool stream_file(std::string_view key, const ByteSink& sink) = 0;

  // Stores data under key, replacing any object unless options say otherwise.
  // Either the whole object becomes visible or none of it.
  virtual void write_file(std::string_view key, std::string_view data,
                          const WriteOptions& options = {}) = 0;

  // Stores the content of a local file, streaming it (large files are not
  // held in memory).
  virtual void write_file_from(std::string_view key, const std::string& local_path,
                               const WriteOptions& options = {}) = 0;

  // Removes the object. Removing a missing object is not an error.
  virtual void delete_file(std::string_view key) = 0;

  // Every key that starts with prefix (relative to the store's prefix; ""
  // lists all), sorted by byte value. Pages through the whole listing.
  virtual std::vector<std::string> list_files(std::string_view prefix) = 0;

  // True when the object exists and the SHA-256 of its bytes (read back and
  // hashed, not taken from metadata) equals sha256_hex (case-insensitive).
  // False when it differs or the object is missing; throws on outages.
  virtual bool verify_checksum(std::string_view key, std::string_view sha256_hex) = 0;

  // Size, modification time, etag and metadata, or nullopt when missing.
  virtual std::optional<ObjectStat> stat(std::string_view key) = 0;

  // Step-by-step health check: reachable, credentials accepted, a probe
  // object written, read back intact and deleted. Never throws; stops at the
  // first failing step (later steps are not run and not reported).
  virtual std::vector<CheckResult> check() = 0;
};

// A directory as the store: key "a/b" is the file <root>/a/b. Writes go to a
// temporary file in the same directory, are fsynced, renamed over the target
// and the directory is fsynced, so a crash leaves the old or the new object.
// Metadata and etags live in extended attributes of the object file (set
// before the rename, so they change with the content in one step); a file
// system without user xattrs is refused (kConfigInvalid) at the first
// write. Segments starting with ".strata-" or containing ".strata-tmp-" are
// reserved and refused as keys. Writes and deletes are serialized across
// threads and processes with flock on <root>/.strata-lock.
//
// Every key is walked through the FileSystem's Dir handles one segment at a
// time, never following a symlink: a symlink or a non-directory on the way,
// and an object that is a symlink, is kInvalidPath; an object that is not a
// regular file (a FIFO, a device) is refused with kInvalidPath without being
// opened for real, so nothing in the store can make a read block.
//
// Nothing is created until the first write: a root that does not exist yet
// is an empty store (list_files returns nothing, reads find nothing), so
// reading never leaves a directory behind. The first write creates the
// root and its missing parents, each fsynced into its parent.
class FsCheckpointStorage : public CheckpointStorage {
 public:
  // Touches nothing on disk (see above). All I/O goes through fs.
  explicit FsCheckpointStorage(std::string root, FileSystem& fs = FileSystem::real());
  ~FsCheckpointStorage() override;

  std::string describe() const override;
  bool is_available() override;
  std::optional<std::string> read_file(std::string_view key) override;
  bool read_file_to(std::string_view key, const std::string& local_path) override;
  bool stream_file(std::string_view key, const ByteSink& sink) override;
  void write_file(std::string_view key, std::string_view data,
                  const WriteOptions& options = {}) override;
  void write_file_from(std::string_view key, const std::string& local_path,
                       const WriteOptions& options = {}) override;
  void delete_file(std::string_view key) override;
  std::vector<std::string> list_files(std::string_view prefix) override;
  bool verify_checksum(std::string_view key, std::string_view sha256_hex) override;
  std::optional<ObjectStat> stat(std::string_view key) override;
  std::vector<CheckResult> check() override;

  // The root as an absolute path (symlinks resolved as far as it exists).
  const std::string& root() const { return root_; }

 private:
  struct Impl;
  std::string root_;
  std::unique_ptr<Impl> impl_;
};

// Where and how to reach an S3-compatible store (AWS S3, Cloudflare R2,
// MinIO, Ceph, s3rver). See docs/storage.md for every variable.
struct S3Config {
  std::string endpoint;  // "https://host[:port]"; R2_ENDPOINT
  std::string bucket = "loa-finn-data";
  std::string region = "auto";
  std::string prefix;  // prepended to every key; "" or ends with '/'
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // AWS_SESSION_TOKEN, sent as x-amz-security-token
  // nullopt: path-style for IP-literal and localhost endpoints and for bucket
  // names that are not DNS labels; virtual-host style otherwise.
  std::optional<bool> force_path_style;
  std::string ca_bundle;  // PEM file of trusted CAs; "" uses the system store

  uint64_t multipart_threshold = 64ull << 20;  // objects above use multipart upload
  uint64_t part_size = 16ull << 20;            // >= 5 MiB, as S3 requires
  // Parts of one multipart upload in flight at once (R2_PART_CONCURRENCY,
  // 1..16). from_env defaults to 2 for Cloudflare R2 endpoints
  // (*.r2.cloudflarestorage.com), which are reported to fail with more than
  // 2-3 parallel parts of one upload, and to 4 elsewhere.
  uint32_t part_concurrency = 4;

  std::chrono::milliseconds connect_timeout{10000};
  // An attempt that moves no byte in either direction for this long fails.
  std::chrono::milliseconds stall_timeout{20000};
  // Budget for one call, retries and backoff included. Calls moving a large
  // body get body_size / min_rate on top, so a slow but progressing transfer
  // of a big object is not cut off by a budget meant for small requests.
  // libcurl checks it about once a second while a connection is idle, so the
  // 55 s default keeps a call to a never-answering server under one minute.
  std::chrono::milliseconds call_timeout{55000};
  uint64_t min_rate_bytes_per_s = 1ull << 20;

  int max_attempts = 4;  // first try + retries
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_cap{5000};

  int breaker_threshold = 3;  // consecutive failed calls to open
  std::chrono::milliseconds breaker_reset{300000};

  // Reads R2_* (and AWS_SESSION_TOKEN) from the environment. Throws
  // kConfigInvalid naming the variable when R2_ENDPOINT is set but malformed,
  // or a credential is missing.
  static S3Config from_env();
  // Throws kConfigInvalid on inconsistent settings.
  void validate() const;
  bool use_path_style() const;
  // For status output: endpoint, bucket, prefix, region, addressing and the
  // access key id's first 4 characters; never the secret or the token.
  std::string describe() const;
};

// Counters for tests and status output.
struct S3Stats {
  uint64_t requests = 0;     // HTTP attempts sent
  uint64_t retries = 0;      // attempts after the first of a call
  uint64_t connections = 0;  // new TCP connections libcurl opened
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };

class S3CheckpointStorage : public CheckpointStorage {
 public:
  // Validates the config; opens no connection yet. Local files
  // (write_file_from, read_file_to) go through fs.
  explicit S3CheckpointStorage(S3Config config, FileSystem& fs = FileSystem::real());
  ~S3CheckpointStorage() override;

  std::string describe() const override;
  bool is_available() override;
  std::optional<std::string> read_file(std::string_view key) override;
  std::optional<VersionedObject> read_versioned(std::string_view key) override;
  bool read_file_to(std::string_view key, const std::string& local_path) override;
  bool stream_file(std::string_view key, const ByteSink& sink) override;
  void write_file(std::string_view key, std::string_view data,
                  const WriteOptions& options = {}) override;
  void write_file_from(std::string_view key, const std::string& local_path,
                       const WriteOptions& options = {}) override;
  void delete_file(std::string_view key) override;
  std::vector<std::string> list_files(std::string_view prefix) override;
  bool verify_checksum(std::string_view key, std::string_view sha256_hex) override;
  std::optional<ObjectStat> stat(std::string_view key) override;
  std::vector<CheckResult> check() override;

  BreakerState breaker_state() const;
  S3Stats stats() const;
  const S3Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The store `strata remote` and the sync tier use: S3 when R2_ENDPOINT is set,
// else a FsCheckpointStorage at fallback_dir (which opening does not create).
std::unique_ptr<CheckpointStorage> open_checkpoint_storage_from_env(
    const std::string& fallback_dir);

}  // namespace strata
