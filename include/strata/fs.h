// The file-system seam. Every local file-system call strata makes goes
// through FileSystem (by path) or Dir (relative to an open directory), so
// tests can swap in strata::testing's FaultInjectionFileSystem and make any
// single call fail (a failing fsync or rename, ENOSPC, a torn write, a power
// cut). Failures are thrown as strata::Error(kIoError) naming the call and
// the path; the expected outcomes a caller branches on (missing, already
// there) are return values, not exceptions.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

enum class FileKind { kRegular, kDirectory, kSymlink, kOther };

// What fstat/lstat says about one file (a symlink is never followed).
struct FileInfo {
  FileKind kind = FileKind::kOther;
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits (07777)
  std::chrono::system_clock::time_point mtime;
};

// An open file. Every method may be called from several threads at once on
// the same object: reads and writes are positional (pread/pwrite on one
// descriptor, no shared offset), so concurrent calls on disjoint ranges do
// not interfere; on overlapping ranges each call's bytes land whole or the
// other's do, unspecified which. A sync covers every write that returned
// before it started. The object must outlive calls in progress on it.
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
  virtual FileInfo info() = 0;
  // Exactly these permission bits, whatever the umask was at creation.
  virtual void set_mode(uint32_t mode) = 0;
  // Extended attributes (names like "user.strata.sha256"). A file system
  // without them fails set_xattr with kIoError (ENOTSUP).
  virtual void set_xattr(const std::string& name, std::string_view value) = 0;
  // nullopt when the file has no such attribute (or the file system none).
  virtual std::optional<std::string> get_xattr(const std::string& name) = 0;
  virtual std::vector<std::string> list_xattrs() = 0;
  virtual const std::string& path() const = 0;
};

// Held for as long as the object lives; closing it releases the lock.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct DiskSpace {
  uint64_t free_bytes = 0;  // available to an unprivileged writer (f_bavail)
  uint64_t total_bytes = 0;
  bool read_only = false;  // mounted read-only (ST_RDONLY): every write fails with EROFS
};

enum class OpenMode {
  kRead,          // existing file, read only
  kReadWrite,     // existing file
  kCreate,        // new file; fails if it exists
  kCreateOrOpen,  // read-write, created if missing
  kCreateTrunc,   // read-write, created or emptied
};

// Where a relative path leads when its symlinks are followed but it may not
// leave its directory.
enum class Resolution { kInside, kOutside, kMissing };

// A directory held open by descriptor: the hardened, descriptor-relative
// side of the seam, for code that must never be led outside a directory by
// a symlink or a rename planted on the way (the filesystem store, the Git
// restore and snapshot walks).
//
// Every `name` is one path component: not empty, ".", "..", and without '/'
// or NUL (else kInvalidArgument). A name is never followed if it is a
// symlink: where a file or a directory is expected and a symlink (or
// anything else of the wrong kind) is found, the call throws kInvalidPath
// naming it. Opening a file never blocks (a FIFO or device is refused, not
// opened for real). Child paths in messages and in File::path() are
// path() + "/" + name.
//
// Every method may be called from several threads at once: the directory's
// descriptor never changes while the object lives.
class Dir {
 public:
  virtual ~Dir() = default;
  // The path the directory was opened by (for messages and File::path()).
  virtual const std::string& path() const = 0;

  // lstat of the entry; nullopt when there is none.
  virtual std::optional<FileInfo> stat(const std::string& name) = 0;
  // Names in the directory, sorted, without "." and "..".
  virtual std::vector<std::string> list() = 0;

  // The subdirectory; nullptr when missing.
  virtual std::unique_ptr<Dir> open_dir(const std::string& name) = 0;
  // mkdir (mode & ~umask); false when any entry of that name exists.
  virtual bool make_dir(const std::string& name, uint32_t mode = 0755) = 0;
  // A regular file (created with perm & ~umask). kRead and kReadWrite return
  // nullptr when the file is missing, kCreate when the name exists; the
  // other modes always return a file.
  virtual std::unique_ptr<File> open_file(const std::string& name, OpenMode mode,
                                          uint32_t perm = 0644) = 0;

  // renameat: moves `from` here to `to` in to_dir (which must come from the
  // same FileSystem), replacing a file there atomically (or an empty
  // directory, when from is a directory).
  virtual void rename(const std::string& from, Dir& to_dir, const std::string& to) = 0;
  // link(2): `to` in to_dir becomes a second name of the file `from`.
  // false when `to` exists (nothing changed).
  virtual bool link(const std::string& from, Dir& to_dir, const std::string& to) = 0;
  // Removes a file or symlink; false when missing. A directory: kInvalidPath.
  virtual bool remove_file(const std::string& name) = 0;
  // Removes an empty directory; false when it is missing or not empty.
  virtual bool remove_dir(const std::string& name) = 0;
  // Creates a symlink `name` -> target; false when `name` exists.
  virtual bool make_symlink(const std::string& target, const std::string& name) = 0;
  // The target of the symlink `name`; nullopt when missing.
  virtual std::optional<std::string> read_symlink(const std::string& name) = 0;
  // Follows `rel` (a relative path, '/' allowed) and every symlink on it,
  // with the kernel refusing to leave this directory (openat2 with
  // RESOLVE_BENEATH): catches chains of links that each look harmless.
  // kMissing: a component does not exist (e.g. a dangling link). On kernels
  // before 5.6 (no openat2) this is always kInside.
  virtual Resolution resolve_beneath(const std::string& rel) = 0;

