#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/testing/fault_injection_file_system.h"

namespace strata {
namespace {

constexpr uint64_t kBlock = 4096;

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
    case FsOp::kOpenDir:
      return "open directory";
    case FsOp::kStat:
      return "stat";
    case FsOp::kLink:
      return "link";
    case FsOp::kSymlink:
      return "symlink";
    case FsOp::kReadLink:
      return "readlink";
    case FsOp::kResolve:
      return "resolve";
    case FsOp::kChmod:
      return "chmod";
    case FsOp::kSetXattr:
      return "setxattr";
    case FsOp::kGetXattr:
      return "getxattr";
    case FsOp::kAccess:
      return "access";
    case FsOp::kCount:
      break;
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
      if (torn > 0) fs_.tracked_write(*base_, buf, std::min(torn, n), off);
      throw;
    }
    fs_.tracked_write(*base_, buf, n, off);
  }
  void sync_data() override {
    fs_.check(FsOp::kSyncData, path());
    const uint64_t v = fs_.sync_started();
    base_->sync_data();
    fs_.sync_finished(path(), v);
  }
  void sync() override {
    fs_.check(FsOp::kSync, path());
    const uint64_t v = fs_.sync_started();
    base_->sync();
    fs_.sync_finished(path(), v);
  }
  void truncate(uint64_t size) override {
    fs_.check(FsOp::kTruncate, path());
    base_->truncate(size);
  }
  uint64_t size() override { return base_->size(); }
  FileInfo info() override {
    fs_.check(FsOp::kStat, path());
    return base_->info();
  }
  void set_mode(uint32_t mode) override {
    fs_.check(FsOp::kChmod, path());
    base_->set_mode(mode);
  }
  void set_xattr(const std::string& name, std::string_view value) override {
    fs_.check(FsOp::kSetXattr, path());
    base_->set_xattr(name, value);
  }
  std::optional<std::string> get_xattr(const std::string& name) override {
    fs_.check(FsOp::kGetXattr, path());
    return base_->get_xattr(name);
  }
  std::vector<std::string> list_xattrs() override {
    fs_.check(FsOp::kGetXattr, path());
    return base_->list_xattrs();
  }
  const std::string& path() const override { return base_->path(); }

 private:
  std::unique_ptr<File> base_;
  FaultInjectionFileSystem& fs_;
};

using Change = FaultInjectionFileSystem::ChangeKind;

class FaultDir final : public Dir {
 public:
  FaultDir(std::unique_ptr<Dir> base, FaultInjectionFileSystem& fs)
      : base_(std::move(base)), fs_(fs) {}

  const std::string& path() const override { return base_->path(); }

  std::optional<FileInfo> stat(const std::string& name) override {
    fs_.check(FsOp::kStat, child(name));
    return base_->stat(name);
  }
  std::vector<std::string> list() override {
    fs_.check(FsOp::kListDir, path());
    return base_->list();
  }
  std::unique_ptr<Dir> open_dir(const std::string& name) override {
    fs_.check(FsOp::kOpenDir, child(name));
    auto d = base_->open_dir(name);
    return d ? std::make_unique<FaultDir>(std::move(d), fs_) : nullptr;
  }
  bool make_dir(const std::string& name, uint32_t mode) override {
    fs_.check(FsOp::kMakeDirs, child(name));
    auto scope = fs_.begin_change();
    const bool made = base_->make_dir(name, mode);
    if (made) fs_.end_change(scope, Change::kMakeDir, child(name));
    return made;
  }
  std::unique_ptr<File> open_file(const std::string& name, OpenMode mode, uint32_t perm) override {
    fs_.check(FsOp::kOpen, child(name));
    auto scope = fs_.begin_change();
    const bool creates = mode != OpenMode::kRead && mode != OpenMode::kReadWrite &&
                         scope.lock.owns_lock() && !base_->stat(name);
    auto f = base_->open_file(name, mode, perm);
    if (f && creates) fs_.end_change(scope, Change::kCreate, child(name));
    return f ? std::make_unique<FaultFile>(std::move(f), fs_) : nullptr;
  }
  void rename(const std::string& from, Dir& to_dir, const std::string& to) override {
    FaultDir& other = unwrap(to_dir);
    fs_.check(FsOp::kRename, other.child(to));
    auto scope = fs_.begin_change();
    fs_.save_entry(scope, other.child(to));
    base_->rename(from, *other.base_, to);
    fs_.end_change(scope, Change::kRename, child(from), other.child(to));
  }
  bool link(const std::string& from, Dir& to_dir, const std::string& to) override {
    FaultDir& other = unwrap(to_dir);
    fs_.check(FsOp::kLink, other.child(to));
    auto scope = fs_.begin_change();
    const bool linked = base_->link(from, *other.base_, to);
    if (linked) fs_.end_change(scope, Change::kCreate, other.child(to));
    return linked;
  }
  bool remove_file(const std::string& name) override {
    fs_.check(FsOp::kRemove, child(name));
    auto scope = fs_.begin_change();
    fs_.save_entry(scope, child(name));
    const bool removed = base_->remove_file(name);
    if (removed) fs_.end_change(scope, Change::kRemove, child(name));
    return removed;
  }
  bool remove_dir(const std::string& name) override {
    fs_.check(FsOp::kRemove, child(name));
    auto scope = fs_.begin_change();
    fs_.save_entry(scope, child(name));
    const bool removed = base_->remove_dir(name);
    if (removed) fs_.end_change(scope, Change::kRemove, child(name));
    return removed;
  }
  bool make_symlink(const std::string& target, const std::string& name) override {
    fs_.check(FsOp::kSymlink, child(name));
    auto scope = fs_.begin_change();
    const bool made = base_->make_symlink(target, name);
    if (made) fs_.end_change(scope, Change::kCreate, child(name));
    return made;
  }
  std::optional<std::string> read_symlink(const std::string& name) override {
    fs_.check(FsOp::kReadLink, child(name));
    return base_->read_symlink(name);
  }
  Resolution resolve_beneath(const std::string& rel) override {
    fs_.check(FsOp::kResolve, path() + "/" + rel);
    return base_->resolve_beneath(rel);
  }
  void sync() override {
    fs_.check(FsOp::kSyncDir, path());
    const uint64_t v = fs_.dir_sync_started();
    base_->sync();
    fs_.dir_synced(path(), v);
  }
  void set_mode(uint32_t mode) override {
    fs_.check(FsOp::kChmod, path());
    base_->set_mode(mode);
  }
  bool accessible() override {
    try {
      fs_.check(FsOp::kAccess, path());
    } catch (const Error&) {
      return false;
    }
    return base_->accessible();
  }
  std::unique_ptr<FileLock> lock(const std::string& name) override {
    fs_.check(FsOp::kLock, child(name));
    return base_->lock(name);
  }
  void sync_filesystem() override {
    fs_.check(FsOp::kSyncFilesystem, path());
    const uint64_t v = fs_.sync_started(), nv = fs_.dir_sync_started();
    base_->sync_filesystem();
    fs_.filesystem_synced(v);
    fs_.dir_synced("", nv);
  }

