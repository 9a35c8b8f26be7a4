// The Git archive tier: snapshots of the materialized state, committed with
// libgit2 to an archive branch and pushed fast-forward only. It is the slow,
// human-readable copy: `git log BRANCH` and `git show BRANCH:state/...` work
// on it with nothing but git.
//
// GitSync never touches a working tree, an index or HEAD: it writes objects
// and moves exactly one local ref (refs/heads/<branch>) with a
// compare-and-swap, plus its record of each remote's tip
// (refs/strata/remotes/<remote id>/<branch>, the id a hash of the remote's
// URL, so what one remote confirmed never counts for another). It does not
// depend on the WAL: the caller
// says which WAL seq the state directory corresponds to.
//
// Layout of every snapshot commit (see docs/git-archive.md):
//   snapshot-manifest.json   id, time, WAL seq, lineage, counts, skipped paths
//   state/...                the state directory
//   <name>/...               each extra directory of GIT_ARCHIVE_PATHS
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

// As in the original: "ok", "conflict", "error", "unconfigured".
enum class GitSyncState { kOk, kConflict, kError, kUnconfigured };
std::string_view git_sync_state_name(GitSyncState state);

struct GitSyncConfig {
  std::string state_dir;                // archived as state/
  std::vector<std::string> extra_dirs;  // GIT_ARCHIVE_PATHS, archived under their base names
  std::string repo_dir;                 // GIT_REPO_DIR; a bare repo is created if missing
  std::string branch = "finn/archive";  // GIT_ARCHIVE_BRANCH, without refs/heads/
  std::string remote;          // GIT_REMOTE: a remote name in repo_dir, or a URL; "" = local only
  std::string token;           // GIT_TOKEN: password for HTTP(S) basic auth
  std::string ssh_key;         // GIT_SSH_KEY: private key file; else the SSH agent
  std::string ssh_passphrase;  // GIT_SSH_KEY_PASSPHRASE
  std::string author_name = "strata";             // GIT_AUTHOR_NAME
  std::string author_email = "strata@localhost";  // GIT_AUTHOR_EMAIL
  uint64_t max_file_bytes = 50ull << 20;     // GIT_ARCHIVE_MAX_FILE_BYTES; larger files are skipped
  std::chrono::milliseconds timeout{30000};  // GIT_TIMEOUT_MS: bound on each network operation
  std::string lineage_id;  // written into every manifest; identifies the data directory's history
  // Whether a missing (or empty) repo_dir is created. Commands that only
  // read set it false: a missing repository is then Error(kNotFound).
  bool create_repo = true;

  // Reads the variables above. DATA_DIR-relative defaults: state_dir =
  // DATA_DIR/state, repo_dir = DATA_DIR/archive.git; relative entries of
  // GIT_ARCHIVE_PATHS (':'-separated) are taken relative to DATA_DIR.
  // Throws kConfigInvalid naming the variable; validates everything.
  static GitSyncConfig from_env(const std::string& data_dir);
  // Throws kConfigInvalid (naming the variable) for any invalid field.
  void validate() const;
};

// Refuses (kConfigInvalid) what libgit2's reference-name rules refuse for
// refs/heads/<name>, plus the original's rules: no leading '-', no "..", no
// whitespace, control or shell metacharacters.
void validate_archive_branch(std::string_view name);

// "https://user:secret@host/x?token=t" -> "https://***@host/x?token=***".
// For messages and logs.
std::string redact_url(std::string_view url);

struct SkippedPath {
  std::string path;    // archive path, e.g. "state/big.bin"
  std::string reason;  // e.g. "larger than GIT_ARCHIVE_MAX_FILE_BYTES (52428800)"
};

// What a snapshot commit's manifest says, plus the commit itself.
struct SnapshotInfo {
  std::string commit;         // full hex id
  int64_t commit_time = 0;    // seconds since the epoch (committer time)
  bool has_manifest = false;  // false: a commit on the branch that strata did not write
  std::string snapshot_id;
  std::string created_at;  // ISO 8601 UTC
  uint64_t wal_seq = 0;
  std::string lineage_id;
  uint64_t file_count = 0;  // regular files and symlinks archived
  uint64_t total_bytes = 0;
};

struct SnapshotResult {
  bool committed = false;  // false: the content equals the branch tip's, no commit was made
  SnapshotInfo tip;        // the branch tip after the call
  std::vector<SkippedPath> skipped;
};

