#include "git/tree_writer.h"

#include <algorithm>

#include <fmt/format.h>

#include "git/git_util.h"
#include "git/path_rules.h"
#include "strata/error.h"

namespace strata::git {

namespace {

// Deeper trees are almost certainly a loop or an attack, not state.
constexpr int kMaxDepth = 256;
constexpr size_t kChunk = 1 << 16;

std::string join(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "/" + b;
}

}  // namespace

TreeWriter::TreeWriter(git_repository* repo, uint64_t max_file_bytes, FileSystem& fs)
    : fs_(fs), repo_(repo), max_file_bytes_(max_file_bytes) {
  git_odb* odb = nullptr;
  check(git_repository_odb(&odb, repo_), "opening the object database");
  odb_.reset(odb);
}

void TreeWriter::skip(std::string path, std::string reason) {
  stats_.skipped.push_back({std::move(path), std::move(reason)});
}

bool TreeWriter::write_dir(const std::string& dir, const std::string& archive_path, git_oid* out) {
  std::unique_ptr<Dir> root;
  try {
    root = fs_.open_dir(dir);
  } catch (const Error& e) {
    // Not a directory: unreadable as state, which a snapshot must not hide.
    throw Error(ErrorCode::kIoError, e.what());
  }
  if (!root) return false;
  return write_dir_at(*root, *root, "", archive_path, 0, out);
}

bool TreeWriter::write_dir_at(Dir& root, Dir& dir, const std::string& rel,
                              const std::string& archive_path, int depth, git_oid* out) {
  if (depth > kMaxDepth) {
    throw Error(ErrorCode::kIoError,
                fmt::format("{}: deeper than {} directories", archive_path, kMaxDepth));
  }
  git_treebuilder* tb_raw = nullptr;
  check(git_treebuilder_new(&tb_raw, repo_, nullptr), "creating a tree");
  TreeBuilderPtr tb(tb_raw);

  for (const std::string& name : dir.list()) {
    const std::string child_rel = join(rel, name);
    const std::string child_archive = archive_path + "/" + name;
    if (is_dot_git(name)) {
      skip(child_archive, "git metadata (.git) is never archived");
      continue;
    }
    // Gone by now: deleted under us by a later WAL entry, which replay will
    // apply again.
    auto st = dir.stat(name);
    if (!st) continue;
    git_oid oid;
    git_filemode_t mode;
    uint64_t bytes = 0;
    if (st->kind == FileKind::kDirectory) {
      auto sub = dir.open_dir(name);
      if (!sub) continue;
      const size_t empties_before = stats_.empty_dirs.size();
      if (!write_dir_at(root, *sub, child_rel, child_archive, depth + 1, &oid)) {
        // Only the deepest empty directories: restoring them makes the rest.
        if (stats_.empty_dirs.size() == empties_before) stats_.empty_dirs.push_back(child_archive);
        continue;
      }
      mode = GIT_FILEMODE_TREE;
    } else if (st->kind == FileKind::kRegular) {
      if (st->size > max_file_bytes_) {
        skip(child_archive, fmt::format("{} bytes, larger than GIT_ARCHIVE_MAX_FILE_BYTES ({})",
                                        st->size, max_file_bytes_));
        continue;
      }
      if (!add_file(dir, name, child_archive, &oid, &bytes)) continue;
      mode = (st->mode & 0100) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
    } else if (st->kind == FileKind::kSymlink) {
      auto target = dir.read_symlink(name);
      if (!target) continue;
      if (!symlink_target_inside(rel, *target) ||
          root.resolve_beneath(child_rel) == Resolution::kOutside) {
        skip(child_archive, fmt::format("symlink to '{}' leaves {}", *target,
                                        archive_path.substr(0, archive_path.find('/'))));
        continue;
      }
      check(git_odb_write(&oid, odb_.get(), target->data(), target->size(), GIT_OBJECT_BLOB),
            "writing a symlink blob");
      mode = GIT_FILEMODE_LINK;
      stats_.file_count++;
    } else {
      skip(child_archive, "not a regular file, directory or symlink");
      continue;
    }
    int rc = git_treebuilder_insert(nullptr, tb.get(), name.c_str(), &oid, mode);
    if (rc < 0) {
      // Names git refuses (e.g. ones that only differ from .git on other
      // file systems) cannot be archived; say so rather than fail the snapshot.
      skip(child_archive, fmt::format("git refuses the name: {}", last_error_message(rc)));
      if (mode != GIT_FILEMODE_TREE) {
        stats_.file_count--;
        stats_.total_bytes -= bytes;
      }
    }
  }
  if (git_treebuilder_entrycount(tb.get()) == 0) return false;
  check(git_treebuilder_write(out, tb.get()), fmt::format("writing the tree of {}", archive_path));
  return true;
}

bool TreeWriter::add_file(Dir& dir, const std::string& name, const std::string& archive_path,
                          git_oid* out, uint64_t* bytes) {
  auto f = dir.open_file(name, OpenMode::kRead);
  if (!f) return false;
  buffer_.clear();
  std::string chunk(kChunk, '\0');
  for (uint64_t off = 0;;) {
    const size_t n = f->pread(chunk.data(), chunk.size(), off);
    if (n == 0) break;
    off += n;
    buffer_.append(chunk.data(), n);
    if (buffer_.size() > max_file_bytes_) {
      skip(archive_path,
           fmt::format("grew beyond GIT_ARCHIVE_MAX_FILE_BYTES ({}) while read", max_file_bytes_));
      return false;
    }
  }
  // Hash first: most files of an incremental snapshot are already stored,
  // and hashing costs far less than writing a compressed loose object.
  check(git_odb_hash(out, buffer_.data(), buffer_.size(), GIT_OBJECT_BLOB), "hashing a blob");
  if (git_odb_exists(odb_.get(), out) != 1) {
    check(git_odb_write(out, odb_.get(), buffer_.data(), buffer_.size(), GIT_OBJECT_BLOB),
          fmt::format("writing the blob of {}", archive_path));
  }
  stats_.file_count++;
  stats_.total_bytes += buffer_.size();
  *bytes = buffer_.size();
  return true;
}

}  // namespace strata::git
