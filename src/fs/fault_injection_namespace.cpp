// FaultInjectionFileSystem's directory-entry journal: the half of a
// simulated power loss that undoes creates, renames and unlinks whose
// directory was not fsynced (the data half is in
// fault_injection_file_system.cpp). What a power cut may undo is what POSIX
// leaves undurable: an entry is on disk once its directory was fsynced.
#include <algorithm>
#include <random>

#include "strata/error.h"
#include "strata/testing/fault_injection_file_system.h"

namespace strata {
namespace {

// Lexically normal: no empty or "." components, no trailing '/'. Paths are
// compared as strings, so "d//f" and "d/./f" must be the same entry.
std::string normal(const std::string& path) {
  std::string out;
  if (!path.empty() && path[0] == '/') out = "/";
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string_view part(path.data() + i, j - i);
    if (!part.empty() && part != ".") {
      if (!out.empty() && out.back() != '/') out += '/';
      out += part;
    }
    i = j + 1;
  }
  return out.empty() ? std::string(".") : out;
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

std::string FaultInjectionFileSystem::normal_path(const std::string& path) {
  return normal(path);
}

FaultInjectionFileSystem::ChangeScope FaultInjectionFileSystem::begin_change() {
  ChangeScope scope;
  bool tracking = false;
  {
    std::lock_guard lock(track_mu_);
    tracking = tracking_;
  }
  if (tracking) scope.lock = std::unique_lock(ns_mu_);
  return scope;
}

void FaultInjectionFileSystem::save_entry(ChangeScope& scope, const std::string& path) {
  if (!scope.lock.owns_lock()) return;
  std::lock_guard lock(track_mu_);
  scope.saved = take_entry(normal(path));
}

void FaultInjectionFileSystem::end_change(ChangeScope& scope, ChangeKind kind,
                                          const std::string& path, const std::string& to) {
  if (!scope.lock.owns_lock()) return;
  std::lock_guard lock(track_mu_);
  Change c;
  c.version = ++change_version_;
  c.kind = kind;
  c.path = normal(path);
  if (kind == ChangeKind::kRename) c.to = normal(to);
  c.replaced = std::move(scope.saved);
  scope.saved.reset();
  // The data of a file that left its name is tracked with the saved entry
  // now (it comes back with it, if it does).
  if (kind == ChangeKind::kRemove) unsynced_.erase(c.path);
  if (kind == ChangeKind::kRename) {
    unsynced_.erase(c.to);
    moved(c.path, c.to);
  }
  changes_.push_back(std::move(c));
}

uint64_t FaultInjectionFileSystem::dir_sync_started() {
  std::lock_guard lock(ns_mu_);
  return change_version_;
}

void FaultInjectionFileSystem::dir_synced(const std::string& dir, uint64_t version) {
  std::lock_guard lock(ns_mu_);
  if (dir.empty()) {
    fs_synced_ = std::max(fs_synced_, version);
  } else {
    uint64_t& v = dir_synced_[normal(dir)];
    v = std::max(v, version);
  }
  // Forget the oldest changes while every directory they touch made them
  // durable. Not a covered change after an uncovered one: undoing the
  // earlier one may yet undo it (undo_unsynced_changes).
  auto first_open =
      std::find_if(changes_.begin(), changes_.end(), [&](const Change& c) { return uncovered(c); });
  changes_.erase(changes_.begin(), first_open);
}

bool FaultInjectionFileSystem::uncovered(const Change& c) const {
  if (fs_synced_ >= c.version) return false;
  // A rename is durable once its destination's directory is: the new name
  // is then on disk (the old one may come back beside it on a real file
  // system, which leaves a spare name, never a loss; that is not simulated).
  const std::string dir = parent_path(c.kind == ChangeKind::kRename ? c.to : c.path);
  auto it = dir_synced_.find(dir);
  return it == dir_synced_.end() || it->second < c.version;
}

size_t FaultInjectionFileSystem::unsynced_changes() {
  std::lock_guard lock(ns_mu_);
  return static_cast<size_t>(std::count_if(changes_.begin(), changes_.end(),
                                           [&](const Change& c) { return uncovered(c); }));
}

void FaultInjectionFileSystem::moved(const std::string& from, const std::string& to) {
  std::vector<std::string> keys;
  for (const auto& [p, blocks] : unsynced_) {
    if (p == from || under(p, from)) keys.push_back(p);
  }
  for (const auto& k : keys) {
    auto node = unsynced_.extract(k);
    node.key() = to + k.substr(from.size());
    unsynced_.insert(std::move(node));
  }
}

std::optional<FaultInjectionFileSystem::SavedEntry> FaultInjectionFileSystem::take_entry(
    const std::string& path) {
  auto dir = base_.open_dir(parent_path(path));
  if (dir == nullptr) return std::nullopt;
  const std::string name = base_name(path);
  const auto info = dir->stat(name);
  if (!info) return std::nullopt;
  SavedEntry saved;
  saved.kind = info->kind;
  saved.mode = info->mode;
  if (info->kind == FileKind::kSymlink) {
    saved.content = dir->read_symlink(name).value_or("");
  } else if (info->kind == FileKind::kRegular) {
    auto f = dir->open_file(name, OpenMode::kRead);
    saved.content.resize(f->size());
    saved.content.resize(f->pread(saved.content.data(), saved.content.size(), 0));
    for (const auto& x : f->list_xattrs()) {
      if (auto v = f->get_xattr(x)) saved.xattrs.emplace_back(x, *v);
    }
    if (auto it = unsynced_.find(path); it != unsynced_.end()) saved.blocks = it->second;
  }
  return saved;
}

void FaultInjectionFileSystem::restore_entry(const std::string& path, SavedEntry saved) {
  auto dir = base_.open_dir(parent_path(path));
  const std::string name = base_name(path);
  if (dir == nullptr || dir->stat(name)) return;  // its directory went too, or it is back
  switch (saved.kind) {
    case FileKind::kRegular: {
      auto f = dir->open_file(name, OpenMode::kCreate, saved.mode);
      f->pwrite(saved.content.data(), saved.content.size(), 0);
      f->set_mode(saved.mode);
      for (const auto& [x, v] : saved.xattrs) f->set_xattr(x, v);
      if (!saved.blocks.empty()) unsynced_[path] = std::move(saved.blocks);
      break;
    }
    case FileKind::kDirectory:
      dir->make_dir(name, saved.mode);
      dir->open_dir(name)->set_mode(saved.mode);
      break;
    case FileKind::kSymlink:
      dir->make_symlink(saved.content, name);
      break;
    case FileKind::kOther:
      break;
  }
}

void FaultInjectionFileSystem::undo(Change& c) {
  auto dir = base_.open_dir(parent_path(c.path));
  const std::string name = base_name(c.path);
  switch (c.kind) {
    case ChangeKind::kCreate:
      if (dir != nullptr) {
        const auto info = dir->stat(name);
        if (info && info->kind != FileKind::kDirectory) dir->remove_file(name);
      }
      unsynced_.erase(c.path);
      break;
    case ChangeKind::kMakeDir:
      if (dir != nullptr) remove_tree(*dir, name);
      std::erase_if(unsynced_, [&](const auto& e) { return under(e.first, c.path); });
      break;
    case ChangeKind::kRemove:
      if (c.replaced) restore_entry(c.path, std::move(*c.replaced));
      break;
    case ChangeKind::kRename: {
      auto to_dir = base_.open_dir(parent_path(c.to));
      if (dir != nullptr && to_dir != nullptr && to_dir->stat(base_name(c.to)) &&
          !dir->stat(name)) {
        to_dir->rename(base_name(c.to), *dir, name);
        moved(c.to, c.path);
      }
      if (c.replaced) restore_entry(c.to, std::move(*c.replaced));
      break;
    }
  }
}

size_t FaultInjectionFileSystem::undo_unsynced_changes(uint64_t seed) {
  // Each change no directory sync covers is lost with probability 1/2, in
  // no particular order (POSIX does not order them: a later unlink may be
  // on disk while the rename before it in the same directory is not). An
  // uncovered change to an entry an undone change touched is undone too:
  // what the earlier change made is not there for it to have changed. A
  // covered change stays even then (a rename into a synced directory keeps
  // the file there, whether or not its creation elsewhere was synced); the
  // undoing of the earlier one finds its entry gone and does nothing.
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<bool> undone(changes_.size(), false);
  std::vector<std::string> tainted;
  auto is_tainted = [&](const std::string& p) {
    return std::any_of(tainted.begin(), tainted.end(),
                       [&](const std::string& t) { return p == t || under(p, t); });
  };
  for (size_t i = 0; i < changes_.size(); ++i) {
    const Change& c = changes_[i];
    const bool is_rename = c.kind == ChangeKind::kRename;
    if (!uncovered(c)) continue;
    const bool lost = rng() % 2 == 0;
    if (!lost && !is_tainted(c.path) && !(is_rename && is_tainted(c.to))) continue;
    undone[i] = true;
    tainted.push_back(c.path);
    if (is_rename) tainted.push_back(c.to);
  }
  size_t n = 0;
  for (size_t i = changes_.size(); i-- > 0;) {
    if (!undone[i]) continue;
    undo(changes_[i]);
    n++;
  }
  changes_.clear();
  dir_synced_.clear();
  return n;
}

}  // namespace strata
