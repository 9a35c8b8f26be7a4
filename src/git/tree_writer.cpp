#include "git/tree_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "git/git_util.h"
#include "git/path_rules.h"
#include "strata/error.h"

namespace strata::git {

namespace {

// Deeper trees are almost certainly a loop or an attack, not state.
constexpr int kMaxDepth = 256;

std::vector<std::string> list_names(int dir_fd, const std::string& path) {
  int dup_fd = ::dup(dir_fd);
  if (dup_fd < 0) throw_errno("dup", path, errno);
  DIR* d = ::fdopendir(dup_fd);
  if (d == nullptr) {
    int err = errno;
    ::close(dup_fd);
    throw_errno("opendir", path, err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) throw_errno("readdir", path, err);
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "/" + b;
}

}  // namespace

TreeWriter::TreeWriter(git_repository* repo, uint64_t max_file_bytes)
    : repo_(repo), max_file_bytes_(max_file_bytes) {
  git_odb* odb = nullptr;
  check(git_repository_odb(&odb, repo_), "opening the object database");
  odb_.reset(odb);
}

void TreeWriter::skip(std::string path, std::string reason) {
  stats_.skipped.push_back({std::move(path), std::move(reason)});
}

bool TreeWriter::write_dir(const std::string& dir, const std::string& archive_path, git_oid* out) {
  UniqueFd root{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (root.get() < 0) {
    if (errno == ENOENT) return false;
    throw_errno("opening", dir, errno);
  }
  bool has = write_dir_fd(root.get(), root.get(), "", archive_path, 0, out);
  return has;
}

bool TreeWriter::write_dir_fd(int root_fd, int dir_fd, const std::string& rel,
                              const std::string& archive_path, int depth, git_oid* out) {
  if (depth > kMaxDepth) {
    throw Error(ErrorCode::kIoError,
                fmt::format("{}: deeper than {} directories", archive_path, kMaxDepth));
  }
  git_treebuilder* tb_raw = nullptr;
  check(git_treebuilder_new(&tb_raw, repo_, nullptr), "creating a tree");
  TreeBuilderPtr tb(tb_raw);

  for (const std::string& name : list_names(dir_fd, archive_path)) {
    const std::string child_rel = join(rel, name);
    const std::string child_archive = archive_path + "/" + name;
    if (is_dot_git(name)) {
      skip(child_archive, "git metadata (.git) is never archived");
      continue;
    }
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      // Deleted under us by a later WAL entry, which replay will apply again.
      if (errno == ENOENT) continue;
      throw_errno("stat", child_archive, errno);
    }
    git_oid oid;
    git_filemode_t mode;
    uint64_t bytes = 0;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub{::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (sub.get() < 0) {
        if (errno == ENOENT) continue;
        throw_errno("opening", child_archive, errno);
      }
      const size_t empties_before = stats_.empty_dirs.size();
      if (!write_dir_fd(root_fd, sub.get(), child_rel, child_archive, depth + 1, &oid)) {
        // Only the deepest empty directories: restoring them makes the rest.
        if (stats_.empty_dirs.size() == empties_before) stats_.empty_dirs.push_back(child_archive);
        continue;
      }
      mode = GIT_FILEMODE_TREE;
    } else if (S_ISREG(st.st_mode)) {
      if (static_cast<uint64_t>(st.st_size) > max_file_bytes_) {
        skip(child_archive, fmt::format("{} bytes, larger than GIT_ARCHIVE_MAX_FILE_BYTES ({})",
                                        st.st_size, max_file_bytes_));
        continue;
      }
      if (!add_file(dir_fd, name, child_archive, &oid, &bytes)) continue;
      mode = (st.st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        if (errno == ENOENT) continue;
        throw_errno("readlink", child_archive, errno);
      }
      target.resize(static_cast<size_t>(n));
      if (!symlink_target_inside(rel, target) ||
          resolve_beneath(root_fd, child_rel) == Resolution::kOutside) {
        skip(child_archive, fmt::format("symlink to '{}' leaves {}", target,
                                        archive_path.substr(0, archive_path.find('/'))));
        continue;
      }
      check(git_odb_write(&oid, odb_.get(), target.data(), target.size(), GIT_OBJECT_BLOB),
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

bool TreeWriter::add_file(int dir_fd, const std::string& name, const std::string& archive_path,
                          git_oid* out, uint64_t* bytes) {
  UniqueFd f{::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
  if (f.get() < 0) {
    if (errno == ENOENT) return false;
    throw_errno("opening", archive_path, errno);
  }
  buffer_.clear();
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(f.get(), chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("reading", archive_path, errno);
    }
    if (n == 0) break;
    buffer_.append(chunk, static_cast<size_t>(n));
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
