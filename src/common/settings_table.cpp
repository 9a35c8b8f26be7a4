// The registry of every setting strata reads. One line per setting, in the
// group of the tier that reads it; the tier's code applies the default, the
// `default_text` column documents it (keep them equal when changing either).
// `strata config check` prints this table with the effective values.
#include "strata/settings.h"

namespace strata::config {

namespace {

using K = Kind;

constexpr Setting kSettings[] = {
    // The data directory and the configuration file itself.
    {"DATA_DIR", "daemon", K::kText, "./data",
     "root of the WAL, the state and the local stand-ins"},
    {"STRATA_CONFIG", "daemon", K::kText, "", "TOML file with settings (same names as here)", false,
     nullptr, false},

    // The daemon (`strata serve`): HTTP, shutdown, schedulers, logs.
    {"STRATA_LISTEN", "daemon", K::kText, "127.0.0.1:7480",
     "HOST:PORT the HTTP API listens on; off loopback only with STRATA_TOKEN"},
    {"STRATA_TOKEN", "daemon", K::kText, "", "bearer token required on every route but /healthz",
     true},
    {"STRATA_MAX_BODY_BYTES", "daemon", K::kBytes, "32MiB", "larger request bodies get 413"},
    {"STRATA_MAX_CONNECTIONS", "daemon", K::kNumber, "64",
     "connections served at once; more are answered 503 and closed"},
    {"STRATA_READ_TIMEOUT_MS", "daemon", K::kMillis, "10000",
     "a client that sends nothing for this long, or not its whole body in this time, is cut off"},
    {"STRATA_WRITE_TIMEOUT_MS", "daemon", K::kMillis, "10000",
     "a client that takes no part of a response for this long is cut off"},
    {"STRATA_IDLE_TIMEOUT_MS", "daemon", K::kMillis, "5000",
     "an idle keep-alive connection is closed after this"},
    {"STRATA_REMOTE_WAIT_MS", "daemon", K::kMillis, "60000",
     "longest wait of POST /v1/entries?durability=remote before 504"},
    {"SHUTDOWN_SYNC_TIMEOUT_MS", "daemon", K::kMillis, "10000",
     "bound on the last sync and archive at SIGTERM/SIGINT"},
    {"STRATA_LOCAL_REMOTE_DIR", "daemon", K::kText, "DATA_DIR/remote",
     "filesystem store standing in for the object store when R2_ENDPOINT is unset"},
    {"STRATA_BREAKER_FAILURES", "daemon", K::kNumber, "3",
     "consecutive failed runs of a tier that open its circuit breaker"},
    {"STRATA_BREAKER_RESET_MS", "daemon", K::kMillis, "300000",
     "an open tier breaker lets one probe run through after this"},
    {"STRATA_COMPACT_CHECK_MS", "daemon", K::kMillis, "60000",
     "how often the daemon checks whether the WAL asks for compaction"},
    {"LOG_FORMAT", "daemon", K::kChoice, "text", "log lines as text or as JSON objects", false,
     "text|json"},
    {"LOG_LEVEL", "daemon", K::kChoice, "info", "lowest level logged", false,
     "debug|info|warn|error"},
    {"LOG_FILE", "daemon", K::kText, "", "append logs to this file (reopened on SIGHUP); stderr"},
    {"SYNC_INTERVAL_MS", "daemon", K::kMillis, "30000", "WAL -> object store sync period"},
    {"GIT_SYNC_INTERVAL_MS", "daemon", K::kMillis, "3600000", "Git archive period"},

    // The write-ahead log (WalOptions::from_env).
    {"WAL_SYNC", "wal", K::kChoice, "always", "when an append is durable", false,
     "always|interval|none"},
    {"WAL_SYNC_INTERVAL_MS", "wal", K::kMillis, "100", "period of the background sync"},
    {"WAL_SEGMENT_BYTES", "wal", K::kBytes, "64MiB", "segments are sealed at this size"},
    {"WAL_MAX_ENTRY_BYTES", "wal", K::kBytes, "16MiB", "larger entries are refused"},
    {"WAL_WARN_BYTES", "wal", K::kBytes, "1GiB", "WAL size at which compaction is requested"},
    {"WAL_MAX_BYTES", "wal", K::kBytes, "1.5GiB", "WAL size at which writes are refused"},
    {"WAL_MIN_FREE_BYTES", "wal", K::kBytes, "100MB", "free space below which writes stop"},
    {"WAL_RESUME_FREE_BYTES", "wal", K::kBytes, "150MB", "free space above which they resume"},
    {"WAL_SYNCS_IN_FLIGHT", "wal", K::kNumber, "1", "overlapping group commits (1-16)"},

    // The object store (S3Config::from_env, open_checkpoint_storage_from_env).
    {"R2_ENDPOINT", "object", K::kText, "",
     "https://host[:port] of the S3-compatible store; unset: filesystem stand-in"},
    {"R2_BUCKET", "object", K::kText, "loa-finn-data", "bucket"},
    {"R2_REGION", "object", K::kText, "auto", "signing region"},
    {"R2_PREFIX", "object", K::kText, "", "prefix of every key (ends with '/')"},
    {"R2_ACCESS_KEY_ID", "object", K::kText, "", "access key id", true},
    {"R2_SECRET_ACCESS_KEY", "object", K::kText, "", "secret access key", true},
    {"AWS_SESSION_TOKEN", "object", K::kText, "", "temporary-credential session token", true},
    {"R2_FORCE_PATH_STYLE", "object", K::kBool, "", "force path-style (or virtual-host) URLs"},
    {"R2_CA_BUNDLE", "object", K::kText, "", "PEM file of trusted CAs; system store"},
    {"R2_MULTIPART_THRESHOLD", "object", K::kBytes, "64MiB", "larger uploads use multipart"},
    {"R2_PART_SIZE", "object", K::kBytes, "16MiB", "multipart part size"},
    {"R2_PART_CONCURRENCY", "object", K::kNumber, "2 on R2, 4 elsewhere",
     "parts of one multipart upload in flight at once (1-16)"},
    {"R2_CONNECT_TIMEOUT_MS", "object", K::kMillis, "10000", "connect timeout"},
    {"R2_STALL_TIMEOUT_MS", "object", K::kMillis, "20000", "an attempt moving no byte fails"},
    {"R2_TIMEOUT_MS", "object", K::kMillis, "55000", "budget of one call, retries included"},
    {"R2_MIN_RATE", "object", K::kBytes, "1MiB", "bytes/s a large transfer is granted"},
    {"R2_MAX_ATTEMPTS", "object", K::kNumber, "4", "first try and retries"},
    {"R2_BACKOFF_BASE_MS", "object", K::kMillis, "200", "first retry backoff"},
    {"R2_BACKOFF_CAP_MS", "object", K::kMillis, "5000", "longest retry backoff"},
    {"R2_BREAKER_THRESHOLD", "object", K::kNumber, "3",
     "failed calls that open the client's breaker"},
    {"R2_BREAKER_RESET_MS", "object", K::kMillis, "300000",
     "the client's breaker half-opens after"},

    // The object-store sync tier (ObjectSyncOptions::from_env).
    {"SYNC_OBJECT_BYTES", "sync", K::kBytes, "16MiB", "log bytes per uploaded object"},
    {"SYNC_PARALLELISM", "sync", K::kNumber, "4", "log objects built and uploaded at once"},
    {"SYNC_COMPRESSION", "sync", K::kChoice, "zstd", "compression of log objects", false,
     "zstd|none"},
    {"SYNC_ZSTD_LEVEL", "sync", K::kNumber, "3", "zstd level (1-19)"},
    {"SYNC_ORPHAN_MS", "sync", K::kMillis, "600000",
     "age after which stale intents and unlisted objects are removed"},
    {"SYNC_VERIFY", "sync", K::kChoice, "metadata",
     "verify uploads by their checksum metadata or by reading them back", false, "metadata|read"},
    {"SYNC_MANIFEST_MIN_INTERVAL_MS", "sync", K::kMillis, "1000",
     "least time between two manifest writes (R2 takes about one per second)"},
    {"SNAPSHOT_INTERVAL_MS", "sync", K::kMillis, "86400000", "state snapshot period"},
    {"SNAPSHOT_EVERY_BYTES", "sync", K::kBytes, "256MiB",
     "state snapshot after this much newly shipped log"},
    {"RETENTION_MS", "sync", K::kMillis, "604800000", "how long remote history is kept"},
    {"PRUNE_KEEP_SEGMENTS", "sync", K::kNumber, "2", "sealed segments kept locally after pruning"},

    // The Git archive tier (GitSyncConfig::from_env).
    {"GIT_REMOTE", "git", K::kText, "",
     "remote name or URL the archive is pushed to; unset: DATA_DIR/archive.git stand-in"},
    {"GIT_REPO_DIR", "git", K::kText, "DATA_DIR/archive.git", "local repository of the archive"},
    {"GIT_ARCHIVE_BRANCH", "git", K::kText, "finn/archive", "archive branch"},
    {"GIT_ARCHIVE_PATHS", "git", K::kPathList, "", "extra directories archived beside state/"},
    {"GIT_ARCHIVE_MAX_FILE_BYTES", "git", K::kBytes, "50MiB", "larger files are skipped"},
    {"GIT_TOKEN", "git", K::kText, "", "password for HTTPS basic auth", true},
    {"GIT_SSH_KEY", "git", K::kText, "", "private key file; the SSH agent otherwise"},
    {"GIT_SSH_KEY_PASSPHRASE", "git", K::kText, "", "passphrase of GIT_SSH_KEY", true},
    {"GIT_AUTHOR_NAME", "git", K::kText, "strata", "author of snapshot commits"},
    {"GIT_AUTHOR_EMAIL", "git", K::kText, "strata@localhost", "author e-mail"},
    {"GIT_TIMEOUT_MS", "git", K::kMillis, "30000", "bound on each network operation"},

    // The recovery cascade (run at boot by the daemon and by `strata recover`).
    {"RECOVERY_MODE", "recovery", K::kChoice, "degraded",
     "strict (fail rather than lose), degraded (best source) or clean (start empty)", false,
     "strict|degraded|clean"},
    {"RECOVERY_PARALLELISM", "recovery", K::kNumber, "8", "downloads at once (1-64)"},
    {"RECOVERY_PROBE_TIMEOUT_MS", "recovery", K::kMillis, "5000",
     "reachability probe of each source"},
    {"RECOVERY_STALL_TIMEOUT_MS", "recovery", K::kMillis, "30000",
     "a restore moving nothing for this long fails"},
    {"RECOVERY_DEADLINE_MS", "recovery", K::kMillis, "120000", "whole recovery run; 0 = none"},
    {"RECOVERY_LOOP_MAX", "recovery", K::kNumber, "3",
     "failed recoveries within RECOVERY_LOOP_WINDOW_MS that mean a loop"},
    {"RECOVERY_LOOP_WINDOW_MS", "recovery", K::kMillis, "600000", "window of RECOVERY_LOOP_MAX"},
    {"RECOVERY_TEMPLATE_DIR", "recovery", K::kText, "",
     "state copied in when no source has data; unset: none"},
};

}  // namespace

std::span<const Setting> settings() {
  return kSettings;
}

}  // namespace strata::config