  virtual void sync() = 0;                   // fsync of the directory: makes its entries durable
  virtual void set_mode(uint32_t mode) = 0;  // exactly these permission bits
  // Whether this process may list, create and remove entries here.
  virtual bool accessible() = 0;
  // Exclusive flock on the file `name` here (created if missing), across
  // threads and processes; blocks until granted.
  virtual std::unique_ptr<FileLock> lock(const std::string& name) = 0;
  // syncfs(2) on the file system holding this directory: one call instead
  // of an fsync per file when many files were written below it.
  virtual void sync_filesystem() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The process-wide POSIX implementation.
  static FileSystem& real();

  // A regular file at path (symlinks followed: the path is the caller's).
  // Never blocks: a FIFO, device, socket or directory is refused with
  // kInvalidPath. Missing files and other failures are kIoError.
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
  // The directory at path (symlinks on the way are followed: the path is the
  // caller's own); nullptr when missing, kInvalidPath when not a directory.
  virtual std::unique_ptr<Dir> open_dir(const std::string& path) = 0;
};

// Names of temporary files made by AtomicFile contain this marker; the
// filesystem store hides and reserves them.
inline constexpr std::string_view kTempMarker = ".strata-tmp-";

// A file that appears under its name complete or not at all, as the
// protocol every atomic replace in strata follows: the bytes go to a
// temporary file "." + name + kTempMarker + random in the same directory,
// which commit() fsyncs, renames over the name and then fsyncs the
// directory (a renamed entry is not durable until its directory is).
// Destroying an uncommitted AtomicFile removes the temporary file (best
// effort) and leaves the name untouched. One thread at a time.
class AtomicFile {
 public:
  // Creates the temporary file in dir (which must outlive this object).
  AtomicFile(Dir& dir, std::string name, uint32_t perm = 0644);
  // The same in the directory holding path, opened through fs.
  AtomicFile(FileSystem& fs, const std::string& path, uint32_t perm = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Writes at the end of what was appended so far.
  void append(std::string_view bytes);
  // Back to empty (e.g. before a retried download).
  void reset();
  // The temporary file, e.g. to set extended attributes before commit.
  File& file() { return *file_; }
  uint64_t size() const { return size_; }
  // Makes the name refer to the content (replacing what it held). After a
  // failure the name holds the old content or the new one (if the rename
  // went through but the directory fsync failed).
  void commit();
  // Like commit() but never replaces (link(2) instead of rename): false,
  // with nothing changed, when the name exists. Two processes racing agree
  // on one winner.
  bool commit_if_absent();

 private:
  void open_temp(uint32_t perm);
  void sync_and_close();
  std::unique_ptr<Dir> owned_dir_;
  Dir* dir_ = nullptr;
  std::string name_;
  std::string temp_name_;
  std::unique_ptr<File> file_;
  uint64_t size_ = 0;
  bool done_ = false;
};

// AtomicFile's protocol for bytes in memory: path holds the old content or
// the new one, never a mix, even across a crash.
void write_file_atomically(FileSystem& fs, const std::string& path, std::string_view bytes);
// The same, but false (nothing written) when path already exists.
bool create_file_atomically(FileSystem& fs, const std::string& path, std::string_view bytes);

// Reads a whole file of at most max_bytes; nullopt when it does not exist.
// Throws kIoError when it is larger.
std::optional<std::string> read_small_file(FileSystem& fs, const std::string& path,
                                           size_t max_bytes = 1 << 20);

// Creates path and its missing parents, each new directory's entry fsynced
// in its parent before anything is made inside, so a directory that held
// durable files cannot vanish in a crash. A no-op when path is a directory.
void create_directories(FileSystem& fs, const std::string& path);

// A new, empty directory in parent named prefix + random hex; returns its
// name.
std::string make_temp_dir(Dir& parent, std::string_view prefix, uint32_t mode = 0700);

// Removes `name` in parent and, when it is a directory, everything below
// it, without following a symlink. False when it did not exist.
bool remove_tree(Dir& parent, const std::string& name);

// The directory part of a path ("." when none, "/" for "/x") and the last
// component.
std::string parent_path(const std::string& path);
std::string base_name(const std::string& path);

// Whether path is a directory or a symlink to one. For the operator's own
// layout only (DATA_DIR, its wal/, which may be links to another disk, as
// PostgreSQL's pg_wal may be): FileSystem::is_directory does not follow
// links, for paths that a remote or an archive names.
bool is_directory_following_links(FileSystem& fs, const std::string& path);

}  // namespace strata
