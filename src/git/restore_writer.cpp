#include "git/restore_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "git/git_util.h"
#include "git/path_rules.h"
#include "strata/error.h"
#include "strata/fs.h"

namespace strata::git {

namespace {

constexpr int kMaxDepth = 256;

[[noreturn]] void refuse(const std::string& commit, const std::string& path,
                         const std::string& why) {
  throw Error(ErrorCode::kInvalidPath,
              fmt::format("snapshot {} holds '{}': {}; refusing to restore it",
                          commit.substr(0, 12), path, why));
}

struct PendingLink {
  std::string dir_rel;  // directory relative to the staging root
  std::string name;
  std::string target;
};

class Writer {
 public:
  Writer(git_repository* repo, const std::string& commit, int root_fd)
      : repo_(repo), commit_(commit), root_fd_(root_fd) {}

  void write_tree(const git_tree* tree, int dir_fd, const std::string& rel, int depth) {
    if (depth > kMaxDepth)
      refuse(commit_, rel, fmt::format("deeper than {} directories", kMaxDepth));
    size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n; ++i) {
      const git_tree_entry* e = git_tree_entry_byindex(tree, i);
      const std::string name = git_tree_entry_name(e);
      const std::string path = rel.empty() ? name : rel + "/" + name;
      if (auto why = bad_component(name)) refuse(commit_, path, *why);
      const git_filemode_t mode = git_tree_entry_filemode(e);
      switch (mode) {
        case GIT_FILEMODE_TREE: {
          if (::mkdirat(dir_fd, name.c_str(), 0755) != 0) {
            if (errno == EEXIST) refuse(commit_, path, "a duplicate name");
            throw_errno("mkdir", path, errno);
          }
          UniqueFd sub(
              ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
          if (sub.get() < 0) throw_errno("opening", path, errno);
          git_tree* child = nullptr;
          check(git_tree_lookup(&child, repo_, git_tree_entry_id(e)), "reading tree " + path);
          TreePtr owner(child);
          write_tree(child, sub.get(), path, depth + 1);
          break;
        }
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE: {
          BlobPtr blob = lookup_blob(e, path);
          write_file(dir_fd, name, path, blob.get(),
                     mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
          if (!(rel.empty() && name == kManifestName)) {
            stats_.files++;
            stats_.bytes += static_cast<uint64_t>(git_blob_rawsize(blob.get()));
          }
          break;
        }
        case GIT_FILEMODE_LINK: {
          BlobPtr blob = lookup_blob(e, path);
          std::string target(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                             static_cast<size_t>(git_blob_rawsize(blob.get())));
          if (target.find('\0') != std::string::npos || !symlink_target_inside(rel, target)) {
            refuse(commit_, path, fmt::format("a symlink to '{}' leaving the target", target));
          }
          links_.push_back({rel, name, std::move(target)});
          stats_.files++;
          break;
        }
        case GIT_FILEMODE_COMMIT:
          refuse(commit_, path, "a submodule");
        default:
          refuse(commit_, path, fmt::format("an unknown file mode {:o}", static_cast<int>(mode)));
      }
    }
  }

  // Directories git could not hold, recorded in the manifest.
  void make_dir_path(const std::string& path) {
    UniqueFd cur(::dup(root_fd_));
    size_t start = 0;
    while (start < path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      std::string part = path.substr(start, end - start);
      if (auto why = bad_component(part)) refuse(commit_, path, "an empty directory with " + *why);
      if (::mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
        throw_errno("mkdir", path, errno);
      UniqueFd next(
          ::openat(cur.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (next.get() < 0) refuse(commit_, path, "an empty directory whose path is not a directory");
      std::swap(cur, next);
      start = end + 1;
    }
  }

  void make_links() {
    for (const auto& l : links_) {
      UniqueFd dir(l.dir_rel.empty() ? ::dup(root_fd_)
                                     : ::openat(root_fd_, l.dir_rel.c_str(),
                                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      const std::string path = l.dir_rel.empty() ? l.name : l.dir_rel + "/" + l.name;
      if (dir.get() < 0) throw_errno("opening", l.dir_rel, errno);
      if (::symlinkat(l.target.c_str(), dir.get(), l.name.c_str()) != 0) {
        if (errno == EEXIST) refuse(commit_, path, "a duplicate name");
        throw_errno("symlink", path, errno);
      }
    }
    // Only now that all links exist can chains of them be judged.
    for (const auto& l : links_) {
      const std::string path = l.dir_rel.empty() ? l.name : l.dir_rel + "/" + l.name;
      if (resolve_beneath(root_fd_, path) == Resolution::kOutside) {
        refuse(commit_, path,
               fmt::format("a symlink to '{}' that resolves outside the target", l.target));
      }
    }
  }

  const RestoreStats& stats() const { return stats_; }

 private:
  BlobPtr lookup_blob(const git_tree_entry* e, const std::string& path) {
    if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
      refuse(commit_, path, "a blob mode on a non-blob");
    git_blob* blob = nullptr;
    check(git_blob_lookup(&blob, repo_, git_tree_entry_id(e)), "reading blob " + path);
    return BlobPtr(blob);
  }

  void write_file(int dir_fd, const std::string& name, const std::string& path,
                  const git_blob* blob, mode_t perm) {
    UniqueFd f(
        ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm));
    if (f.get() < 0) {
      if (errno == EEXIST) refuse(commit_, path, "a duplicate name");
      throw_errno("creating", path, errno);
    }
    const char* p = static_cast<const char*>(git_blob_rawcontent(blob));
    size_t left = static_cast<size_t>(git_blob_rawsize(blob));
    while (left > 0) {
      ssize_t n = ::write(f.get(), p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("writing", path, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    // The umask must not change what the archive says.
    if (::fchmod(f.get(), perm) != 0) throw_errno("chmod", path, errno);
  }

  git_repository* repo_;
  const std::string& commit_;
  int root_fd_;
  std::vector<PendingLink> links_;
  RestoreStats stats_;
};

}  // namespace

RestoreStats write_tree(git_repository* repo, const git_tree* tree, const Manifest& manifest,
                        const std::string& target_dir, const std::string& commit_hex) {
  namespace sfs = std::filesystem;
  const sfs::path target = sfs::absolute(target_dir).lexically_normal();
  sfs::path clean = target;
  if (!clean.has_filename()) clean = clean.parent_path();
  struct stat st;
  if (::lstat(clean.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("restore target {} exists and is not a directory", target_dir));
    }
    if (!sfs::is_empty(clean)) {
      throw Error(
          ErrorCode::kInvalidArgument,
          fmt::format("restore target {} is not empty; restore into a new directory", target_dir));
    }
  } else if (errno != ENOENT) {
    throw_errno("stat", target_dir, errno);
  }
  const sfs::path parent = clean.parent_path();
  FileSystem::real().make_dirs(parent.string());

  std::string tmpl = (parent / ("." + clean.filename().string() + ".restore-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw_errno("creating a staging directory in", parent.string(), errno);
  const std::string staging = tmpl;
  try {
    UniqueFd root(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (root.get() < 0) throw_errno("opening", staging, errno);
    if (::fchmod(root.get(), 0755) != 0) throw_errno("chmod", staging, errno);
    Writer w(repo, commit_hex, root.get());
    w.write_tree(tree, root.get(), "", 0);
    for (const auto& src : manifest.sources) w.make_dir_path(src);
    for (const auto& dir : manifest.empty_dirs) w.make_dir_path(dir);
    w.make_links();
    RestoreStats stats = w.stats();
    if (stats.files != manifest.file_count || stats.bytes != manifest.total_bytes) {
      throw Error(ErrorCode::kGitError,
                  fmt::format("snapshot {} does not match its manifest: {} files / {} bytes found, "
                              "{} / {} claimed",
                              commit_hex.substr(0, 12), stats.files, stats.bytes,
                              manifest.file_count, manifest.total_bytes));
    }
    // One syncfs instead of an fsync per file, before the rename publishes them.
    FileSystem::real().sync_filesystem(staging);
    if (::rename(staging.c_str(), clean.c_str()) != 0)
      throw_errno("renaming the restored tree to", clean.string(), errno);
    FileSystem::real().sync_dir(parent.string());
    return stats;
  } catch (...) {
    std::error_code ec;
    sfs::remove_all(staging, ec);  // does not follow symlinks
    throw;
  }
}

}  // namespace strata::git
