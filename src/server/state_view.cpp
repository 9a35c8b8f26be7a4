#include "server/state_view.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "strata/entry.h"
#include "strata/error.h"

namespace strata::server {

StateView::StateView(const std::string& data_dir)
    : materializer_(data_dir), dir_(materializer_.state_dir()) {}

uint64_t StateView::catch_up(Wal& wal) {
  MutexLock lock(mu_);
  return materializer_.run(wal).applied_seq;
}

uint64_t StateView::applied_seq() {
  MutexLock lock(mu_);
  return materializer_.applied_seq();
}

std::optional<StateFile> StateView::read(Wal& wal, const std::string& path) {
  validate_entry_path(path);
  MutexLock lock(mu_);
  StateFile out;
  out.seq = materializer_.run(wal).applied_seq;
  // Every component was checked above; O_NOFOLLOW still refuses a symlink
  // planted as the last one.
  const std::string full = dir_ + "/" + path;
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return std::nullopt;
    throw_errno("opening", full, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  out.data.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.data.size()) {
    ssize_t n = ::pread(fd, out.data.data() + got, out.data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      if (n == 0) throw Error(ErrorCode::kIoError, fmt::format("{}: shrank while read", full));
      throw_errno("reading", full, err);
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

}  // namespace strata::server
