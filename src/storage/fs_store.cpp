// FsCheckpointStorage: a directory as the store.
//
// Metadata (the content's SHA-256, which doubles as the etag, and the user's
// metadata) lives in extended attributes of the object file. They are set on
// the temporary file before the rename that publishes it, so data and
// metadata change in the one atomic step; a sidecar file would need a second
// rename and leave a window where they disagree.
//
// Every path is walked one segment at a time with O_NOFOLLOW from the root,
// so a symlink planted inside the root cannot lead a key outside it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "storage/check_probe.h"
#include "storage/local_file.h"
#include "storage/validation.h"
#include "strata/error.h"
#include "strata/hash.h"
#include "strata/storage.h"

namespace strata {

namespace {

constexpr const char* kShaAttr = "user.strata.sha256";
constexpr std::string_view kMetaAttrPrefix = "user.strata.meta.";
constexpr const char* kLockName = ".strata-lock";
constexpr std::string_view kTmpMarker = ".strata-tmp-";

using Fd = UniqueFd;

std::vector<std::string> split(std::string_view key) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t slash = key.find('/', start);
    out.emplace_back(key.substr(start, slash == std::string_view::npos ? key.npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

void validate_fs_key(std::string_view key) {
  validate_key(key);
  for (const auto& seg : split(key)) {
    if (seg.starts_with(".strata-") || seg.find(kTmpMarker) != std::string::npos) {
      throw Error(ErrorCode::kInvalidPath,
                  fmt::format("invalid storage key \"{}\": segments starting with \".strata-\" or "
                              "containing \".strata-tmp-\" are reserved by the filesystem store",
                              key));
    }
  }
}

std::string read_xattr(int fd, const char* name) {
  char buf[4096];
  ssize_t n = ::fgetxattr(fd, name, buf, sizeof(buf));
  if (n < 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

struct FsCheckpointStorage::Impl {
  std::string root;
  Fd root_fd;

  [[noreturn]] void io_fail(std::string_view what, std::string_view key, int err) const {
    throw_errno(what, root + "/" + std::string(key), err);
  }

  // Opens the directory that holds key's last segment. Returns an invalid Fd
  // when a directory on the way does not exist and create is false.
  Fd open_parent(std::string_view key, bool create, std::string* leaf) const {
    auto segs = split(key);
    *leaf = segs.back();
    segs.pop_back();
    Fd dir(::openat(root_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) io_fail("open", "", errno);
    std::string walked;
    for (const auto& seg : segs) {
      walked += seg + "/";
      int fd = ::openat(dir.get(), seg.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(dir.get(), seg.c_str(), 0755) != 0 && errno != EEXIST) {
          io_fail("mkdir", walked, errno);
        }
        // The new directory entry must be durable before anything below it.
        if (::fsync(dir.get()) != 0) io_fail("fsync directory", walked, errno);
        fd = ::openat(dir.get(), seg.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        if (errno == ENOENT && !create) return Fd();
        if (errno == ELOOP || errno == ENOTDIR) {
          throw Error(ErrorCode::kInvalidPath,
                      fmt::format("{}/{}: not a directory inside the store (symlinks are not "
                                  "followed)",
                                  root, walked));
        }
        io_fail("open directory", walked, errno);
      }
      dir = Fd(fd);
    }
    return dir;
  }

  // The object file, or an invalid Fd when it does not exist.
  Fd open_object(std::string_view key) const {
    std::string leaf;
    Fd dir = open_parent(key, false, &leaf);
    if (!dir) return Fd();
    int fd = ::openat(dir.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Fd();
      if (errno == ELOOP) {
        throw Error(ErrorCode::kInvalidPath,
                    fmt::format("{}/{}: a symlink, not an object", root, key));
      }
      io_fail("open", key, errno);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) io_fail("stat", key, errno);
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Fd();  // a directory is a key prefix, not an object
    }
    return Fd(fd);
  }

  // Exclusive lock for writers and deleters, across threads and processes.
  Fd lock() const {
    int fd = ::openat(root_fd.get(), kLockName, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) io_fail("open", kLockName, errno);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        int err = errno;
        ::close(fd);
        io_fail("flock", kLockName, err);
      }
    }
    return Fd(fd);
  }

  std::string etag_of(int fd, std::string_view key) const {
    std::string sha = read_xattr(fd, kShaAttr);
    if (!sha.empty()) return sha;
    // A file put there by hand: its etag is still the hash of its bytes.
    struct stat st {};
    if (::fstat(fd, &st) != 0) io_fail("stat", key, errno);
    Sha256 h;
    std::vector<char> buf(1 << 20);
    off_t off = 0;
    while (true) {
      ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) io_fail("read", key, errno);
      if (n == 0) break;
      h.update(buf.data(), static_cast<size_t>(n));
      off += n;
    }
    return to_hex(h.finish());
  }

  // Reads fd to its end, feeding each chunk to fn; returns the SHA-256 hex.
  template <typename Fn>
  std::string stream(int fd, std::string_view key, Fn&& fn) const {
    Sha256 h;
    std::vector<char> buf(1 << 20);
    while (true) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) io_fail("read", key, errno);
      if (n == 0) break;
      h.update(buf.data(), static_cast<size_t>(n));
      fn(buf.data(), static_cast<size_t>(n));
    }
    return to_hex(h.finish());
  }

