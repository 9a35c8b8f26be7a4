#include "server/boot_checks.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "strata/error.h"
#include "wal/record_format.h"

namespace strata::server {

namespace {

namespace fs = std::filesystem;

// Reads the first bytes of a segment; a short file is left to the WAL's
// own recovery at open (an unfinished creation).
void check_segment(const fs::path& file, SelfCheckReport& report, uint64_t& checked) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw_errno("opening", file.string(), errno);
  char header[wal::kHeaderSize];
  ssize_t n = ::pread(fd, header, sizeof(header), 0);
  const int err = errno;
  ::close(fd);
  if (n < 0) throw_errno("reading", file.string(), err);
  if (static_cast<size_t>(n) < 12) return;
  if (std::memcmp(header, wal::kSegmentMagic, sizeof(wal::kSegmentMagic)) != 0) {
    bool zero = true;
    for (ssize_t i = 0; i < n; ++i) zero = zero && header[i] == 0;
    if (zero) return;  // an unfinished creation; the WAL removes it at open
    throw Error(ErrorCode::kWalCorrupt,
                fmt::format("{}: not a strata WAL segment (bad magic); refusing to start, "
                            "nothing was written",
                            file.string()));
  }
  const uint32_t version = wal::get_u32(header + 8);
  if (version > wal::kFormatVersion) {
    throw Error(ErrorCode::kFormatUnsupported,
                fmt::format("{}: WAL format version {} is newer than this build reads ({}); "
                            "refusing to start, nothing was written (run the newer strata)",
                            file.string(), version, wal::kFormatVersion));
  }
  ++checked;
  (void)report;
}

}  // namespace

SelfCheckReport self_check(const std::string& data_dir, uint64_t min_free_bytes) {
  SelfCheckReport report;
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !fs::is_directory(data_dir, ec)) {
    throw Error(ErrorCode::kIoError, fmt::format("DATA_DIR {} is not a directory", data_dir));
  }
  const fs::path wal_dir = fs::path(data_dir) / "wal";
  uint64_t segments = 0;
  if (fs::is_directory(wal_dir, ec)) {
    for (const auto& ent : fs::directory_iterator(wal_dir)) {
      uint64_t base = 0;
      if (!wal::parse_segment_file_name(ent.path().filename().string(), &base)) continue;
      check_segment(ent.path(), report, segments);
    }
  }
  report.lines.push_back(
      fmt::format("WAL: {} segment(s) of format version {}", segments, wal::kFormatVersion));

  const fs::path seq_file = fs::path(data_dir) / "state.seq";
  if (fs::exists(seq_file, ec)) {
    int fd = ::open(seq_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) throw_errno("opening", seq_file.string(), errno);
    char buf[256];
    ssize_t n = ::pread(fd, buf, sizeof(buf), 0);
    ::close(fd);
    std::string_view text(buf, n > 0 ? static_cast<size_t>(n) : 0);
    const std::string_view first = text.substr(0, text.find('\n'));
    if (first.empty() || first.find_first_not_of("0123456789") != std::string_view::npos) {
      // The materializer rebuilds a state it cannot vouch for; say so.
      report.warnings.push_back(
          fmt::format("{}: not a seq this build recognizes; the state will be rebuilt from the WAL",
                      seq_file.string()));
    } else {
      report.lines.push_back(fmt::format("state: applied up to seq {}", first));
    }
  }

  fs::path probe = fs::path(data_dir);
  while (!probe.empty() && !fs::exists(probe, ec)) probe = probe.parent_path();
  struct statvfs vfs {};
  if (::statvfs(probe.empty() ? "." : probe.c_str(), &vfs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
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
