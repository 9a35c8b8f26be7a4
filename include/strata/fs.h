// The file-system seam. Every file-system call the WAL and the materializer
// make goes through FileSystem, so tests can swap in FaultInjectionFileSystem
// and make any single call fail (a failing fdatasync, ENOSPC, a torn write).
// Failures are thrown as strata::Error(kIoError) naming the call and the path.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace strata {

class File {
 public:
  virtual ~File() = default;
  // Reads up to n bytes at off; returns fewer only at end of file.
  virtual size_t pread(void* buf, size_t n, uint64_t off) = 0;
  // Writes all n bytes at off or throws (after a partial write, if any).
  virtual void pwrite(const void* buf, size_t n, uint64_t off) = 0;
  virtual void sync_data() = 0;  // fdatasync: data and the metadata needed to read it
  virtual void sync() = 0;       // fsync
  virtual void truncate(uint64_t size) = 0;
  virtual uint64_t size() = 0;
  virtual const std::string& path() const = 0;
};

// Held for as long as the object lives; the lock file keeps the holder's pid.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct DiskSpace {
  uint64_t free_bytes = 0;  // available to an unprivileged writer (f_bavail)
  uint64_t total_bytes = 0;
};

enum class OpenMode {
  kRead,          // existing file, read only
  kReadWrite,     // existing file
  kCreate,        // new file; fails if it exists
  kCreateOrOpen,  // read-write, created if missing
  kCreateTrunc,   // read-write, created or emptied
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The process-wide POSIX implementation.
  static FileSystem& real();

  virtual std::unique_ptr<File> open(const std::string& path, OpenMode mode) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual bool is_directory(const std::string& path) = 0;
  virtual void rename(const std::string& from, const std::string& to) = 0;
  virtual void remove(const std::string& path) = 0;  // a file or an empty directory
  virtual void make_dirs(const std::string& path) = 0;
  virtual void sync_dir(const std::string& path) = 0;
  // Names (not paths) in the directory, sorted, without "." and "..".
  virtual std::vector<std::string> list_dir(const std::string& path) = 0;
  // Exclusive, non-blocking flock on `path` (created if missing), writing this
  // process's pid into it. On contention returns nullptr and sets holder_pid
  // to the pid recorded by the holder (0 if unknown).
  virtual std::unique_ptr<FileLock> try_lock(const std::string& path, pid_t* holder_pid) = 0;
  virtual DiskSpace disk_space(const std::string& path) = 0;
  // syncfs(2) on the file system holding path: one call instead of an fsync
  // per file when many files were written.
  virtual void sync_filesystem(const std::string& path) = 0;
};

// Which call a fault applies to.
enum class FsOp {
  kOpen,
  kRead,
  kWrite,
  kSyncData,
  kSync,
  kTruncate,
  kRename,
  kRemove,
  kMakeDirs,
  kSyncDir,
  kListDir,
  kLock,
  kDiskSpace,
  kSyncFilesystem,
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
// so tests can prove, e.g., that group commit shares fdatasyncs.
class FaultInjectionFileSystem : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem& base = FileSystem::real());

  void add_rule(FaultRule rule);
  void clear_rules();
  // Pretend the file system has this much free space (nullopt: ask the base).
  void set_free_bytes(std::optional<uint64_t> bytes);
  uint64_t count(FsOp op) const;

  // Power-loss simulation. While tracking, every 4 KiB block written and not
  // yet covered by a completed fsync/fdatasync of its file (one that started
  // after the write finished) keeps the content it had at the last such sync.
  // cut_power() makes every later call fail with EIO, as if the machine had
  // died; lose_unsynced_writes() then reverts each such block with
  // probability 1/2 (seeded), in no particular order, as a disk that lost
  // power may, ends the cut and returns how many blocks it reverted. Call it
  // with no I/O in flight.
  void track_unsynced_writes(bool on);
  void cut_power();
  size_t lose_unsynced_writes(uint64_t seed);
  // Blocks written that no completed sync covers yet (while tracking).
  size_t unsynced_blocks();

  // Used by this file system's File objects.
  void tracked_write(File& base, const void* buf, size_t n, uint64_t off);
  uint64_t sync_started();
  void sync_finished(const std::string& path, uint64_t version);

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
  std::atomic<uint64_t> counts_[14] = {};

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
};

}  // namespace strata
