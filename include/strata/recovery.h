// The recovery cascade: bring a data directory (DATA_DIR/wal, state/,
// state.seq, lineage-id) back from whichever tier holds the newest
// consistent copy, and say exactly what was restored and what was not.
//
// Sources, in the order they are preferred for the same seq:
//   local     DATA_DIR/wal, when intact (nothing is downloaded)
//   r2        the object store: the newest snapshot at or before the target
//             plus the log objects after it, every SHA-256 verified
//   git       the newest Git snapshot at or before the target, plus local
//             entries after it that are readable
//   template  RECOVERY_TEMPLATE_DIR copied into state/ (a fresh history)
// The source that reaches the highest seq wins; an intact local WAL that is
// at least as new as every remote of its lineage is used in place.
//
// Atomicity: everything is built in DATA_DIR/.recovery/staging and checked
// (Wal::verify; the state equals the snapshot plus the log applied to it)
// before a commit record is written; only then are wal/, state/, lineage-id
// and state.seq moved into place, the previous ones kept under
// DATA_DIR/.recovery/replaced-<time>/. A crash before the commit record
// leaves the data directory untouched (the next run discards the staging
// directory); a crash after it leaves the record, and the next run_recovery
// finishes the moves before anything else. Until then the directory must
// not be used (the daemon calls run_recovery before it opens the WAL).
//
// Remotes are never written: recovery only reads the object store and the
// Git remote. A restore below a remote's head (point in time, template,
// clean) gets a new lineage id, so later syncs cannot overwrite the history
// it was taken from.
//
// run_recovery keeps no global state and never exits the process: a daemon
// calls it at boot. One call at a time per data directory (it holds the WAL
// lock while it works).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/fs.h"
#include "strata/wal.h"

namespace strata {

class CheckpointStorage;
class GitSync;

enum class RecoveryMode {
  kStrict,    // every configured tier reachable, every checksum right, nothing acknowledged lost
  kDegraded,  // the best there is, with what was lost or skipped reported
  kClean,     // start empty with a new lineage; the previous local data is kept aside
};
std::string_view recovery_mode_name(RecoveryMode m);  // "strict", "degraded", "clean"
// Throws kConfigInvalid naming `what` and the accepted values.
RecoveryMode parse_recovery_mode(std::string_view s, std::string_view what = "RECOVERY_MODE");

enum class RecoverySource { kNone, kLocal, kObjectStore, kGit, kTemplate };
std::string_view recovery_source_name(
    RecoverySource s);  // "none", "local", "r2", "git", "template"

enum class RecoveryState {
  kRunning,       // restored completely: nothing known to be missing
  kDegraded,      // usable, with something missing or a tier unreachable (see missing)
  kLoopDetected,  // too many failed recoveries recently: not attempted
  kFailed,        // nothing changed; error says why
};
std::string_view recovery_state_name(RecoveryState s);  // "RUNNING", ...

struct RecoveryProgress {
  std::string_view source;  // "r2", "git", ...
  uint64_t objects_done = 0, objects_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
  std::chrono::milliseconds elapsed{0};
};

struct RecoveryConfig {
  std::string data_dir;
  // Restore into this directory instead (new or empty): a backup can be
  // checked without touching the live data. The live WAL is not opened and
  // its lock is not needed; the local source is not used.
  std::string target_dir;
  RecoveryMode mode = RecoveryMode::kDegraded;  // RECOVERY_MODE
  // Point in time: the state right after this entry (at most one of them).
  std::optional<uint64_t> to_seq;
  std::optional<uint64_t> to_time_ms;  // the last entry whose timestamp is at or before it
  bool dry_run = false;                // plan only: change nothing, download nothing but manifests
  uint32_t parallelism = 8;            // RECOVERY_PARALLELISM: downloads at once
  std::chrono::milliseconds probe_timeout{5000};   // RECOVERY_PROBE_TIMEOUT_MS: reachability
  std::chrono::milliseconds stall_timeout{30000};  // RECOVERY_STALL_TIMEOUT_MS: no progress
  std::chrono::milliseconds deadline{120000};      // RECOVERY_DEADLINE_MS: whole run; 0 = none
  uint32_t loop_max = 3;                           // RECOVERY_LOOP_MAX failures ...
  std::chrono::milliseconds loop_window{600000};   // ... within RECOVERY_LOOP_WINDOW_MS
  std::string template_dir;                        // RECOVERY_TEMPLATE_DIR; "" = none
  // How to open the WAL that recovery builds or replays (sync mode, segment
  // size, limits); `dir` is ignored.
  WalOptions wal;
  // Called from the recovering thread while downloading (the CLI draws a
  // progress line on a terminal with it).
  std::function<void(const RecoveryProgress&)> progress;
  FileSystem* fs = nullptr;  // nullptr: the real file system
  // Tests: called at the named steps of the commit ("staged", "committed",
  // "moved-wal", "moved-state"), e.g. to kill the process there.
  std::function<void(std::string_view step)> failpoint;