  void check_integrity(int fd, std::string_view key, const std::string& got) const {
    std::string want = read_xattr(fd, kShaAttr);
    if (!want.empty() && want != got) {
      throw Error(ErrorCode::kStorageIntegrity,
                  fmt::format("read {}/{}: content SHA-256 {} does not match the stored {}", root,
                              key, got, want));
    }
  }

  // Writes through `fill` (which writes the content into the temporary fd and
  // returns its SHA-256) and publishes atomically under the lock.
  template <typename Fill>
  void write(std::string_view key, const WriteOptions& options, Fill&& fill) {
    validate_fs_key(key);
    validate_metadata(options.metadata);
    Fd guard = lock();
    std::string leaf;
    Fd dir = open_parent(key, true, &leaf);

    if (options.if_absent || options.if_match) {
      Fd current = open_object(key);
      if (options.if_absent && current) {
        throw Error(ErrorCode::kStoragePreconditionFailed,
                    fmt::format("write {}/{}: an object already exists under this key", root, key));
      }
      if (options.if_match && (!current || etag_of(current.get(), key) != *options.if_match)) {
        throw Error(
            ErrorCode::kStoragePreconditionFailed,
            fmt::format("write {}/{}: {}", root, key,
                        current ? "the object's etag no longer matches" : "no object to match"));
      }
    }

    std::random_device rd;
    std::string tmp = fmt::format(".{}{}{:08x}", leaf.substr(0, 200), kTmpMarker, rd());
    Fd out(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                    0644));
    if (!out) io_fail("create", key, errno);
    struct Cleanup {
      int dirfd;
      std::string name;
      bool armed = true;
      ~Cleanup() {
        if (armed) ::unlinkat(dirfd, name.c_str(), 0);
      }
    } cleanup{dir.get(), tmp};

    std::string sha = fill(out.get());
    if (::fsetxattr(out.get(), kShaAttr, sha.data(), sha.size(), 0) != 0) {
      io_fail("set metadata on", key, errno);
    }
    for (const auto& [name, value] : options.metadata) {
      std::string attr = std::string(kMetaAttrPrefix) + name;
      if (::fsetxattr(out.get(), attr.c_str(), value.data(), value.size(), 0) != 0) {
        io_fail("set metadata on", key, errno);
      }
    }
    if (::fsync(out.get()) != 0) io_fail("fsync", key, errno);
    if (::renameat(dir.get(), tmp.c_str(), dir.get(), leaf.c_str()) != 0) {
      io_fail("rename onto", key, errno);
    }
    cleanup.armed = false;
    if (::fsync(dir.get()) != 0) io_fail("fsync directory of", key, errno);
  }
};

