#include "storage/local_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "strata/error.h"
#include "strata/hash.h"

namespace strata::storage {

LocalFile LocalFile::open_read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw_errno("stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kIoError, "not a regular file: " + path);
  }
  return LocalFile(fd, path);
}

LocalFile::LocalFile(LocalFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

LocalFile::~LocalFile() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t LocalFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw_errno("stat", path_, errno);
  return static_cast<uint64_t>(st.st_size);
}

std::string LocalFile::sha256_hex(uint64_t offset, uint64_t len) const {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t done = 0;
  while (done < len) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), len - done));
    ssize_t got = ::pread(fd_, buf.data(), want, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno("read", path_, errno);
    if (got == 0) throw Error(ErrorCode::kIoError, "file shrank while being read: " + path_);
    h.update(buf.data(), static_cast<size_t>(got));
    done += static_cast<uint64_t>(got);
  }
  return to_hex(h.finish());
}

std::string LocalFile::read(uint64_t offset, uint64_t len) const {
  std::string out(len, '\0');
  uint64_t done = 0;
  while (done < len) {
    ssize_t got = ::pread(fd_, out.data() + done, len - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno("read", path_, errno);
    if (got == 0) throw Error(ErrorCode::kIoError, "file shrank while being read: " + path_);
    done += static_cast<uint64_t>(got);
  }
  return out;
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open directory", dir, errno);
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw_errno("fsync directory", dir, err);
  }
  ::close(fd);
}

AtomicLocalFile::AtomicLocalFile(const std::string& target) : target_(target) {
  std::string dir = parent_dir(target);
  std::string name =
      target.substr(target.rfind('/') == std::string::npos ? 0 : target.rfind('/') + 1);
  temp_ = dir + "/." + name + ".strata-tmp-XXXXXX";
  fd_ = ::mkostemp(temp_.data(), O_CLOEXEC);
  if (fd_ < 0) throw_errno("create temporary file for", target, errno);
  // mkostemp creates 0600; the finished file should be as readable as any
  // other file the user writes.
  ::fchmod(fd_, 0644);
}

AtomicLocalFile::~AtomicLocalFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

bool AtomicLocalFile::append(const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd_, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = errno;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void AtomicLocalFile::write_all(std::string_view data) {
  if (!append(data.data(), data.size())) throw_errno("write", temp_, error_);
}

void AtomicLocalFile::truncate() {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)
    throw_errno("truncate", temp_, errno);
  error_ = 0;
}

void AtomicLocalFile::commit() {
  if (error_ != 0) throw_errno("write", temp_, error_);
  if (::fsync(fd_) != 0) throw_errno("fsync", temp_, errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw_errno("close", temp_, errno);
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0) throw_errno("rename to", target_, errno);
  committed_ = true;
  sync_directory(parent_dir(target_));
}

}  // namespace strata::storage
