// Local files the stores read as upload sources: in ranges and hashed,
// through the file-system seam. (Downloads go to AtomicFile in strata/fs.h.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "strata/fs.h"

namespace strata::storage {

class LocalFile {
 public:
  // A regular file at path (symlinks followed: the path is the caller's);
  // a FIFO or device is refused without blocking. Throws naming the path.
  static LocalFile open_read(FileSystem& fs, const std::string& path);

  File& file() const { return *file_; }
  uint64_t size() const { return file_->size(); }
  // Hex SHA-256 of [offset, offset + len) (throws on a short file).
  std::string sha256_hex(uint64_t offset, uint64_t len) const;
  const std::string& path() const { return file_->path(); }

 private:
  explicit LocalFile(std::unique_ptr<File> f) : file_(std::move(f)) {}
  std::unique_ptr<File> file_;
};

}  // namespace strata::storage