struct PushResult {
  bool pushed = false;        // false: the remote already had the local tip
  std::string local_commit;   // what the remote has now
  std::string remote_before;  // the remote tip before the push; "" when the branch was new
  std::optional<uint64_t> confirmed_seq;
};

struct RestoreOptions {
  enum class Source {
    kAuto,    // the remote's branch when GIT_REMOTE is set, else the local branch
    kLocal,   // the local branch, no network
    kRemote,  // the remote's branch; fails without GIT_REMOTE
  };
  Source source = Source::kAuto;
  std::optional<std::string> commit;  // a revision (hex id, short id, BRANCH~2); overrides the tip
  // The newest snapshot on the branch's first-parent line whose commit time
  // is at or before this instant.
  std::optional<std::chrono::system_clock::time_point> before;
};

struct RestoreResult {
  SnapshotInfo snapshot;
  uint64_t files_written = 0;
  uint64_t bytes_written = 0;
};

struct GitSyncStatus {
  GitSyncState state = GitSyncState::kUnconfigured;
  std::string message;  // what happened last, credentials redacted
  std::string branch;
  std::string remote;  // redacted
  std::optional<std::string> local_tip;
  std::optional<std::string> remote_tip;  // as of the last fetch or push
  std::optional<uint64_t> confirmed_seq;
  // After a conflict: commits only the local branch has / only the remote has.
  std::vector<std::string> local_only;
  std::vector<std::string> remote_only;
};

// One thread at a time may call snapshot/push/restore/log/confirmed_seq;
// status() may be called from any thread. Several processes may share a
// repository: the branch only ever moves by compare-and-swap.
class GitSync {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Validates the config (kConfigInvalid), opens GIT_REPO_DIR or (with
  // create_repo) creates a bare repository there, atomically: processes
  // racing to create it all end up opening the same one. Refuses a non-bare
  // repository whose HEAD is the archive branch, since moving it would
  // desynchronize that working tree.
  explicit GitSync(GitSyncConfig config, Clock clock = {});
  ~GitSync();
  GitSync(const GitSync&) = delete;
  GitSync& operator=(const GitSync&) = delete;

  // Commits the state directory (and extra dirs) as it is now, labelled
  // with wal_seq, on top of the branch tip. The caller guarantees the state
  // reflects at least every entry up to wal_seq; files changing during the
  // walk are fine as long as replaying entries after wal_seq repairs them
  // (true for the materializer, whose operations are idempotent). Skips (and
  // reports) files over max_file_bytes, symlinks leaving their directory,
  // names git reserves (`.git`, ...), and special files. No commit when the
  // content equals the tip's. Refuses (kConfigInvalid, nothing committed) an
  // extra directory that does not exist. When the branch moves while
  // committing (another process archived), tries again on top of it a few
  // times, then throws kGitConflict; kIoError for unreadable state, kGitError
  // for repository failures.
  SnapshotResult snapshot(uint64_t wal_seq);

  // Fetches the remote branch and pushes the local tip if the remote tip is
  // an ancestor of it; never forces. Without GIT_REMOTE: status
  // `unconfigured`, returns pushed=false. Throws kGitConflict (status
  // `conflict`, the message names the diverging commits, nothing is pushed),
  // kTimeout or kGitError (status `error`; the local commits stay for the
  // next push).
  PushResult push();

  // Writes the chosen snapshot's tree into target_dir, which must not exist
  // or be empty: files are staged in a sibling directory and renamed into
  // place, so a failed restore leaves nothing behind. Refuses (kInvalidPath)
  // any entry that would leave the target (`..`, `.git`, absolute or escaping
  // symlinks, submodules). Throws kNotFound when no snapshot matches.
  RestoreResult restore(const std::string& target_dir, const RestoreOptions& options = {});

  // Commits on the branch's first-parent line, newest first (limit 0: all).
  // from_remote fetches first and lists the remote's branch. A commit is a
  // snapshot (has_manifest) only if strata wrote it: a commit made on top of
  // a snapshot by other means inherits the manifest blob unchanged, and is
  // listed as not a snapshot, as restore treats it.
  std::vector<SnapshotInfo> log(size_t limit = 0, bool from_remote = false);

  // The WAL seq the remote is known to hold: the manifest seq of the last
  // fetched or pushed tip of this remote (GIT_REMOTE as it is now; another
  // remote's confirmation never counts), if that snapshot is of this lineage.
  // Read from the repository, so it survives restarts. nullopt without a
  // remote or before the first successful push.
  std::optional<uint64_t> confirmed_seq();

  // The outcome of the last operation. Safe to call from another thread.
  GitSyncStatus status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