FsCheckpointStorage::FsCheckpointStorage(std::string root) : impl_(std::make_unique<Impl>()) {
  if (root.empty()) throw Error(ErrorCode::kConfigInvalid, "filesystem store: empty root path");
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  std::string walked;
  for (size_t i = 1; i <= root.size(); ++i) {
    if (i == root.size() || root[i] == '/') {
      walked = root.substr(0, i);
      if (::mkdir(walked.c_str(), 0755) != 0 && errno != EEXIST)
        throw_errno("mkdir", walked, errno);
    }
  }
  char resolved[PATH_MAX];
  if (::realpath(root.c_str(), resolved) == nullptr) throw_errno("resolve", root, errno);
  root_ = resolved;
  impl_->root = root_;
  impl_->root_fd = Fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!impl_->root_fd) throw_errno("open", root_, errno);
  // Metadata rides in extended attributes; refuse a file system without them
  // now rather than at the first write.
  const char probe[] = "1";
  int lock_fd = ::openat(impl_->root_fd.get(), kLockName, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) throw_errno("create", root_ + "/" + kLockName, errno);
  int rc = ::fsetxattr(lock_fd, "user.strata.probe", probe, 1, 0);
  int err = errno;
  ::close(lock_fd);
  if (rc != 0) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("filesystem store {}: the file system does not support user extended "
                            "attributes ({}), which hold object metadata",
                            root_, std::strerror(err)));
  }
}

FsCheckpointStorage::~FsCheckpointStorage() = default;

std::string FsCheckpointStorage::describe() const {
  return "file://" + root_;
}

bool FsCheckpointStorage::is_available() {
  return ::faccessat(impl_->root_fd.get(), ".", R_OK | W_OK | X_OK, 0) == 0;
}

std::optional<std::string> FsCheckpointStorage::read_file(std::string_view key) {
  validate_fs_key(key);
  Fd fd = impl_->open_object(key);
  if (!fd) return std::nullopt;
  std::string data;
  std::string sha =
      impl_->stream(fd.get(), key, [&](const char* p, size_t n) { data.append(p, n); });
  impl_->check_integrity(fd.get(), key, sha);
  return data;
}

bool FsCheckpointStorage::read_file_to(std::string_view key, const std::string& local_path) {
  validate_fs_key(key);
  Fd fd = impl_->open_object(key);
  if (!fd) return false;
  storage::AtomicLocalFile out(local_path);
  std::string sha = impl_->stream(
      fd.get(), key, [&](const char* p, size_t n) { out.write_all(std::string_view(p, n)); });
  impl_->check_integrity(fd.get(), key, sha);
  out.commit();
  return true;
}

void FsCheckpointStorage::write_file(std::string_view key, std::string_view data,
                                     const WriteOptions& options) {
  impl_->write(key, options, [&](int fd) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) impl_->io_fail("write", key, errno);
      done += static_cast<size_t>(n);
    }
    return sha256_hex(data);
  });
}