 private:
  std::string child(const std::string& name) const {
    return path() == "/" ? "/" + name : path() + "/" + name;
  }
  FaultDir& unwrap(Dir& other) const {
    auto* d = dynamic_cast<FaultDir*>(&other);
    if (d == nullptr) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("{}: a directory of another file system", other.path()));
    }
    return *d;
  }

  std::unique_ptr<Dir> base_;
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

void FaultInjectionFileSystem::track_unsynced_writes(bool on) {
  std::lock_guard ns_lock(ns_mu_);
  std::lock_guard lock(track_mu_);
  tracking_ = on;
  if (!on) {
    unsynced_.clear();
    changes_.clear();
    dir_synced_.clear();
  }
}

void FaultInjectionFileSystem::cut_power() {
  power_cut_ = true;
}

void FaultInjectionFileSystem::tracked_write(File& base, const void* buf, size_t n, uint64_t off) {
  std::unique_lock lock(track_mu_);
  if (!tracking_ || n == 0) {
    lock.unlock();
    base.pwrite(buf, n, off);
    return;
  }
  auto& blocks = unsynced_[normal_path(base.path())];
  const uint64_t first = off / kBlock, last = (off + n - 1) / kBlock;
  for (uint64_t b = first; b <= last; ++b) {
    auto [it, fresh] = blocks.try_emplace(b);
    if (fresh) {
      it->second.durable.assign(kBlock, '\0');
      base.pread(it->second.durable.data(), kBlock, b * kBlock);
    }
    it->second.writing++;
  }
  // The write itself runs unlocked, so a sync that starts meanwhile does not
  // wait for it and does not count it as covered (it only would if the
  // write had finished before the sync began).
  lock.unlock();
  std::optional<Error> failure;
  try {
    base.pwrite(buf, n, off);
  } catch (const Error& e) {
    failure = e;
  }
  lock.lock();
  const uint64_t version = ++write_version_;
  for (uint64_t b = first; b <= last; ++b) {
    std::string after(kBlock, '\0');
    base.pread(after.data(), kBlock, b * kBlock);
    blocks[b].writes.emplace_back(version, std::move(after));
    blocks[b].writing--;
  }
  if (failure) throw *failure;
}

uint64_t FaultInjectionFileSystem::sync_started() {
  return write_version_.load();
}

void FaultInjectionFileSystem::sync_finished(const std::string& path, uint64_t version) {
  std::lock_guard lock(track_mu_);
  auto it = unsynced_.find(normal_path(path));
  if (it == unsynced_.end()) return;
  for (auto b = it->second.begin(); b != it->second.end();) {
    auto& w = b->second.writes;
    auto covered =
        std::find_if(w.begin(), w.end(), [&](const auto& x) { return x.first > version; });
    if (covered != w.begin()) {
      b->second.durable = std::prev(covered)->second;
      w.erase(w.begin(), covered);
    }
    b = w.empty() && b->second.writing == 0 ? it->second.erase(b) : std::next(b);
  }
}

