// Restore writes through Dir handles of the file-system seam: every name is
// created relative to its parent's descriptor and never followed, so a tree
// crafted to escape (symlinks, "..", duplicate names) cannot write outside
// the staging directory, and tests can fail any call of it.
#include "git/restore_writer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "git/git_util.h"
#include "git/path_rules.h"
#include "strata/error.h"
#include "strata/fs.h"

namespace strata::git {

namespace {

constexpr int kMaxDepth = 256;
constexpr size_t kChunk = 1 << 16;

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

using OdbStreamPtr = Handle<git_odb_stream, git_odb_stream_free>;

// Git's object id of a blob, computed while its bytes stream past, so a
// streamed object is checked as git_odb_read would check it.
class BlobHasher {
 public:
  explicit BlobHasher(uint64_t size) : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha1(), nullptr) != 1) {
      throw Error(ErrorCode::kInternal, "SHA-1 is not available from OpenSSL");
    }
    const std::string header = fmt::format("blob {}", size);
    update(header.data(), header.size() + 1);  // with its NUL
  }
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  bool matches(const git_oid& oid) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    return len == GIT_OID_RAWSZ && std::equal(md, md + len, oid.id);
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

class Writer {
 public:
  Writer(git_repository* repo, const std::string& commit, Dir& root, uint64_t max_file_bytes)
      : repo_(repo), commit_(commit), root_(root), max_file_bytes_(max_file_bytes) {
    git_odb* odb = nullptr;
    check(git_repository_odb(&odb, repo_), "opening the object database");
    odb_.reset(odb);
  }

  void write_tree(const git_tree* tree, Dir& dir, const std::string& rel, int depth) {
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
          if (!dir.make_dir(name, 0755)) refuse(commit_, path, "a duplicate name");
          auto sub = dir.open_dir(name);
          if (!sub) throw_errno("opening", path, ENOENT);
          git_tree* child = nullptr;
          check(git_tree_lookup(&child, repo_, git_tree_entry_id(e)), "reading tree " + path);
          TreePtr owner(child);
          write_tree(child, *sub, path, depth + 1);
          break;
        }
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE: {
          const uint64_t size = blob_size(e, path);
          const bool manifest = rel.empty() && name == kManifestName;
          if (!manifest && size > max_file_bytes_) {
            throw Error(ErrorCode::kEntryTooLarge,
                        fmt::format("snapshot {} holds '{}' of {} bytes, larger than "
                                    "GIT_ARCHIVE_MAX_FILE_BYTES ({}); refusing to restore it (set "
                                    "GIT_ARCHIVE_MAX_FILE_BYTES higher to allow it)",
                                    commit_.substr(0, 12), path, size, max_file_bytes_));
          }
          write_file(dir, name, path, *git_tree_entry_id(e), size,
                     mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
          if (!manifest) {
            stats_.files++;
            stats_.bytes += size;
          }
          break;
        }
        case GIT_FILEMODE_LINK: {
          if (blob_size(e, path) > kMaxLinkTarget) {
            refuse(commit_, path, "a symlink with a target longer than 4096 bytes");
          }
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
    std::unique_ptr<Dir> cur;
    size_t start = 0;
    while (start < path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      std::string part = path.substr(start, end - start);
      if (auto why = bad_component(part)) refuse(commit_, path, "an empty directory with " + *why);
      Dir& parent = cur ? *cur : root_;
      parent.make_dir(part, 0755);  // false: it exists, checked by opening it
      auto info = parent.stat(part);
      if (!info || info->kind != FileKind::kDirectory) {
        refuse(commit_, path, "an empty directory whose path is not a directory");
      }
      cur = parent.open_dir(part);
      if (!cur) refuse(commit_, path, "an empty directory whose path is not a directory");
      start = end + 1;
    }
  }

  void make_links() {
    for (const auto& l : links_) {
      const std::string path = l.dir_rel.empty() ? l.name : l.dir_rel + "/" + l.name;
      std::unique_ptr<Dir> below = l.dir_rel.empty() ? nullptr : open_rel(l.dir_rel);
      Dir& dir = below ? *below : root_;
      if (!dir.make_symlink(l.target, l.name)) refuse(commit_, path, "a duplicate name");
    }
    // Only now that all links exist can chains of them be judged.
    for (const auto& l : links_) {
      const std::string path = l.dir_rel.empty() ? l.name : l.dir_rel + "/" + l.name;
      if (root_.resolve_beneath(path) == Resolution::kOutside) {
        refuse(commit_, path,
               fmt::format("a symlink to '{}' that resolves outside the target", l.target));
      }
    }
  }

  const RestoreStats& stats() const { return stats_; }

 private:
  static constexpr uint64_t kMaxLinkTarget = 4096;

  // A directory below the root (rel not empty), walked one component at a
  // time, so never through a symlink.
  std::unique_ptr<Dir> open_rel(const std::string& rel) {
    std::unique_ptr<Dir> cur;
    size_t start = 0;
    while (start < rel.size()) {
      size_t end = rel.find('/', start);
      if (end == std::string::npos) end = rel.size();
      Dir& parent = cur ? *cur : root_;
      auto next = parent.open_dir(rel.substr(start, end - start));
      if (!next) throw_errno("opening", rel, ENOENT);
      cur = std::move(next);
      start = end + 1;
    }
    return cur;
  }

  // The blob's size from its object header, without reading its content.
  uint64_t blob_size(const git_tree_entry* e, const std::string& path) {
    if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
      refuse(commit_, path, "a blob mode on a non-blob");
    size_t size = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    check(git_odb_read_header(&size, &type, odb_.get(), git_tree_entry_id(e)),
          "reading blob " + path);
    if (type != GIT_OBJECT_BLOB) refuse(commit_, path, "a blob entry naming a non-blob object");
    return size;
  }

  BlobPtr lookup_blob(const git_tree_entry* e, const std::string& path) {
    git_blob* blob = nullptr;
    check(git_blob_lookup(&blob, repo_, git_tree_entry_id(e)), "reading blob " + path);
    return BlobPtr(blob);
  }

  void write_file(Dir& dir, const std::string& name, const std::string& path, const git_oid& oid,
                  uint64_t size, uint32_t perm) {
    auto f = dir.open_file(name, OpenMode::kCreate, perm);
    if (!f) refuse(commit_, path, "a duplicate name");
    uint64_t written = 0;
    auto put = [&](const void* p, size_t n) {
      f->pwrite(p, n, written);
      written += n;
    };
    // Loose objects stream in chunks; packed ones (what a fetch brings) can
    // only be read whole, which the size check above has bounded.
    git_odb_stream* raw = nullptr;
    size_t len = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (git_odb_open_rstream(&raw, &len, &type, odb_.get(), &oid) == 0) {
      OdbStreamPtr stream(raw);
      if (type != GIT_OBJECT_BLOB || len != size) {
        refuse(commit_, path, "an object whose header changed while read");
      }
      BlobHasher hash(size);
      std::vector<char> buf(kChunk);
      while (written < size) {
        int n = git_odb_stream_read(stream.get(), buf.data(), buf.size());
        check(n, "reading blob " + path);
        if (n == 0) break;
        hash.update(buf.data(), static_cast<size_t>(n));
        put(buf.data(), static_cast<size_t>(n));
      }
      if (written != size || !hash.matches(oid)) {
        throw Error(ErrorCode::kGitError,
                    fmt::format("blob {} of {} is corrupt in the object database",
                                oid_hex(oid).substr(0, 12), path));
      }
    } else {
      git_error_clear();
      git_blob* blob = nullptr;
      check(git_blob_lookup(&blob, repo_, &oid), "reading blob " + path);
      BlobPtr owner(blob);
      const auto* p = static_cast<const char*>(git_blob_rawcontent(blob));
      const auto n = static_cast<uint64_t>(git_blob_rawsize(blob));
      for (uint64_t off = 0; off < n; off += kChunk)
        put(p + off, std::min<uint64_t>(kChunk, n - off));
    }
    // The umask must not change what the archive says.
    f->set_mode(perm);
  }

  git_repository* repo_;
  OdbPtr odb_;
  const std::string& commit_;
  Dir& root_;
  uint64_t max_file_bytes_;
  std::vector<PendingLink> links_;
  RestoreStats stats_;
};

}  // namespace