void FsCheckpointStorage::write_file_from(std::string_view key, const std::string& local_path,
                                          const WriteOptions& options) {
  storage::LocalFile in = storage::LocalFile::open_read(local_path);
  impl_->write(key, options, [&](int fd) {
    Sha256 h;
    std::vector<char> buf(1 << 20);
    uint64_t off = 0;
    while (true) {
      ssize_t n = ::pread(in.fd(), buf.data(), buf.size(), static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read", local_path, errno);
      if (n == 0) break;
      h.update(buf.data(), static_cast<size_t>(n));
      size_t done = 0;
      while (done < static_cast<size_t>(n)) {
        ssize_t w = ::write(fd, buf.data() + done, static_cast<size_t>(n) - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) impl_->io_fail("write", key, errno);
        done += static_cast<size_t>(w);
      }
      off += static_cast<uint64_t>(n);
    }
    return to_hex(h.finish());
  });
}

void FsCheckpointStorage::delete_file(std::string_view key) {
  validate_fs_key(key);
  Fd guard = impl_->lock();
  std::string leaf;
  Fd dir = impl_->open_parent(key, false, &leaf);
  if (!dir) return;
  if (::unlinkat(dir.get(), leaf.c_str(), 0) != 0) {
    if (errno == ENOENT) return;
    if (errno == EISDIR) return;  // a prefix, not an object
    impl_->io_fail("delete", key, errno);
  }
  if (::fsync(dir.get()) != 0) impl_->io_fail("fsync directory of", key, errno);
  // Directories exist only to hold keys; drop the ones this delete emptied.
  auto segs = split(key);
  segs.pop_back();
  while (!segs.empty()) {
    std::string path;
    for (size_t i = 0; i < segs.size(); ++i) path += (i ? "/" : "") + segs[i];
    if (::unlinkat(impl_->root_fd.get(), path.c_str(), AT_REMOVEDIR) != 0) break;
    segs.pop_back();
  }
}

namespace {

void walk(int dirfd, const std::string& rel, std::string_view prefix, std::vector<std::string>* out,
          const std::string& root) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open directory", root + "/" + rel, errno);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    throw_errno("read directory", root + "/" + rel, errno);
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (name.starts_with(".strata-") || name.find(kTmpMarker) != std::string::npos) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode))
      entries.emplace_back(name, true);
    else if (S_ISREG(st.st_mode))
      entries.emplace_back(name, false);
  }
  for (const auto& [name, is_dir] : entries) {
    std::string key = rel.empty() ? name : rel + "/" + name;
    if (is_dir) {
      // Only descend where keys with the prefix can be.
      std::string as_dir = key + "/";
      if (!(as_dir.starts_with(prefix) || prefix.starts_with(as_dir))) continue;
      int sub = ::openat(::dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) continue;
      walk(sub, key, prefix, out, root);
      ::close(sub);
    } else if (key.starts_with(prefix)) {
      out->push_back(key);
    }
  }
  ::closedir(d);
}

}  // namespace

std::vector<std::string> FsCheckpointStorage::list_files(std::string_view prefix) {
  if (!prefix.empty()) {
    std::string_view body = prefix.back() == '/' ? prefix.substr(0, prefix.size() - 1) : prefix;
    validate_key(body);
  }
  std::vector<std::string> out;
  walk(impl_->root_fd.get(), "", prefix, &out, root_);
  std::sort(out.begin(), out.end());
  return out;
}

bool FsCheckpointStorage::verify_checksum(std::string_view key, std::string_view sha256_hex) {
  validate_fs_key(key);
  Fd fd = impl_->open_object(key);
  if (!fd) return false;
  std::string got = impl_->stream(fd.get(), key, [](const char*, size_t) {});
  std::string want(sha256_hex);
  for (char& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return got == want;
}

std::optional<ObjectStat> FsCheckpointStorage::stat(std::string_view key) {
  validate_fs_key(key);
  Fd fd = impl_->open_object(key);
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) impl_->io_fail("stat", key, errno);
  ObjectStat out;
  out.size = static_cast<uint64_t>(st.st_size);
  out.mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  out.etag = impl_->etag_of(fd.get(), key);
  out.metadata["sha256"] = out.etag;
  char names[8192];
  ssize_t n = ::flistxattr(fd.get(), names, sizeof(names));
  for (ssize_t i = 0; i < n;) {
    std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    if (name.starts_with(kMetaAttrPrefix)) {
      out.metadata[name.substr(kMetaAttrPrefix.size())] = read_xattr(fd.get(), name.c_str());
    }
  }
  return out;
}

std::vector<CheckResult> FsCheckpointStorage::check() {
  std::vector<CheckResult> out;
  if (!is_available()) {
    out.push_back({"reachable", false, root_ + ": not a readable and writable directory"});
    return out;
  }
  out.push_back({"reachable", true, root_});
  storage::check_probe_round_trip(*this, out);
  return out;
}

}  // namespace strata