  // The RECOVERY_* variables above and WalOptions::from_env. Throws
  // kConfigInvalid naming the variable.
  static RecoveryConfig from_env(std::string data_dir);
  // Throws kConfigInvalid for inconsistent settings (both targets, ...).
  void validate() const;
};

// The tiers the caller has configured; nullptr = not configured. They must
// outlive the call. The object store is only read; the Git tier only
// fetches and restores.
struct RecoveryTiers {
  CheckpointStorage* object_store = nullptr;
  std::string object_key_prefix;  // what the sync tier prepends (ObjectSyncOptions::key_prefix)
  GitSync* git = nullptr;
};

// One line per source: what it offered and why it was or was not used.
struct RecoverySourceReport {
  RecoverySource source = RecoverySource::kNone;
  bool configured = false;
  bool reachable = false;
  bool used = false;
  std::optional<uint64_t> head_seq;  // the newest seq it could restore
  std::string lineage_id;
  std::string line;  // "manifest v7: snapshot at 1000, log to 3000; used"
};

// An object a dry run would download.
struct RecoveryPlannedObject {
  std::string key;
  uint64_t bytes = 0;
  std::string what;  // "snapshot at seq 1000", "log 1001-2000"
};

struct RecoveryResult {
  RecoverySource source = RecoverySource::kNone;
  RecoveryMode mode = RecoveryMode::kDegraded;
  RecoveryState state = RecoveryState::kFailed;
  bool dry_run = false;
  std::string target_dir;         // where the data directory was (or would be) restored
  uint64_t files_restored = 0;    // state files from a snapshot or the template
  uint64_t entries_restored = 0;  // entries written into the new WAL
  uint64_t entries_replayed = 0;  // entries applied to state/
  uint64_t seq_reached = 0;       // the state is every entry up to this seq applied
  uint64_t objects_downloaded = 0;
  uint64_t bytes_downloaded = 0;
  std::string lineage_id;
  bool new_lineage = false;  // the restored directory starts a history of its own
  bool verified = false;     // WAL verified and state equal to snapshot + log
  // What is known to be lost or skipped, one sentence each, e.g. "entries
  // 1201-1350 exist only on r2, which was unreachable".
  std::vector<std::string> missing;
  std::vector<std::string> notes;           // where replaced data was kept, repairs made, ...
  std::vector<RecoveryPlannedObject> plan;  // dry run: what would be downloaded
  uint64_t plan_bytes = 0;
  std::chrono::milliseconds duration{0};
  std::vector<RecoverySourceReport> sources;
  // kFailed / kLoopDetected: the error code name and message.
  std::string error_code;
  std::string error;
};

// Runs the cascade. Never throws for what a source or the data does (that is
// a kFailed result with the error, and the data directory is untouched);
// throws kConfigInvalid / kInvalidArgument for a bad config.
RecoveryResult run_recovery(const RecoveryConfig& config, const RecoveryTiers& tiers);

// Forgets the failed recoveries recorded in data_dir (`strata recover
// --reset-loop`), so the next run is attempted.
void reset_recovery_loop(const std::string& data_dir, FileSystem* fs = nullptr);

}  // namespace strata
