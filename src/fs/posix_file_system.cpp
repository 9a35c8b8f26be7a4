// The real file system: thin wrappers over POSIX calls that retry EINTR and
// turn failures into strata::Error.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "strata/error.h"
#include "strata/fs.h"

namespace strata {
namespace {

[[noreturn]] void refuse_path(const std::string& path, std::string_view why) {
  throw Error(ErrorCode::kInvalidPath, fmt::format("{}: {}", path, why));
}

// Retries a call returning -1/errno while it fails with EINTR.
template <typename Fn>
auto retry(Fn&& fn) {
  decltype(fn()) rc;
  do {
    rc = fn();
  } while (rc < 0 && errno == EINTR);
  return rc;
}

FileKind kind_of(mode_t m) {
  if (S_ISREG(m)) return FileKind::kRegular;
  if (S_ISDIR(m)) return FileKind::kDirectory;
  if (S_ISLNK(m)) return FileKind::kSymlink;
  return FileKind::kOther;
}

std::string_view kind_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symlink";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  return "not a regular file";
}

FileInfo info_of(const struct stat& st) {
  FileInfo out;
  out.kind = kind_of(st.st_mode);
  out.size = static_cast<uint64_t>(st.st_size);
  out.mode = static_cast<uint32_t>(st.st_mode & 07777);
  out.mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return out;
}

int open_flags(OpenMode mode) {
  switch (mode) {
    case OpenMode::kRead:
      return O_RDONLY;
    case OpenMode::kReadWrite:
      return O_RDWR;
    case OpenMode::kCreate:
      return O_RDWR | O_CREAT | O_EXCL;
    case OpenMode::kCreateOrOpen:
      return O_RDWR | O_CREAT;
    case OpenMode::kCreateTrunc:
      return O_RDWR | O_CREAT | O_TRUNC;
  }
  return O_RDONLY;
}

class PosixFile final : public File {
 public:
  PosixFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  size_t pread(void* buf, size_t n, uint64_t off) override {
    size_t done = 0;
    auto* p = static_cast<char*>(buf);
    while (done < n) {
      ssize_t r = ::pread(fd_.get(), p + done, n - done, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  void pwrite(const void* buf, size_t n, uint64_t off) override {
    size_t done = 0;
    const auto* p = static_cast<const char*>(buf);
    while (done < n) {
      ssize_t r = ::pwrite(fd_.get(), p + done, n - done, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("write", path_, errno);
      }
      done += static_cast<size_t>(r);
    }
  }

  void sync_data() override {
    if (::fdatasync(fd_.get()) != 0) throw_errno("fdatasync", path_, errno);
  }
  void sync() override {
    if (::fsync(fd_.get()) != 0) throw_errno("fsync", path_, errno);
  }
  void truncate(uint64_t size) override {
    if (retry([&] { return ::ftruncate(fd_.get(), static_cast<off_t>(size)); }) != 0)
      throw_errno("truncate", path_, errno);
  }
  uint64_t size() override { return info().size; }
  FileInfo info() override {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw_errno("stat", path_, errno);
    return info_of(st);
  }
  void set_mode(uint32_t mode) override {
    if (::fchmod(fd_.get(), static_cast<mode_t>(mode)) != 0) throw_errno("chmod", path_, errno);
  }
  void set_xattr(const std::string& name, std::string_view value) override {
    if (::fsetxattr(fd_.get(), name.c_str(), value.data(), value.size(), 0) != 0) {
      throw_errno(fmt::format("set extended attribute {} on", name), path_, errno);
    }
  }
  std::optional<std::string> get_xattr(const std::string& name) override {
    while (true) {
      ssize_t n = ::fgetxattr(fd_.get(), name.c_str(), nullptr, 0);
      if (n < 0) {
        if (errno == ENODATA || errno == ENOTSUP) return std::nullopt;
        throw_errno(fmt::format("read extended attribute {} of", name), path_, errno);
      }
      std::string value(static_cast<size_t>(n), '\0');
      n = ::fgetxattr(fd_.get(), name.c_str(), value.data(), value.size());
      if (n < 0 && errno == ERANGE) continue;  // it grew in between
      if (n < 0) throw_errno(fmt::format("read extended attribute {} of", name), path_, errno);
      value.resize(static_cast<size_t>(n));
      return value;
    }
  }
  std::vector<std::string> list_xattrs() override {
    while (true) {
      ssize_t n = ::flistxattr(fd_.get(), nullptr, 0);
      if (n < 0) {
        if (errno == ENOTSUP) return {};
        throw_errno("list extended attributes of", path_, errno);
      }
      std::string names(static_cast<size_t>(n), '\0');
      n = ::flistxattr(fd_.get(), names.data(), names.size());
      if (n < 0 && errno == ERANGE) continue;
      if (n < 0) throw_errno("list extended attributes of", path_, errno);
      std::vector<std::string> out;
      for (size_t i = 0; i < static_cast<size_t>(n);) {
        std::string name(names.data() + i);
        i += name.size() + 1;
        out.push_back(std::move(name));
      }
      return out;
    }
  }
  const std::string& path() const override { return path_; }

 private:
  UniqueFd fd_;
  std::string path_;
};

// Files are opened with O_NONBLOCK so a FIFO or device cannot make open()
// wait for a peer; whatever was opened is refused unless it is a regular
// file, before anything reads or writes it.
std::unique_ptr<File> regular_file(UniqueFd f, const std::string& path) {
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) throw_errno("stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    refuse_path(path, fmt::format("{}, not a regular file", kind_name(st.st_mode)));
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so nothing depends on that.
  ::fcntl(f.get(), F_SETFL, ::fcntl(f.get(), F_GETFL) & ~O_NONBLOCK);
  return std::make_unique<PosixFile>(std::move(f), path);
}

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(UniqueFd fd) : fd_(std::move(fd)) {}  // closing drops the flock

 private:
  UniqueFd fd_;
};

void check_name(const std::string& dir, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{}: '{}' is not a single path component", dir, name));
  }
}

class PosixDir final : public Dir {
 public:
  PosixDir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  const std::string& path() const override { return path_; }
  int fd() const { return fd_.get(); }

