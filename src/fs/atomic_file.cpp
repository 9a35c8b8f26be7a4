// The protocols built on the seam: atomic replace, durable directory
// creation, temporary directories and tree removal. Written once here so
// every caller gets the same fsyncs in the same order.
#include <fmt/format.h>

#include "common/random_id.h"
#include "strata/error.h"
#include "strata/fs.h"

namespace strata {

std::string parent_path(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_directory_following_links(FileSystem& fs, const std::string& path) {
  try {
    return fs.open_dir(path) != nullptr;
  } catch (const Error&) {
    return false;  // not a directory, or not one that can be opened
  }
}

namespace {

std::unique_ptr<Dir> open_existing_dir(FileSystem& fs, const std::string& path) {
  auto dir = fs.open_dir(path);
  if (!dir) throw_errno("open directory", path, ENOENT);
  return dir;
}

}  // namespace

AtomicFile::AtomicFile(Dir& dir, std::string name, uint32_t perm)
    : dir_(&dir), name_(std::move(name)) {
  open_temp(perm);
}

AtomicFile::AtomicFile(FileSystem& fs, const std::string& path, uint32_t perm)
    : owned_dir_(open_existing_dir(fs, parent_path(path))),
      dir_(owned_dir_.get()),
      name_(base_name(path)) {
  open_temp(perm);
}

void AtomicFile::open_temp(uint32_t perm) {
  // Long names are cut so the temporary name stays under NAME_MAX.
  for (int attempt = 0; !file_; ++attempt) {
    if (attempt == 8) {
      throw Error(ErrorCode::kIoError,
                  fmt::format("{}/{}: no free temporary name", dir_->path(), name_));
    }
    temp_name_ = fmt::format(".{}{}{}", name_.substr(0, 200), kTempMarker, random_hex(8));
    file_ = dir_->open_file(temp_name_, OpenMode::kCreate, perm);
  }
}

AtomicFile::~AtomicFile() {
  if (done_) return;
  file_.reset();
  try {
    dir_->remove_file(temp_name_);
  } catch (...) {
    // Best effort: a leftover temporary name is hidden and harmless.
  }
}

void AtomicFile::append(std::string_view bytes) {
  file_->pwrite(bytes.data(), bytes.size(), size_);
  size_ += bytes.size();
}

void AtomicFile::reset() {
  file_->truncate(0);
  size_ = 0;
}

void AtomicFile::sync_and_close() {
  if (done_) throw Error(ErrorCode::kInternal, "AtomicFile committed twice");
  file_->sync();
  file_.reset();
}

void AtomicFile::commit() {
  sync_and_close();
  dir_->rename(temp_name_, *dir_, name_);
  done_ = true;
  dir_->sync();
}

bool AtomicFile::commit_if_absent() {
  sync_and_close();
  const bool linked = dir_->link(temp_name_, *dir_, name_);
  done_ = true;
  dir_->remove_file(temp_name_);
  dir_->sync();
  return linked;
}

void write_file_atomically(FileSystem& fs, const std::string& path, std::string_view bytes) {
  AtomicFile f(fs, path);
  f.append(bytes);
  f.commit();
}

bool create_file_atomically(FileSystem& fs, const std::string& path, std::string_view bytes) {
  AtomicFile f(fs, path);
  f.append(bytes);
  return f.commit_if_absent();
}

std::optional<std::string> read_small_file(FileSystem& fs, const std::string& path,
                                           size_t max_bytes) {
  if (!fs.exists(path)) return std::nullopt;
  auto f = fs.open(path, OpenMode::kRead);
  std::string text(max_bytes + 1, '\0');
  text.resize(f->pread(text.data(), text.size(), 0));
  if (text.size() > max_bytes) {
    throw Error(ErrorCode::kIoError,
                fmt::format("{}: larger than the {} bytes expected", path, max_bytes));
  }
  return text;
}

void create_directories(FileSystem& fs, const std::string& path) {
  if (path.empty()) throw Error(ErrorCode::kInvalidArgument, "create_directories: an empty path");
  // The nearest existing ancestor (symlinks on the way are the caller's and
  // are followed), then one new component at a time.
  std::vector<std::string> missing;
  std::string cur = path;
  std::unique_ptr<Dir> dir;
  while (!(dir = fs.open_dir(cur))) {
    if (cur == "/" || cur == ".") throw_errno("open directory", cur, ENOENT);
    missing.push_back(base_name(cur));
    cur = parent_path(cur);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (it->empty()) continue;  // "a//b" or a trailing '/'
    dir->make_dir(*it);         // false: made meanwhile by someone else, fine
    dir->sync();
    auto next = dir->open_dir(*it);
    if (!next) throw_errno("open directory", dir->path() + "/" + *it, ENOENT);
    dir = std::move(next);
  }
}

std::string make_temp_dir(Dir& parent, std::string_view prefix, uint32_t mode) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string name = fmt::format("{}{}", prefix, random_hex(6));
    if (parent.make_dir(name, mode)) return name;
  }
  throw Error(ErrorCode::kIoError,
              fmt::format("{}: no free name for a temporary directory", parent.path()));
}

bool remove_tree(Dir& parent, const std::string& name) {
  auto info = parent.stat(name);
  if (!info) return false;
  if (info->kind == FileKind::kDirectory) {
    if (auto dir = parent.open_dir(name)) {
      for (const auto& child : dir->list()) remove_tree(*dir, child);
    }
    parent.remove_dir(name);
    return true;
  }
  parent.remove_file(name);
  return true;
}

}  // namespace strata
