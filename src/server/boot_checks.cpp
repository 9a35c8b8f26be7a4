#include "server/boot_checks.h"

#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/fs.h"
#include "wal/record_format.h"

namespace strata::server {

namespace {

// Reads the first bytes of a segment; a short file is left to the WAL's
// own recovery at open (an unfinished creation). Opened by name in its
// directory: a symlink or a FIFO planted as a segment is refused, never
// followed or blocked on.
void check_segment(Dir& wal_dir, const std::string& name, uint64_t& checked) {
  const std::string file = wal_dir.path() + "/" + name;
  auto f = wal_dir.open_file(name, OpenMode::kRead);
  if (f == nullptr) return;  // removed meanwhile
  char header[wal::kHeaderSize];
  const size_t n = f->pread(header, sizeof(header), 0);
  if (n < 12) return;
  if (std::memcmp(header, wal::kSegmentMagic, sizeof(wal::kSegmentMagic)) != 0) {
    bool zero = true;
    for (size_t i = 0; i < n; ++i) zero = zero && header[i] == 0;
    if (zero) return;  // an unfinished creation; the WAL removes it at open
    throw Error(ErrorCode::kWalCorrupt,
                fmt::format("{}: not a strata WAL segment (bad magic); refusing to start, "
                            "nothing was written",
                            file));
  }
  const uint32_t version = wal::get_u32(header + 8);
  if (version > wal::kFormatVersion) {
    throw Error(ErrorCode::kFormatUnsupported,
                fmt::format("{}: WAL format version {} is newer than this build reads ({}); "
                            "refusing to start, nothing was written (run the newer strata)",
                            file, version, wal::kFormatVersion));
  }
  ++checked;
}

}  // namespace

SelfCheckReport self_check(const std::string& data_dir, uint64_t min_free_bytes, FileSystem& fs) {
  SelfCheckReport report;
  std::unique_ptr<Dir> data;
  try {
    data = fs.open_dir(data_dir);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidPath) throw;
    throw Error(ErrorCode::kIoError, fmt::format("DATA_DIR {} is not a directory", data_dir));
  }
  uint64_t segments = 0;
  // By path, as the WAL opens it: wal/ may be a symlink to another disk.
  std::unique_ptr<Dir> wal_dir;
  if (data) {
    try {
      wal_dir = fs.open_dir(data_dir + "/wal");  // nullptr when there is none yet
    } catch (const Error&) {
      // Not a directory: the WAL's own open says what it is.
    }
  }
  if (wal_dir) {
    for (const auto& name : wal_dir->list()) {
      uint64_t base = 0;
      if (!wal::parse_segment_file_name(name, &base)) continue;
      check_segment(*wal_dir, name, segments);
    }
  }
  report.lines.push_back(
      fmt::format("WAL: {} segment(s) of format version {}", segments, wal::kFormatVersion));

  if (auto f = data ? data->open_file("state.seq", OpenMode::kRead) : nullptr) {
    char buf[256];
    const size_t n = f->pread(buf, sizeof(buf), 0);
    std::string_view text(buf, n);
    const std::string_view first = text.substr(0, text.find('\n'));
    if (first.empty() || first.find_first_not_of("0123456789") != std::string_view::npos) {
      // The materializer rebuilds a state it cannot vouch for; say so.
      report.warnings.push_back(
          fmt::format("{}: not a seq this build recognizes; the state will be rebuilt from the WAL",
                      f->path()));
    } else {
      report.lines.push_back(fmt::format("state: applied up to seq {}", first));
    }
  }

  // The data directory may not exist yet: the free space where it will be.
  std::string probe = data_dir;
  while (!fs.exists(probe) && probe != parent_path(probe)) probe = parent_path(probe);
  std::optional<DiskSpace> space;
  try {
    space = fs.disk_space(probe);
  } catch (const Error&) {
    // No reading, no line: the WAL checks free space itself before appends.
  }
  // Refused here, naming the cause, rather than as whatever write the boot
  // tries first (recovery's lock file) failing with EROFS.
  if (space && space->read_only) {
    throw Error(ErrorCode::kIoError,
                fmt::format("DATA_DIR {} is on a read-only file system ({}); strata serve writes "
                            "its WAL there, so it does not start and nothing was written. Remount "
                            "it read-write (after fsck, if the kernel remounted it read-only after "
                            "errors); strata status, get, replay and verify read it as it is",
                            data_dir, probe));
  }
  if (space) {
    const uint64_t free_bytes = space->free_bytes;
    report.lines.push_back(fmt::format("disk: {} MB free", free_bytes / 1000000));
    if (free_bytes < min_free_bytes) {
      report.warnings.push_back(fmt::format(
          "disk: {} bytes free, below WAL_MIN_FREE_BYTES ({}): appends are refused until space "
          "is freed",
          free_bytes, min_free_bytes));
    }
  }
  return report;
}

}  // namespace strata::server
