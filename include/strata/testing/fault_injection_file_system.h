// A FileSystem for tests: wraps another one and fails any single call on
// request (an fsync, a rename, ENOSPC, a torn write), counts calls, fakes
// free space, and simulates a power cut that loses unsynced writes. Public
// so programs embedding strata can test their own failure handling with it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "strata/fs.h"

namespace strata {

// Which call a fault applies to. Path calls and their Dir and File
// counterparts share one value (Dir::rename is kRename, Dir::open_file is
// kOpen, Dir::sync is kSyncDir, ...).
enum class FsOp {
  kOpen,  // FileSystem::open, Dir::open_file
  kRead,
  kWrite,
  kSyncData,
  kSync,
  kTruncate,
  kRename,    // FileSystem::rename, Dir::rename
  kRemove,    // FileSystem::remove, Dir::remove_file, Dir::remove_dir
  kMakeDirs,  // FileSystem::make_dirs, Dir::make_dir
  kSyncDir,   // FileSystem::sync_dir, Dir::sync
  kListDir,   // FileSystem::list_dir, Dir::list
  kLock,      // FileSystem::try_lock, Dir::lock
  kDiskSpace,
  kSyncFilesystem,  // FileSystem::sync_filesystem, Dir::sync_filesystem
  kOpenDir,         // FileSystem::open_dir, Dir::open_dir
  kStat,            // Dir::stat, File::info
  kLink,            // Dir::link
  kSymlink,         // Dir::make_symlink
  kReadLink,        // Dir::read_symlink
  kResolve,         // Dir::resolve_beneath
  kChmod,           // File::set_mode, Dir::set_mode
  kSetXattr,        // File::set_xattr
  kGetXattr,        // File::get_xattr, File::list_xattrs
  kAccess,          // Dir::accessible (a failure makes it return false)
  kCount,           // not an operation: the number of them
};

struct FaultRule {
  FsOp op;
  std::string path_contains;  // empty matches every path
  int skip = 0;               // let this many matching calls succeed first
  int times = 1;              // then fail this many (-1: forever)
  int err = 5;                // errno reported (EIO)
  // For kWrite: write this many bytes of the buffer before failing (a torn write).
  size_t torn_bytes = 0;
};

// Wraps another FileSystem and fails calls according to rules; counts calls
// so tests can prove, e.g., that group commit shares fdatasyncs. The path a
// rule matches is the full path of the call: for a Dir call, the directory's
// path + "/" + name (for a rename, the destination). Thread-safe.
class FaultInjectionFileSystem : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem& base = FileSystem::real());

  void add_rule(FaultRule rule);
  void clear_rules();
  // Pretend the file system has this much free space (nullopt: ask the base).
  void set_free_bytes(std::optional<uint64_t> bytes);
  uint64_t count(FsOp op) const;

  // Power-loss simulation. While tracking, every 4 KiB block written and not
  // yet covered by a completed fsync/fdatasync of its file or a syncfs (one
  // that started after the write finished) keeps the content it had at the
  // last such sync. Likewise every change of a directory entry (a file,
  // directory, symlink or link created, a rename, an unlink, an rmdir, made
  // through this file system) stays undoable until a completed fsync of its
  // directory or a syncfs covers it, as a directory entry is durable only
  // once its directory is (a rename, once its destination's directory is).
  // Lock files (try_lock, Dir::lock) are not tracked.
  // cut_power() makes every later call fail with EIO, as if the machine had
  // died; lose_unsynced_writes() then, seeded:
  //  - undoes, newest first, each change no sync covers with probability
  //    1/2, in no order (a later unlink may survive an earlier rename in the
  //    same directory), and every later change of an entry an undone change
  //    touched (so what is left is a state the disk could hold). A rename
  //    is undone whole (moved back), never half; a file or symlink that comes
  //    back under its old name has the content, permission bits and extended
  //    attributes it had when it left the name (writes made to it later
  //    through another name are not seen); a removed directory comes back
  //    empty; a directory whose creation is undone goes with all it holds;
  //  - then reverts each uncovered block with probability 1/2, in no
  //    particular order, as a disk that lost power may;
  // ends the cut and returns how many blocks it reverted. Paths are compared
  // lexically ("a//b/./c" is "a/b/c"; symlinks and ".." are not resolved).
  // Call it with no I/O in flight.
  void track_unsynced_writes(bool on);
  void cut_power();
  size_t lose_unsynced_writes(uint64_t seed);
  // Blocks written that no completed sync covers yet (while tracking).
  size_t unsynced_blocks();
  // Directory-entry changes some directory's sync does not cover yet.
  size_t unsynced_changes();
  // How many changes the last lose_unsynced_writes() undid.
  size_t changes_undone() const { return changes_undone_; }

  // What every instance in this process simulated so far: power cuts (calls
  // of lose_unsynced_writes), blocks reverted, directory-entry changes
  // undone. A suite's figures (tests/support/power_loss_tally.cpp prints them
  // at exit).
  struct PowerLossTally {
    uint64_t cuts = 0;
    uint64_t blocks_reverted = 0;
    uint64_t changes_undone = 0;
  };
  static PowerLossTally power_loss_tally();

  // Used by this file system's File and Dir objects.
  void tracked_write(File& base, const void* buf, size_t n, uint64_t off);
  uint64_t sync_started();
  void sync_finished(const std::string& path, uint64_t version);
  // A syncfs that started at version: covers every file's writes before it
  // (the files tracked are taken to be on one file system).
  void filesystem_synced(uint64_t version);

  // The directory-entry journal, used by this file system's Dir objects and
  // its own path calls. A change runs as: begin_change() (which takes the
  // journal's lock while tracking: one change at a time), save_entry() before
  // a call that may remove or replace an entry, the base call, then
  // end_change() with what it did (dropping the scope instead records
  // nothing: the call changed nothing).
  enum class ChangeKind { kCreate, kMakeDir, kRemove, kRename };
  struct ChangeScope;
  ChangeScope begin_change();
  void save_entry(ChangeScope& scope, const std::string& path);
  void end_change(ChangeScope& scope, ChangeKind kind, const std::string& path,
                  const std::string& to = {});
  // A directory fsync (or, for dir "", a syncfs) that started at the
  // returned version covers every change up to it in that directory.
  uint64_t dir_sync_started();
  void dir_synced(const std::string& dir, uint64_t change_version);

  std::unique_ptr<File> open(const std::string& path, OpenMode mode) override;
  bool exists(const std::string& path) override;
  bool is_directory(const std::string& path) override;
  void rename(const std::string& from, const std::string& to) override;
  void remove(const std::string& path) override;
  void make_dirs(const std::string& path) override;
  void sync_dir(const std::string& path) override;
  std::vector<std::string> list_dir(const std::string& path) override;
  std::unique_ptr<FileLock> try_lock(const std::string& path, pid_t* holder_pid) override;
  DiskSpace disk_space(const std::string& path) override;
  void sync_filesystem(const std::string& path) override;
  std::unique_ptr<Dir> open_dir(const std::string& path) override;

  // Counts the call and throws if a rule says so. Returns the matching rule's
  // torn_bytes for writes (0 when the call should proceed normally).
  void check(FsOp op, const std::string& path, size_t* torn_bytes = nullptr);

 private:
  struct ActiveRule {
    FaultRule rule;
    int seen = 0;
    int fired = 0;
  };
  FileSystem& base_;
  mutable std::mutex mu_;
  std::vector<ActiveRule> rules_;
  std::optional<uint64_t> free_bytes_;
  std::atomic<uint64_t> counts_[static_cast<int>(FsOp::kCount)] = {};

  struct UnsyncedBlock {
    std::string durable;  // content a completed sync is known to have kept
    // (write counter, content right after that write), oldest first: a sync
    // that started after write v makes the content after v durable.
    std::vector<std::pair<uint64_t, std::string>> writes;
    int writing = 0;  // writes to the block in progress
  };
  std::mutex track_mu_;  // held across a tracked write so blocks stay consistent
  bool tracking_ = false;
  std::atomic<bool> power_cut_{false};
  std::atomic<uint64_t> write_version_{0};
  std::map<std::string, std::map<uint64_t, UnsyncedBlock>> unsynced_;  // path -> block index

  // What an entry held before a change removed or replaced it.
  struct SavedEntry {
    FileKind kind = FileKind::kOther;
    std::string content;  // a file's bytes, a symlink's target
    uint32_t mode = 0;
    std::vector<std::pair<std::string, std::string>> xattrs;
    std::map<uint64_t, UnsyncedBlock> blocks;  // its data not yet durable
  };
  struct Change {
    uint64_t version = 0;
    ChangeKind kind = ChangeKind::kCreate;
    std::string path;                    // the entry (a rename's source)
    std::string to;                      // a rename's destination
    std::optional<SavedEntry> replaced;  // what path (kRemove) or to (kRename) held
  };
  static std::string normal_path(const std::string& path);
  bool uncovered(const Change& c) const;
  void moved(const std::string& from, const std::string& to);  // tracked blocks follow a rename
  std::optional<SavedEntry> take_entry(const std::string& path);
  void restore_entry(const std::string& path, SavedEntry saved);
  void undo(Change& c);
  size_t undo_unsynced_changes(uint64_t seed);
  std::mutex ns_mu_;             // held across one change while tracking (ChangeScope)
  std::vector<Change> changes_;  // oldest first, not yet covered by every directory's sync
  uint64_t change_version_ = 0;
  uint64_t fs_synced_ = 0;                      // a syncfs covered every change up to this
  std::map<std::string, uint64_t> dir_synced_;  // directory -> last change its fsync covered
  size_t changes_undone_ = 0;

 public:
  struct ChangeScope {
    std::unique_lock<std::mutex> lock;  // not owning: not tracking
    std::optional<SavedEntry> saved;
  };
};

namespace testing {

// A fault rule with every field spelled out (designated initializers that
// leave fields out trip -Wmissing-field-initializers).
inline FaultRule fault(FsOp op, std::string path_contains = "", int skip = 0, int times = 1,
                       int err = 5, size_t torn_bytes = 0) {
  FaultRule r;
  r.op = op;
  r.path_contains = std::move(path_contains);
  r.skip = skip;
  r.times = times;
  r.err = err;
  r.torn_bytes = torn_bytes;
  return r;
}

}  // namespace testing
}  // namespace strata
