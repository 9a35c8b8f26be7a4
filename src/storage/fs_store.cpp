// FsCheckpointStorage: a directory as the store.
//
// Metadata (the content's SHA-256, which doubles as the etag, and the user's
// metadata) lives in extended attributes of the object file. They are set on
// the temporary file before the rename that publishes it, so data and
// metadata change in the one atomic step; a sidecar file would need a second
// rename and leave a window where they disagree.
//
// Every key is walked one segment at a time through Dir handles, which never
// follow a symlink, so a symlink planted inside the root cannot lead a key
// outside it. The root is created by the first write: reading a store that
// was never written finds nothing and creates nothing.
#include <algorithm>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "storage/check_probe.h"
#include "storage/local_file.h"
#include "storage/validation.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/hash.h"
#include "strata/storage.h"

namespace strata {

namespace {

constexpr const char* kShaAttr = "user.strata.sha256";
constexpr std::string_view kMetaAttrPrefix = "user.strata.meta.";
constexpr const char* kLockName = ".strata-lock";
constexpr size_t kChunk = 1 << 20;

std::vector<std::string> split(std::string_view key) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t slash = key.find('/', start);
    out.emplace_back(key.substr(start, slash == std::string_view::npos ? key.npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool reserved_name(std::string_view seg) {
  return seg.starts_with(".strata-") || seg.find(kTempMarker) != std::string_view::npos;
}

void validate_fs_key(std::string_view key) {
  validate_key(key);
  for (const auto& seg : split(key)) {
    if (reserved_name(seg)) {
      throw Error(ErrorCode::kInvalidPath,
                  fmt::format("invalid storage key \"{}\": segments starting with \".strata-\" or "
                              "containing \"{}\" are reserved by the filesystem store",
                              key, kTempMarker));
    }
  }
}

// The root as an absolute path, symlinks resolved as far as it exists (it
// may not exist yet). Pure path arithmetic plus realpath of what exists.
std::string absolute_root(const std::string& root) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(root, ec);
  if (ec) p = std::filesystem::absolute(root, ec).lexically_normal();
  std::string out = p.string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// A directory inside the store: the root itself or one opened below it.
struct DirRef {
  std::unique_ptr<Dir> held;
  Dir* dir = nullptr;
  explicit operator bool() const { return dir != nullptr; }
  Dir* operator->() const { return dir; }
};

}  // namespace

struct FsCheckpointStorage::Impl {
  FileSystem& fs;
  std::string root;
  std::mutex mu;  // guards opening the root and the first write's probe
  std::unique_ptr<Dir> root_dir;
  bool probed = false;

  Impl(FileSystem& f, std::string r) : fs(f), root(std::move(r)) {}

  // The root, or nullptr while it does not exist. Once opened it stays.
  Dir* existing_root() {
    std::lock_guard lock(mu);
    if (!root_dir) root_dir = fs.open_dir(root);
    return root_dir.get();
  }

  // The root for a write: created (durably) if missing. Metadata rides in
  // extended attributes, so a file system without them is refused before
  // the first object is written rather than half-way through it.
  Dir& root_for_write() {
    std::lock_guard lock(mu);
    if (!root_dir) {
      create_directories(fs, root);
      root_dir = fs.open_dir(root);
      if (!root_dir) throw_errno("open directory", root, ENOENT);
    }
    if (!probed) {
      auto f = root_dir->open_file(kLockName, OpenMode::kCreateOrOpen);
      try {
        f->set_xattr("user.strata.probe", "1");
      } catch (const Error& e) {
        throw Error(ErrorCode::kConfigInvalid,
                    fmt::format("filesystem store {}: the file system does not support user "
                                "extended attributes, which hold object metadata ({})",
                                root, e.what()));
      }
      probed = true;
    }
    return *root_dir;
  }

  // The directory holding key's last segment (its name in *leaf). Empty when
  // a directory on the way does not exist and create is false.
  DirRef open_parent(Dir& top, std::string_view key, bool create, std::string* leaf) const {
    auto segs = split(key);
    *leaf = segs.back();
    segs.pop_back();
    DirRef cur{nullptr, &top};
    for (const auto& seg : segs) {
      auto next = cur->open_dir(seg);
      if (!next && create) {
        // The new directory entry must be durable before anything below it.
        cur->make_dir(seg);
        cur->sync();
        next = cur->open_dir(seg);
      }
      if (!next) return {};
      cur = DirRef{std::move(next), nullptr};
      cur.dir = cur.held.get();
    }
    return cur;
  }

  // The object file, or nullptr when there is none. A directory under the
  // key is a key prefix, not an object; a symlink or anything but a regular
  // file (a FIFO, a device) is refused without being opened for real.
  std::unique_ptr<File> open_object(std::string_view key) {
    Dir* top = existing_root();
    if (top == nullptr) return nullptr;
    std::string leaf;
    DirRef dir = open_parent(*top, key, false, &leaf);
    if (!dir) return nullptr;
    auto info = dir->stat(leaf);
    if (!info || info->kind == FileKind::kDirectory) return nullptr;
    return dir->open_file(leaf, OpenMode::kRead);
  }

  std::string etag_of(File& f) const {
    if (auto sha = f.get_xattr(kShaAttr); sha && !sha->empty()) return *sha;
    // A file put there by hand: its etag is still the hash of its bytes.
    return stream(f, [](const char*, size_t) {});
  }

  // Reads f to its end, feeding each chunk to fn; returns the SHA-256 hex.
  template <typename Fn>
  static std::string stream(File& f, Fn&& fn) {
    Sha256 h;
    std::vector<char> buf(kChunk);
    for (uint64_t off = 0;;) {
      const size_t n = f.pread(buf.data(), buf.size(), off);
      if (n == 0) break;
      h.update(buf.data(), n);
      fn(buf.data(), n);
      off += n;
    }
    return to_hex(h.finish());
  }

  void check_integrity(File& f, std::string_view key, const std::string& got) const {
    auto want = f.get_xattr(kShaAttr);
    if (want && !want->empty() && *want != got) {
      throw Error(ErrorCode::kStorageIntegrity,
                  fmt::format("read {}/{}: content SHA-256 {} does not match the stored {}", root,
                              key, got, *want));
    }
  }

  // Writes through `fill` (which appends the content and returns its
  // SHA-256) and publishes atomically under the store's lock.
  template <typename Fill>
  void write(std::string_view key, const WriteOptions& options, Fill&& fill) {
    validate_fs_key(key);
    validate_metadata(options.metadata);
    Dir& top = root_for_write();
    auto guard = top.lock(kLockName);
    std::string leaf;
    DirRef dir = open_parent(top, key, true, &leaf);

    if (options.if_absent || options.if_match) {
      auto current = open_object(key);
      if (options.if_absent && current) {
        throw Error(ErrorCode::kStoragePreconditionFailed,
                    fmt::format("write {}/{}: an object already exists under this key", root, key));
      }
      if (options.if_match && (!current || etag_of(*current) != *options.if_match)) {
        throw Error(
            ErrorCode::kStoragePreconditionFailed,
            fmt::format("write {}/{}: {}", root, key,
                        current ? "the object's etag no longer matches" : "no object to match"));
      }
    }

    AtomicFile out(*dir.dir, leaf);
    const std::string sha = fill(out);
    out.file().set_xattr(kShaAttr, sha);
    for (const auto& [name, value] : options.metadata) {
      out.file().set_xattr(std::string(kMetaAttrPrefix) + name, value);
    }
    out.commit();
  }

  void walk(Dir& dir, const std::string& rel, std::string_view prefix,
            std::vector<std::string>* out) const {
    for (const auto& name : dir.list()) {
      if (reserved_name(name)) continue;
      auto info = dir.stat(name);
      if (!info) continue;  // deleted meanwhile
      const std::string key = rel.empty() ? name : rel + "/" + name;
      if (info->kind == FileKind::kDirectory) {
        // Only descend where keys with the prefix can be.
        const std::string as_dir = key + "/";
        if (!(as_dir.starts_with(prefix) || prefix.starts_with(as_dir))) continue;
        std::unique_ptr<Dir> sub;
        try {
          sub = dir.open_dir(name);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kInvalidPath) throw;  // replaced by a symlink meanwhile
        }
        if (sub) walk(*sub, key, prefix, out);
      } else if (info->kind == FileKind::kRegular && key.starts_with(prefix)) {
        out->push_back(key);
      }
    }
  }
};

FsCheckpointStorage::FsCheckpointStorage(std::string root, FileSystem& fs) {
  if (root.empty()) throw Error(ErrorCode::kConfigInvalid, "filesystem store: empty root path");
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  root_ = absolute_root(root);
  impl_ = std::make_unique<Impl>(fs, root_);
}

FsCheckpointStorage::~FsCheckpointStorage() = default;

std::string FsCheckpointStorage::describe() const {
  return "file://" + root_;
}

bool FsCheckpointStorage::is_available() {
  try {
    if (Dir* top = impl_->existing_root()) return top->accessible();
    // Not written yet: available if the first write can create it.
    std::string cur = parent_path(root_);
    while (true) {
      if (auto dir = impl_->fs.open_dir(cur)) return dir->accessible();
      if (cur == "/") return false;
      cur = parent_path(cur);
    }
  } catch (const Error&) {
    return false;
  }
}

std::optional<std::string> FsCheckpointStorage::read_file(std::string_view key) {
  validate_fs_key(key);
  auto f = impl_->open_object(key);
  if (!f) return std::nullopt;
  std::string data;
  std::string sha = Impl::stream(*f, [&](const char* p, size_t n) { data.append(p, n); });
  impl_->check_integrity(*f, key, sha);
  return data;
}

bool FsCheckpointStorage::read_file_to(std::string_view key, const std::string& local_path) {
  validate_fs_key(key);
  auto f = impl_->open_object(key);
  if (!f) return false;
  AtomicFile out(impl_->fs, local_path);
  std::string sha =
      Impl::stream(*f, [&](const char* p, size_t n) { out.append(std::string_view(p, n)); });
  impl_->check_integrity(*f, key, sha);
  out.commit();
  return true;
}

bool FsCheckpointStorage::stream_file(std::string_view key, const ByteSink& sink) {
  validate_fs_key(key);
  auto f = impl_->open_object(key);
  if (!f) return false;
  std::string sha = Impl::stream(*f, [&](const char* p, size_t n) { sink(p, n); });
  impl_->check_integrity(*f, key, sha);
  return true;
}

void FsCheckpointStorage::write_file(std::string_view key, std::string_view data,
                                     const WriteOptions& options) {
  impl_->write(key, options, [&](AtomicFile& out) {
    out.append(data);
    return sha256_hex(data);
  });
}

void FsCheckpointStorage::write_file_from(std::string_view key, const std::string& local_path,
                                          const WriteOptions& options) {
  storage::LocalFile in = storage::LocalFile::open_read(impl_->fs, local_path);
  impl_->write(key, options, [&](AtomicFile& out) {
    return Impl::stream(in.file(),
                        [&](const char* p, size_t n) { out.append(std::string_view(p, n)); });
  });
}

void FsCheckpointStorage::delete_file(std::string_view key) {
  validate_fs_key(key);
  Dir* top = impl_->existing_root();
  if (top == nullptr) return;  // nothing was ever written
  auto guard = top->lock(kLockName);
  // Every directory on the way, so the ones this delete empties can go.
  auto segs = split(key);
  const std::string leaf = segs.back();
  segs.pop_back();
  std::vector<std::unique_ptr<Dir>> chain;
  Dir* cur = top;
  for (const auto& seg : segs) {
    auto next = cur->open_dir(seg);
    if (!next) return;
    cur = next.get();
    chain.push_back(std::move(next));
  }
  auto info = cur->stat(leaf);
  if (!info || info->kind == FileKind::kDirectory) return;  // missing, or a prefix
  cur->remove_file(leaf);
  cur->sync();
  // Directories exist only to hold keys; drop the ones this delete emptied.
  for (size_t i = segs.size(); i-- > 0;) {
    chain.pop_back();
    Dir& parent = i == 0 ? *top : *chain.back();
    if (!parent.remove_dir(segs[i])) break;
  }
}

std::vector<std::string> FsCheckpointStorage::list_files(std::string_view prefix) {
  if (!prefix.empty()) {
    std::string_view body = prefix.back() == '/' ? prefix.substr(0, prefix.size() - 1) : prefix;
    validate_key(body);
  }
  std::vector<std::string> out;
  if (Dir* top = impl_->existing_root()) impl_->walk(*top, "", prefix, &out);
  std::sort(out.begin(), out.end());
  return out;
}

bool FsCheckpointStorage::verify_checksum(std::string_view key, std::string_view sha256_hex) {
  validate_fs_key(key);
  auto f = impl_->open_object(key);
  if (!f) return false;
  std::string got = Impl::stream(*f, [](const char*, size_t) {});
  std::string want(sha256_hex);
  for (char& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return got == want;
}

std::optional<ObjectStat> FsCheckpointStorage::stat(std::string_view key) {
  validate_fs_key(key);
  auto f = impl_->open_object(key);
  if (!f) return std::nullopt;
  const FileInfo info = f->info();
  ObjectStat out;
  out.size = info.size;
  out.mtime = info.mtime;
  out.etag = impl_->etag_of(*f);
  out.metadata["sha256"] = out.etag;
  for (const auto& name : f->list_xattrs()) {
    if (name.starts_with(kMetaAttrPrefix)) {
      out.metadata[name.substr(kMetaAttrPrefix.size())] = f->get_xattr(name).value_or("");
    }
  }
  return out;
}

std::vector<CheckResult> FsCheckpointStorage::check() {
  std::vector<CheckResult> out;
  if (!is_available()) {
    out.push_back({"reachable", false, root_ + ": not a readable and writable directory"});
    return out;
  }
  out.push_back({"reachable", true, root_});
  storage::check_probe_round_trip(*this, out);
  return out;
}

}  // namespace strata
