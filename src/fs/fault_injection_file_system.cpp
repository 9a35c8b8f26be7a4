#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/fs.h"

namespace strata {
namespace {

std::string_view op_name(FsOp op) {
  switch (op) {
    case FsOp::kOpen:
      return "open";
    case FsOp::kRead:
      return "read";
    case FsOp::kWrite:
      return "write";
    case FsOp::kSyncData:
      return "fdatasync";
    case FsOp::kSync:
      return "fsync";
    case FsOp::kTruncate:
      return "truncate";
    case FsOp::kRename:
      return "rename";
    case FsOp::kRemove:
      return "remove";
    case FsOp::kMakeDirs:
      return "mkdir";
    case FsOp::kSyncDir:
      return "fsync directory";
    case FsOp::kListDir:
      return "list directory";
    case FsOp::kLock:
      return "flock";
    case FsOp::kDiskSpace:
      return "statvfs";
    case FsOp::kSyncFilesystem:
      return "syncfs";
  }
  return "?";
}

class FaultFile final : public File {
 public:
  FaultFile(std::unique_ptr<File> base, FaultInjectionFileSystem& fs)
      : base_(std::move(base)), fs_(fs) {}

  size_t pread(void* buf, size_t n, uint64_t off) override {
    fs_.check(FsOp::kRead, path());
    return base_->pread(buf, n, off);
  }
  void pwrite(const void* buf, size_t n, uint64_t off) override {
    size_t torn = 0;
    try {
      fs_.check(FsOp::kWrite, path(), &torn);
    } catch (const Error&) {
      if (torn > 0) base_->pwrite(buf, std::min(torn, n), off);
      throw;
    }
    base_->pwrite(buf, n, off);
  }
  void sync_data() override {
    fs_.check(FsOp::kSyncData, path());
    base_->sync_data();
  }
  void sync() override {
    fs_.check(FsOp::kSync, path());
    base_->sync();
  }
  void truncate(uint64_t size) override {
    fs_.check(FsOp::kTruncate, path());
    base_->truncate(size);
  }
  uint64_t size() override { return base_->size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  std::unique_ptr<File> base_;
  FaultInjectionFileSystem& fs_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem& base) : base_(base) {}

void FaultInjectionFileSystem::add_rule(FaultRule rule) {
  std::lock_guard lock(mu_);
  rules_.push_back(ActiveRule{std::move(rule)});
}

void FaultInjectionFileSystem::clear_rules() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

void FaultInjectionFileSystem::set_free_bytes(std::optional<uint64_t> bytes) {
  std::lock_guard lock(mu_);
  free_bytes_ = bytes;
}

uint64_t FaultInjectionFileSystem::count(FsOp op) const {
  return counts_[static_cast<int>(op)].load();
}

void FaultInjectionFileSystem::check(FsOp op, const std::string& path, size_t* torn_bytes) {
  counts_[static_cast<int>(op)]++;
  std::lock_guard lock(mu_);
  for (auto& r : rules_) {
    if (r.rule.op != op) continue;
    if (!r.rule.path_contains.empty() && path.find(r.rule.path_contains) == std::string::npos) {
      continue;
    }
    if (r.seen++ < r.rule.skip) continue;
    if (r.rule.times >= 0 && r.fired >= r.rule.times) continue;
    r.fired++;
    if (torn_bytes != nullptr) *torn_bytes = r.rule.torn_bytes;
    throw Error(ErrorCode::kIoError,
                fmt::format("{} {}: {} (injected)", op_name(op), path, std::strerror(r.rule.err)));
  }
}

std::unique_ptr<File> FaultInjectionFileSystem::open(const std::string& path, OpenMode mode) {
  check(FsOp::kOpen, path);
  return std::make_unique<FaultFile>(base_.open(path, mode), *this);
}
bool FaultInjectionFileSystem::exists(const std::string& path) {
  return base_.exists(path);
}
bool FaultInjectionFileSystem::is_directory(const std::string& path) {
  return base_.is_directory(path);
}
void FaultInjectionFileSystem::rename(const std::string& from, const std::string& to) {
  check(FsOp::kRename, to);
  base_.rename(from, to);
}
void FaultInjectionFileSystem::remove(const std::string& path) {
  check(FsOp::kRemove, path);
  base_.remove(path);
}
void FaultInjectionFileSystem::make_dirs(const std::string& path) {
  check(FsOp::kMakeDirs, path);
  base_.make_dirs(path);
}
void FaultInjectionFileSystem::sync_dir(const std::string& path) {
  check(FsOp::kSyncDir, path);
  base_.sync_dir(path);
}
std::vector<std::string> FaultInjectionFileSystem::list_dir(const std::string& path) {
  check(FsOp::kListDir, path);
  return base_.list_dir(path);
}
std::unique_ptr<FileLock> FaultInjectionFileSystem::try_lock(const std::string& path,
                                                             pid_t* holder_pid) {
  check(FsOp::kLock, path);
  return base_.try_lock(path, holder_pid);
}
DiskSpace FaultInjectionFileSystem::disk_space(const std::string& path) {
  check(FsOp::kDiskSpace, path);
  {
    std::lock_guard lock(mu_);
    if (free_bytes_) return DiskSpace{*free_bytes_, *free_bytes_ * 2};
  }
  return base_.disk_space(path);
}
void FaultInjectionFileSystem::sync_filesystem(const std::string& path) {
  check(FsOp::kSyncFilesystem, path);
  base_.sync_filesystem(path);
}

}  // namespace strata