void FaultInjectionFileSystem::filesystem_synced(uint64_t version) {
  std::vector<std::string> paths;
  {
    std::lock_guard lock(track_mu_);
    for (const auto& entry : unsynced_) paths.push_back(entry.first);
  }
  for (const auto& p : paths) sync_finished(p, version);
}

size_t FaultInjectionFileSystem::unsynced_blocks() {
  std::lock_guard lock(track_mu_);
  size_t n = 0;
  for (const auto& [path, blocks] : unsynced_) n += blocks.size();
  return n;
}

namespace {
std::atomic<uint64_t> g_cuts{0}, g_blocks_reverted{0}, g_changes_undone{0};
}  // namespace

FaultInjectionFileSystem::PowerLossTally FaultInjectionFileSystem::power_loss_tally() {
  return {g_cuts.load(), g_blocks_reverted.load(), g_changes_undone.load()};
}

size_t FaultInjectionFileSystem::lose_unsynced_writes(uint64_t seed) {
  std::lock_guard ns_lock(ns_mu_);
  std::lock_guard lock(track_mu_);
  // The namespace first: a file that comes back brings its unsynced blocks.
  changes_undone_ = undo_unsynced_changes(seed);
  std::mt19937_64 rng(seed);
  size_t reverted = 0;
  for (auto& [path, blocks] : unsynced_) {
    if (!base_.exists(path)) continue;
    auto f = base_.open(path, OpenMode::kReadWrite);
    const uint64_t size = f->size();
    for (const auto& [b, block] : blocks) {
      if (rng() % 2 == 0 || b * kBlock >= size) continue;
      f->pwrite(block.durable.data(),
                static_cast<size_t>(std::min<uint64_t>(kBlock, size - b * kBlock)), b * kBlock);
      reverted++;
    }
  }
  unsynced_.clear();
  power_cut_ = false;
  g_cuts++;
  g_blocks_reverted += reverted;
  g_changes_undone += changes_undone_;
  return reverted;
}

void FaultInjectionFileSystem::check(FsOp op, const std::string& path, size_t* torn_bytes) {
  counts_[static_cast<int>(op)]++;
  if (power_cut_) {
    throw Error(ErrorCode::kIoError, fmt::format("{} {}: {} (power cut, injected)", op_name(op),
                                                 path, std::strerror(EIO)));
  }
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
  auto scope = begin_change();
  const bool creates = mode != OpenMode::kRead && mode != OpenMode::kReadWrite &&
                       scope.lock.owns_lock() && !base_.exists(path);
  auto f = std::make_unique<FaultFile>(base_.open(path, mode), *this);
  if (creates) end_change(scope, ChangeKind::kCreate, path);
  return f;
}
bool FaultInjectionFileSystem::exists(const std::string& path) {
  return base_.exists(path);
}
bool FaultInjectionFileSystem::is_directory(const std::string& path) {
  return base_.is_directory(path);
}
void FaultInjectionFileSystem::rename(const std::string& from, const std::string& to) {
  check(FsOp::kRename, to);
  auto scope = begin_change();
  save_entry(scope, to);
  base_.rename(from, to);
  end_change(scope, ChangeKind::kRename, from, to);
}
void FaultInjectionFileSystem::remove(const std::string& path) {
  check(FsOp::kRemove, path);
  auto scope = begin_change();
  save_entry(scope, path);
  base_.remove(path);
  end_change(scope, ChangeKind::kRemove, path);
}
void FaultInjectionFileSystem::make_dirs(const std::string& path) {
  check(FsOp::kMakeDirs, path);
  auto scope = begin_change();
  std::vector<std::string> missing;  // outermost last
  if (scope.lock.owns_lock()) {
    for (std::string p = normal_path(path); p != "." && p != "/" && !base_.exists(p);
         p = parent_path(p)) {
      missing.push_back(p);
    }
  }
  base_.make_dirs(path);
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    end_change(scope, ChangeKind::kMakeDir, *it);
  }
}
void FaultInjectionFileSystem::sync_dir(const std::string& path) {
  check(FsOp::kSyncDir, path);
  const uint64_t v = dir_sync_started();
  base_.sync_dir(path);
  dir_synced(path, v);
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
  const uint64_t v = sync_started(), nv = dir_sync_started();
  base_.sync_filesystem(path);
  filesystem_synced(v);
  dir_synced("", nv);
}
std::unique_ptr<Dir> FaultInjectionFileSystem::open_dir(const std::string& path) {
  check(FsOp::kOpenDir, path);
  auto d = base_.open_dir(path);
  return d ? std::make_unique<FaultDir>(std::move(d), *this) : nullptr;
}

}  // namespace strata
