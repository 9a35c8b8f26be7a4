#include "storage/local_file.h"

#include <algorithm>
#include <vector>

#include "strata/error.h"
#include "strata/hash.h"

namespace strata::storage {

namespace {

[[noreturn]] void shrank(const std::string& path) {
  throw Error(ErrorCode::kIoError, "file shrank while being read: " + path);
}

}  // namespace

LocalFile LocalFile::open_read(FileSystem& fs, const std::string& path) {
  return LocalFile(fs.open(path, OpenMode::kRead));
}

std::string LocalFile::sha256_hex(uint64_t offset, uint64_t len) const {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (uint64_t done = 0; done < len;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), len - done));
    const size_t got = file_->pread(buf.data(), want, offset + done);
    if (got == 0) shrank(path());
    h.update(buf.data(), got);
    done += got;
  }
  return to_hex(h.finish());
}

}  // namespace strata::storage
