#include "server/state_view.h"

#include <fmt/format.h>

#include "strata/entry.h"
#include "strata/error.h"
#include "strata/fs.h"

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
  // Every component was checked above; each is still opened without
  // following a symlink (one planted under state/ reads as missing) and the
  // file without blocking (a FIFO is not a state file).
  const std::string full = dir_ + "/" + path;
  try {
    auto dir = FileSystem::real().open_dir(dir_);
    std::string_view rest = path;
    for (size_t slash; dir && (slash = rest.find('/')) != std::string_view::npos;
         rest.remove_prefix(slash + 1)) {
      dir = dir->open_dir(std::string(rest.substr(0, slash)));
    }
    if (!dir) return std::nullopt;
    auto info = dir->stat(std::string(rest));
    if (!info || info->kind != FileKind::kRegular) return std::nullopt;
    auto f = dir->open_file(std::string(rest), OpenMode::kRead);
    if (!f) return std::nullopt;
    out.data.resize(static_cast<size_t>(f->size()));
    if (f->pread(out.data.data(), out.data.size(), 0) < out.data.size())
      throw Error(ErrorCode::kIoError, fmt::format("{}: shrank while read", full));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidPath) return std::nullopt;  // a symlink, FIFO, device
    throw;
  }
  return out;
}

}  // namespace strata::server