RestoreStats write_tree(git_repository* repo, const git_tree* tree, const Manifest& manifest,
                        const std::string& target_dir, const std::string& commit_hex,
                        uint64_t max_file_bytes, FileSystem& fs) {
  std::string clean = target_dir;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  const std::string parent = parent_path(clean);
  const std::string leaf = base_name(clean);
  if (leaf.empty() || leaf == "." || leaf == "..") {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("restore target {}: name a new directory to restore into", target_dir));
  }
  create_directories(fs, parent);
  auto parent_dir = fs.open_dir(parent);
  if (!parent_dir) throw_errno("open directory", parent, ENOENT);
  bool target_existed = false;
  if (auto info = parent_dir->stat(leaf)) {
    target_existed = true;
    if (info->kind != FileKind::kDirectory) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("restore target {} exists and is not a directory", target_dir));
    }
    auto existing = parent_dir->open_dir(leaf);
    if (!existing || !existing->list().empty()) {
      throw Error(
          ErrorCode::kInvalidArgument,
          fmt::format("restore target {} is not empty; restore into a new directory", target_dir));
    }
  }

  const std::string staging = make_temp_dir(*parent_dir, "." + leaf + ".restore-", 0700);
  bool renamed = false;
  try {
    auto root = parent_dir->open_dir(staging);
    if (!root) throw_errno("opening", parent + "/" + staging, ENOENT);
    root->set_mode(0755);
    Writer w(repo, commit_hex, *root, max_file_bytes);
    w.write_tree(tree, *root, "", 0);
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
    root->sync_filesystem();
    root.reset();
    parent_dir->rename(staging, *parent_dir, leaf);
    renamed = true;
    parent_dir->sync();
    return stats;
  } catch (...) {
    // A failed restore leaves what was there before: no staging directory,
    // and no restored tree whose rename may not be durable.
    try {
      if (renamed) {
        remove_tree(*parent_dir, leaf);
        if (target_existed) parent_dir->make_dir(leaf);
      } else {
        remove_tree(*parent_dir, staging);
      }
    } catch (...) {
      // The original failure is what the caller needs to hear about.
    }
    throw;
  }
}

}  // namespace strata::git
