// Local files as the stores need them: reading a file in ranges and hashing
// it, and writing a file so that it appears complete or not at all.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::storage {

class LocalFile {
 public:
  // Throws Error(kIoError) naming the path.
  static LocalFile open_read(const std::string& path);
  LocalFile(LocalFile&& other) noexcept;
  LocalFile& operator=(LocalFile&&) = delete;
  ~LocalFile();

  int fd() const { return fd_; }
  uint64_t size() const;
  // Hex SHA-256 of [offset, offset + len).
  std::string sha256_hex(uint64_t offset, uint64_t len) const;
  // Reads exactly len bytes at offset (throws on a short file).
  std::string read(uint64_t offset, uint64_t len) const;
  const std::string& path() const { return path_; }

 private:
  LocalFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Writes to "<dir>/.<name>.strata-tmp-XXXXXX" next to the target; commit()
// fsyncs it, renames it over the target and fsyncs the directory (a new
// directory entry is not durable until its directory is). Without commit()
// the temporary file is removed and the target is untouched.
class AtomicLocalFile {
 public:
  explicit AtomicLocalFile(const std::string& target);
  ~AtomicLocalFile();
  AtomicLocalFile(const AtomicLocalFile&) = delete;
  AtomicLocalFile& operator=(const AtomicLocalFile&) = delete;

  // Returns false (and remembers errno for commit's message) on failure, so
  // it can serve as a libcurl sink without throwing through C code.
  bool append(const char* data, size_t len);
  void write_all(std::string_view data);  // throws
  void truncate();
  void commit();
  const std::string& temp_path() const { return temp_; }

 private:
  std::string target_;
  std::string temp_;
  int fd_ = -1;
  int error_ = 0;
  bool committed_ = false;
};

// fsync of a directory; throws Error(kIoError).
void sync_directory(const std::string& dir);
// Parent directory of path ("." when none).
std::string parent_dir(const std::string& path);

}  // namespace strata::storage