  std::optional<FileInfo> stat(const std::string& name) override {
    const std::string p = child(name);
    struct stat st {};
    if (::fstatat(fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return std::nullopt;
      throw_errno("stat", p, errno);
    }
    return info_of(st);
  }

  std::vector<std::string> list() override {
    UniqueFd dup(::openat(fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dup) throw_errno("list directory", path_, errno);
    DIR* d = ::fdopendir(dup.get());
    if (d == nullptr) throw_errno("list directory", path_, errno);
    dup.release();  // closedir closes it
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) throw_errno("list directory", path_, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::unique_ptr<Dir> open_dir(const std::string& name) override {
    const std::string p = child(name);
    UniqueFd sub(retry([&] {
      return ::openat(fd(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }));
    if (!sub) {
      if (errno == ENOENT) return nullptr;
      if (errno == ELOOP || errno == ENOTDIR) {
        refuse_path(p, "not a directory (symlinks are not followed)");
      }
      throw_errno("open directory", p, errno);
    }
    return std::make_unique<PosixDir>(std::move(sub), p);
  }

  bool make_dir(const std::string& name, uint32_t mode) override {
    const std::string p = child(name);
    if (::mkdirat(fd(), name.c_str(), static_cast<mode_t>(mode)) != 0) {
      if (errno == EEXIST) return false;
      throw_errno("mkdir", p, errno);
    }
    return true;
  }

  std::unique_ptr<File> open_file(const std::string& name, OpenMode mode, uint32_t perm) override {
    const std::string p = child(name);
    // O_NONBLOCK: opening a FIFO or a device must not wait for a peer; what
    // was opened is checked below and refused unless it is a regular file.
    const int flags = open_flags(mode) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    UniqueFd f(
        retry([&] { return ::openat(fd(), name.c_str(), flags, static_cast<mode_t>(perm)); }));
    if (!f) {
      if (errno == ENOENT && (mode == OpenMode::kRead || mode == OpenMode::kReadWrite)) {
        return nullptr;
      }
      if (errno == EEXIST && mode == OpenMode::kCreate) return nullptr;
      if (errno == ELOOP) refuse_path(p, "a symlink, not a file (symlinks are not followed)");
      if (errno == EISDIR) refuse_path(p, "a directory, not a file");
      if (errno == ENXIO) refuse_path(p, "not a regular file");  // a FIFO without a reader
      throw_errno("open", p, errno);
    }
    return regular_file(std::move(f), p);
  }

  void rename(const std::string& from, Dir& to_dir, const std::string& to) override {
    const std::string pf = child(from);
    PosixDir& other = same_kind(to_dir);
    const std::string pt = other.child(to);
    if (::renameat(fd(), from.c_str(), other.fd(), to.c_str()) != 0) {
      throw_errno("rename", fmt::format("{} -> {}", pf, pt), errno);
    }
  }

  bool link(const std::string& from, Dir& to_dir, const std::string& to) override {
    const std::string pf = child(from);
    PosixDir& other = same_kind(to_dir);
    const std::string pt = other.child(to);
    if (::linkat(fd(), from.c_str(), other.fd(), to.c_str(), 0) != 0) {
      if (errno == EEXIST) return false;
      throw_errno("link", fmt::format("{} -> {}", pf, pt), errno);
    }
    return true;
  }

  bool remove_file(const std::string& name) override {
    const std::string p = child(name);
    if (::unlinkat(fd(), name.c_str(), 0) != 0) {
      if (errno == ENOENT) return false;
      if (errno == EISDIR || errno == EPERM) {
        struct stat st {};
        if (::fstatat(fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
          refuse_path(p, "a directory, not a file");
        }
      }
      throw_errno("remove", p, errno);
    }
    return true;
  }

  bool remove_dir(const std::string& name) override {
    const std::string p = child(name);
    if (::unlinkat(fd(), name.c_str(), AT_REMOVEDIR) != 0) {
      if (errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST) return false;
      if (errno == ENOTDIR) refuse_path(p, "not a directory");
      throw_errno("remove directory", p, errno);
    }
    return true;
  }

  bool make_symlink(const std::string& target, const std::string& name) override {
    const std::string p = child(name);
    if (target.empty() || target.find('\0') != std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument, fmt::format("{}: an empty symlink target", p));
    }
    if (::symlinkat(target.c_str(), fd(), name.c_str()) != 0) {
      if (errno == EEXIST) return false;
      throw_errno("symlink", p, errno);
    }
    return true;
  }

  std::optional<std::string> read_symlink(const std::string& name) override {
    const std::string p = child(name);
    std::string target(256, '\0');
    while (true) {
      ssize_t n = ::readlinkat(fd(), name.c_str(), target.data(), target.size());
      if (n < 0) {
        if (errno == ENOENT) return std::nullopt;
        if (errno == EINVAL) refuse_path(p, "not a symlink");
        throw_errno("readlink", p, errno);
      }
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        return target;
      }
      target.resize(target.size() * 2);  // maybe truncated: try again larger
    }
  }

  Resolution resolve_beneath(const std::string& rel) override {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    UniqueFd r(static_cast<int>(::syscall(SYS_openat2, fd(), rel.c_str(), &how, sizeof(how))));
    if (r) return Resolution::kInside;
    if (errno == ENOENT || errno == ENOTDIR) return Resolution::kMissing;
    if (errno == EXDEV || errno == ELOOP) return Resolution::kOutside;
    // Kernels before 5.6: the callers' lexical checks alone have to do.
    if (errno == ENOSYS) return Resolution::kInside;
    throw_errno("resolve", path_ + "/" + rel, errno);
  }

  void sync() override {
    if (::fsync(fd()) != 0) throw_errno("fsync directory", path_, errno);
  }

  void set_mode(uint32_t mode) override {
    if (::fchmod(fd(), static_cast<mode_t>(mode)) != 0) throw_errno("chmod", path_, errno);
  }

  bool accessible() override { return ::faccessat(fd(), ".", R_OK | W_OK | X_OK, 0) == 0; }

  std::unique_ptr<FileLock> lock(const std::string& name) override {
    const std::string p = child(name);
    UniqueFd f(retry([&] {
      return ::openat(fd(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    }));
    if (!f) {
      if (errno == ELOOP) refuse_path(p, "a symlink, not a lock file");
      throw_errno("open lock file", p, errno);
    }
    if (retry([&] { return ::flock(f.get(), LOCK_EX); }) != 0) throw_errno("flock", p, errno);
    return std::make_unique<PosixLock>(std::move(f));
  }

  void sync_filesystem() override {
    if (::syncfs(fd()) != 0) throw_errno("syncfs", path_, errno);
  }

 private:
  std::string child(const std::string& name) const {
    check_name(path_, name);
    return path_ == "/" ? "/" + name : path_ + "/" + name;
  }

  PosixDir& same_kind(Dir& other) const {
    auto* d = dynamic_cast<PosixDir*>(&other);
    if (d == nullptr) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("{}: a directory of another file system", other.path()));
    }
    return *d;
  }

  UniqueFd fd_;
  std::string path_;
};

class PosixFileSystem final : public FileSystem {
 public:
  std::unique_ptr<File> open(const std::string& path, OpenMode mode) override {
    UniqueFd fd(retry(
        [&] { return ::open(path.c_str(), open_flags(mode) | O_NONBLOCK | O_CLOEXEC, 0644); }));
    if (!fd) {
      if (errno == EISDIR) refuse_path(path, "a directory, not a file");
      if (errno == ENXIO) refuse_path(path, "not a regular file");
      throw_errno("open", path, errno);
    }
    return regular_file(std::move(fd), path);
  }

  bool exists(const std::string& path) override {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  bool is_directory(const std::string& path) override {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      throw_errno("rename", fmt::format("{} -> {}", from, to), errno);
    }
  }

  void remove(const std::string& path) override {
    if (::unlink(path.c_str()) == 0) return;
    if (errno == EISDIR || errno == EPERM) {
      if (::rmdir(path.c_str()) == 0) return;
    }
    throw_errno("remove", path, errno);
  }

  void make_dirs(const std::string& path) override {
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      cur = path.substr(0, pos);
      if (cur.empty()) continue;
      if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir", cur, errno);
    }
    // As mkdir -p: a last component that is a link to a directory is one
    // (DATA_DIR may be a link to another disk); is_directory() would not
    // follow it.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw_errno("mkdir", path, ENOTDIR);
    }
  }

  void sync_dir(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open directory", path, errno);
    if (::fsync(fd.get()) != 0) throw_errno("fsync directory", path, errno);
  }

  std::vector<std::string> list_dir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) throw_errno("list directory", path, errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::unique_ptr<FileLock> try_lock(const std::string& path, pid_t* holder_pid) override {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) throw_errno("open lock file", path, errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        char buf[32] = {};
        ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
        if (holder_pid != nullptr) *holder_pid = n > 0 ? static_cast<pid_t>(std::atol(buf)) : 0;
        return nullptr;
      }
      throw_errno("flock", path, err);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
      throw_errno("write lock file", path, errno);
    }
    return std::make_unique<PosixLock>(std::move(fd));
  }

  DiskSpace disk_space(const std::string& path) override {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) throw_errno("statvfs", path, errno);
    return DiskSpace{static_cast<uint64_t>(st.f_bavail) * st.f_frsize,
                     static_cast<uint64_t>(st.f_blocks) * st.f_frsize,
                     (st.f_flag & ST_RDONLY) != 0};
  }

  void sync_filesystem(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open", path, errno);
    if (::syncfs(fd.get()) != 0) throw_errno("syncfs", path, errno);
  }

  std::unique_ptr<Dir> open_dir(const std::string& path) override {
    UniqueFd fd(retry([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
    if (!fd) {
      if (errno == ENOENT) return nullptr;
      if (errno == ENOTDIR) refuse_path(path, "not a directory");
      throw_errno("open directory", path, errno);
    }
    return std::make_unique<PosixDir>(std::move(fd), path);
  }
};

}  // namespace

FileSystem& FileSystem::real() {
  static PosixFileSystem fs;
  return fs;
}

}  // namespace strata
