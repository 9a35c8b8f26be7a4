// The real file system: thin wrappers over POSIX calls that retry EINTR and
// turn failures into strata::Error.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/fs.h"

namespace strata {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  size_t pread(void* buf, size_t n, uint64_t off) override {
    size_t done = 0;
    auto* p = static_cast<char*>(buf);
    while (done < n) {
      ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(off + done));
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
      ssize_t r = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("write", path_, errno);
      }
      done += static_cast<size_t>(r);
    }
  }

  void sync_data() override {
    if (::fdatasync(fd_) != 0) throw_errno("fdatasync", path_, errno);
  }
  void sync() override {
    if (::fsync(fd_) != 0) throw_errno("fsync", path_, errno);
  }
  void truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) throw_errno("truncate", path_, errno);
  }
  uint64_t size() override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_errno("stat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override { ::close(fd_); }  // closing the descriptor drops the flock

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  std::unique_ptr<File> open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
      case OpenMode::kCreateOrOpen:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateTrunc:
        flags |= O_RDWR | O_CREAT | O_TRUNC;
        break;
    }
    int fd;
    do {
      fd = ::open(path.c_str(), flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throw_errno("open", path, errno);
    return std::make_unique<PosixFile>(fd, path);
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
    if (!is_directory(path)) throw_errno("mkdir", path, ENOTDIR);
  }

  void sync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open directory", path, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) throw_errno("fsync directory", path, err);
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
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("open lock file", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      if (err == EWOULDBLOCK) {
        char buf[32] = {};
        ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
        ::close(fd);
        if (holder_pid != nullptr) *holder_pid = n > 0 ? static_cast<pid_t>(std::atol(buf)) : 0;
        return nullptr;
      }
      ::close(fd);
      throw_errno("flock", path, err);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      int err = errno;
      ::close(fd);
      throw_errno("write lock file", path, err);
    }
    return std::make_unique<PosixLock>(fd);
  }

  DiskSpace disk_space(const std::string& path) override {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) throw_errno("statvfs", path, errno);
    return DiskSpace{static_cast<uint64_t>(st.f_bavail) * st.f_frsize,
                     static_cast<uint64_t>(st.f_blocks) * st.f_frsize};
  }

  void sync_filesystem(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open", path, errno);
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) throw_errno("syncfs", path, err);
  }
};

}  // namespace

FileSystem& FileSystem::real() {
  static PosixFileSystem fs;
  return fs;
}

}  // namespace strata
