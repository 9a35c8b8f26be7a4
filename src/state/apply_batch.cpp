#include "apply_batch.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "strata/error.h"
#include "strata/path_rules.h"

namespace strata::state_detail {

namespace {

// The staged file's name in the temporary directory; one at a time.
constexpr const char* kStagedName = "apply";

std::string_view last_component(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The open directories from the state directory down to the parent of the
// path being worked on. Paths come in sorted order (or its reverse), where
// everything below a directory is contiguous, so each directory is opened
// (or made) about once per batch instead of once per entry.
class DirChain {
 public:
  explicit DirChain(Dir& root) : root_(root) {}

  // The directory holding `rel`, or nullptr when a component above it is
  // missing or not a directory (then nothing exists at rel). With `make`,
  // missing components are made and a file or symlink in the way of one is
  // removed first (an older entry this write supersedes), so it never
  // returns nullptr.
  Dir* parent_of(std::string_view rel, bool make) {
    // The components of rel's parent, compared with what is open.
    size_t depth = 0;
    size_t start = 0;
    for (size_t slash; (slash = rel.find('/', start)) != std::string_view::npos;
         start = slash + 1, ++depth) {
      const std::string_view name = rel.substr(start, slash - start);
      if (depth < open_.size() && open_[depth].first == name) continue;
      open_.resize(depth);
      Dir& here = depth == 0 ? root_ : *open_[depth - 1].second;
      std::string n(name);
      auto sub = open_child(here, n, make);
      if (!sub) return nullptr;
      open_.emplace_back(std::move(n), std::move(sub));
    }
    open_.resize(depth);
    return depth == 0 ? &root_ : open_.back().second.get();
  }

 private:
  static std::unique_ptr<Dir> open_child(Dir& here, const std::string& name, bool make) {
    const auto info = here.stat(name);
    if (info && info->kind == FileKind::kDirectory) return here.open_dir(name);
    if (!make) return nullptr;
    if (info) here.remove_file(name);
    here.make_dir(name);
    return here.open_dir(name);
  }

  Dir& root_;
  std::vector<std::pair<std::string, std::unique_ptr<Dir>>> open_;
};

}  // namespace

void ApplyBatch::drop(Item& item) {
  if (!item.data) return;
  pending_bytes_ -= item.data->size();
  item.data.reset();
}

void ApplyBatch::add(const EntryView& e) {
  // The WAL validated the path, but state on disk is ours to protect: check
  // again so nothing can ever be written outside the state directory.
  validate_entry_path(e.path);
  std::string path(e.path);
  // Both a write and a delete of p remove everything below p.
  const std::string below = path + "/";
  for (auto it = items_.lower_bound(below); it != items_.end() && it->first.starts_with(below);
       ++it) {
    drop(it->second);
  }
  if (e.op != EntryOp::kDelete) {
    // A write removes a file at any ancestor: those become directories.
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      Item& up = items_[path.substr(0, slash)];
      up.ancestor = true;
      drop(up);
    }
  }
  Item& item = items_[std::move(path)];
  item.touched = true;
  drop(item);
  if (e.op != EntryOp::kDelete) {
    item.data.emplace(e.data);
    pending_bytes_ += e.data.size();
  }
  entries_++;
}

void ApplyBatch::clear() {
  items_.clear();
  entries_ = 0;
  pending_bytes_ = 0;
}

void ApplyBatch::apply(FileSystem& fs, const std::string& state_dir, const std::string& tmp_dir,
                       Writes writes) const {
  if (items_.empty()) return;
  auto root = fs.open_dir(state_dir);
  if (!root) {
    throw Error(ErrorCode::kIoError, state_dir + ": the state directory is missing");
  }
  // Directories a write that reaches the disk needs: they stay.
  std::set<std::string_view> needed;
  for (const auto& [path, item] : items_) {
    if (!item.data) continue;
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      needed.insert(std::string_view(path).substr(0, slash));
    }
  }
  auto is_needed = [&](std::string_view p) { return needed.contains(p); };

  std::unique_ptr<Dir> tmp;
  DirChain chain(*root);
  // Directories that may be empty once the removals are done.
  std::vector<std::string_view> prune;
  for (const auto& [path, item] : items_) {
    const std::string name(last_component(path));
    if (item.data) {
      Dir* dir = chain.parent_of(path, true);
      const auto info = dir->stat(name);
      if (info && info->kind == FileKind::kDirectory) remove_tree(*dir, name);
      if (writes == Writes::kInPlace) {
        // A symlink or special file in the way is replaced, never followed.
        if (info && info->kind != FileKind::kDirectory && info->kind != FileKind::kRegular)
          dir->remove_file(name);
        const bool existed = info && info->kind == FileKind::kRegular;
        auto f = dir->open_file(name, OpenMode::kCreateOrOpen);
        if (!item.data->empty()) f->pwrite(item.data->data(), item.data->size(), 0);
        // Cut only what is left of an older, longer content: truncating a
        // file to zero before rewriting it makes ext4 start writing it back
        // at close (auto_da_alloc).
        if (existed && info->size > item.data->size()) f->truncate(item.data->size());
        continue;
      }
      if (!tmp) {
        fs.make_dirs(tmp_dir);
        tmp = fs.open_dir(tmp_dir);
      }
      {
        auto f = tmp->open_file(kStagedName, OpenMode::kCreateTrunc);
        if (!item.data->empty()) f->pwrite(item.data->data(), item.data->size(), 0);
      }
      tmp->rename(kStagedName, *dir, name);
      continue;
    }
    if (item.touched) {
      // Deleted, or written and then removed by a later entry: gone with
      // everything below it (before the writes below it, which come later
      // in sorted order, make it a directory again).
      if (Dir* dir = chain.parent_of(path, false)) remove_tree(*dir, name);
    } else if (is_needed(path)) {
      continue;  // made a directory by the writes below it
    } else {
      // Only on the way of writes that did not survive the batch: a file
      // here was in their way; a directory may now be empty.
      if (Dir* dir = chain.parent_of(path, false)) {
        const auto info = dir->stat(name);
        if (info && info->kind != FileKind::kDirectory) dir->remove_file(name);
      }
      prune.push_back(path);
    }
    // Its ancestors may have lost their last entry.
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      const std::string_view up = std::string_view(path).substr(0, slash);
      if (!is_needed(up)) prune.push_back(up);
    }
  }
  if (prune.empty()) return;
  // Deepest first: in reverse sorted order a directory comes after
  // everything below it.
  std::sort(prune.begin(), prune.end(), std::greater<>());
  prune.erase(std::unique(prune.begin(), prune.end()), prune.end());
  DirChain up_chain(*root);
  for (const std::string_view p : prune) {
    Dir* dir = up_chain.parent_of(p, false);
    if (!dir) continue;
    const std::string name(last_component(p));
    const auto info = dir->stat(name);
    if (info && info->kind == FileKind::kDirectory) dir->remove_dir(name);  // false: not empty
  }
}

}  // namespace strata::state_detail
