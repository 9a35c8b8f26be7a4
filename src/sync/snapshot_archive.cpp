#include "sync/snapshot_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/entry.h"
#include "strata/error.h"
#include "strata/hash.h"

namespace strata::sync {

namespace {

constexpr size_t kChunk = 256 * 1024;
constexpr uint64_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxListLine = 8 * 1024;

struct ArchiveDeleter {
  void operator()(struct archive* a) const;
};
void ArchiveDeleter::operator()(struct archive* a) const {
  // Both free functions accept either kind; the magic number tells them apart.
  archive_free(a);
}
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

std::string rfc3339_ms(uint64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string join(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

// ---------------------------------------------------------------- writing

class SnapshotWriter {
 public:
  SnapshotWriter(AtomicFile& out, const SnapshotWriteOptions& options, SnapshotWriteResult& result)
      : out_(out),
        result_(result),
        mtime_s_(result.meta.created_ms / 1000),
        a_(archive_write_new()) {
    if (!a_) throw Error(ErrorCode::kInternal, "libarchive: out of memory");
    check(archive_write_set_format_pax_restricted(a_.get()), "setting the tar format");
    check(archive_write_add_filter_zstd(a_.get()), "adding the zstd filter");
    check(archive_write_set_filter_option(a_.get(), "zstd", "compression-level",
                                          std::to_string(options.zstd_level).c_str()),
          "setting the zstd level");
    // No zero padding after the compressed stream.
    check(archive_write_set_bytes_in_last_block(a_.get(), 1), "setting the block size");
    check(archive_write_open2(a_.get(), this, nullptr, &SnapshotWriter::on_write, nullptr, nullptr),
          "opening the archive");
  }

  void add_bytes(const std::string& name, std::string_view bytes) {
    EntryPtr e = entry(name, AE_IFREG, 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(bytes.size()));
    check(archive_write_header(a_.get(), e.get()), "writing the header of " + name);
    write_data(bytes.data(), bytes.size(), name);
  }

  // Directories first, then their contents, in name order, so the same
  // state gives the same archive. Symlinks are never followed: the seam's
  // Dir refuses them where a file or directory is expected.
  void add_tree(Dir& dir, const std::string& rel) {
    for (const std::string& name : dir.list()) {
      const std::string path = join(rel, name);
      const std::optional<FileInfo> info = dir.stat(name);
      if (!info) continue;  // removed while walking: not part of the state
      if (info->kind != FileKind::kDirectory && info->kind != FileKind::kRegular) {
        skip(path,
             info->kind == FileKind::kSymlink ? "a symlink" : "not a regular file or directory");
        continue;
      }
      try {
        validate_entry_path(path);
      } catch (const Error& e) {
        skip(path, e.what());
        continue;
      }
      if (info->kind == FileKind::kDirectory) {
        std::unique_ptr<Dir> sub;
        try {
          sub = dir.open_dir(name);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kInvalidPath) throw;
          skip(path, e.what());  // swapped for something else since the stat
          continue;
        }
        if (!sub) continue;
        add_dir(std::string(kSnapshotStatePrefix) + path);
        add_tree(*sub, path);
      } else {
        add_file(dir, name, path);
      }
    }
  }

  void add_dir(const std::string& name) {
    EntryPtr e = entry(name, AE_IFDIR, 0755);
    check(archive_write_header(a_.get(), e.get()), "writing the header of " + name);
    result_.directories++;
  }

  void finish() {
    add_bytes(std::string(kSnapshotFileListName), list_);
    check(archive_write_close(a_.get()), "finishing the archive");
  }

  std::string archive_sha256() const { return to_hex(sha_.finish()); }

 private:
  static la_ssize_t on_write(struct archive*, void* self, const void* buf, size_t n) {
    auto* w = static_cast<SnapshotWriter*>(self);
    try {
      w->out_.append(std::string_view(static_cast<const char*>(buf), n));
      w->sha_.update(buf, n);
      w->result_.archive_bytes += n;
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      w->failure_ = std::current_exception();
      return -1;
    }
  }

  void check(int rc, const std::string& what) {
    if (rc == ARCHIVE_OK) return;
    if (failure_) std::rethrow_exception(failure_);
    const char* msg = archive_error_string(a_.get());
    throw Error(ErrorCode::kIoError,
                fmt::format("snapshot archive: {}: {}", what, msg ? msg : "libarchive error"));
  }

  EntryPtr entry(const std::string& name, unsigned type, unsigned perm) {
    EntryPtr e(archive_entry_new());
    if (!e) throw Error(ErrorCode::kInternal, "libarchive: out of memory");
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_mtime(e.get(), static_cast<time_t>(mtime_s_), 0);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    return e;
  }

  void write_data(const void* p, size_t n, const std::string& name) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      la_ssize_t w = archive_write_data(a_.get(), c, n);
      if (w <= 0) check(ARCHIVE_FATAL, "writing " + name);
      c += w;
      n -= static_cast<size_t>(w);
    }
  }

  void add_file(Dir& dir, const std::string& name, const std::string& path) {
    std::unique_ptr<File> f;
    try {
      f = dir.open_file(name, OpenMode::kRead);  // never blocks on a FIFO swapped in
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kInvalidPath) throw;
      return skip(path, e.what());
    }
    if (!f) return;
    const uint64_t size = f->info().size;
    const std::string member = std::string(kSnapshotStatePrefix) + path;
    EntryPtr e = entry(member, AE_IFREG, 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    check(archive_write_header(a_.get(), e.get()), "writing the header of " + member);
    Sha256 sha;
    std::vector<char> buf(
        static_cast<size_t>(std::min<uint64_t>(kChunk, std::max<uint64_t>(size, 1))));
    uint64_t done = 0;
    while (done < size) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
      const size_t n = f->pread(buf.data(), want, done);
      if (n == 0) {
        throw Error(
            ErrorCode::kIoError,
            fmt::format("snapshot archive: {} shrank from {} to {} bytes while it was read; "
                        "the state directory must not change during a snapshot",
                        path, size, done));
      }
      sha.update(buf.data(), n);
      write_data(buf.data(), n, member);
      done += n;
    }
    list_ +=
        nlohmann::json{{"path", path}, {"size", size}, {"sha256", to_hex(sha.finish())}}.dump();
    list_ += '\n';
    result_.files++;
    result_.content_bytes += size;
  }

  void skip(const std::string& path, std::string reason) {
    result_.skipped.push_back({path, std::move(reason)});
  }

  AtomicFile& out_;
  SnapshotWriteResult& result_;
  uint64_t mtime_s_;
  ArchivePtr a_;
  Sha256 sha_;
  std::string list_;
  std::exception_ptr failure_;
};

// ---------------------------------------------------------------- reading

[[noreturn]] void invalid(const std::string& what) {
  throw Error(ErrorCode::kSnapshotInvalid, "snapshot refused: " + what);
}

[[noreturn]] void refuse_member(const std::string& member, const std::string& why) {
  throw Error(ErrorCode::kInvalidPath,
              fmt::format("snapshot refused: member '{}' is {}", member, why));
}

std::string file_type_name(archive_entry* e) {
  switch (archive_entry_filetype(e)) {
    case AE_IFLNK: {
      const char* t = archive_entry_symlink(e);
      return fmt::format("a symlink (to '{}')", t ? t : "?");
    }
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a FIFO";
    case AE_IFSOCK:
      return "a socket";
    default:
      return fmt::format("of unknown type {:o}", archive_entry_filetype(e));
  }
}

SnapshotMeta parse_header(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    invalid(fmt::format("{} is not JSON: {}", kSnapshotHeaderName, e.what()));
  }
  auto need = [&](const char* key) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(key))
      invalid(fmt::format("{} has no '{}'", kSnapshotHeaderName, key));
    return j[key];
  };
  if (need("format") != "strata-snapshot")
    invalid(fmt::format("{} is not a strata snapshot header (format {})", kSnapshotHeaderName,
                        need("format").dump()));
  const auto& v = need("version");
  if (!v.is_number_unsigned() || v.get<uint64_t>() == 0)
    invalid(fmt::format("{} has a bad version {}", kSnapshotHeaderName, v.dump()));
  if (v.get<uint64_t>() > kSnapshotFormatVersion) {
    invalid(
        fmt::format("snapshot format version {} is from the future; this strata reads up to "
                    "version {}: upgrade strata to restore it",
                    v.get<uint64_t>(), kSnapshotFormatVersion));
  }
  SnapshotMeta m;
  m.version = static_cast<uint32_t>(v.get<uint64_t>());
  const auto& seq = need("seq");
  const auto& lineage = need("lineage");
  const auto& created = need("created_ms");
  if (!seq.is_number_unsigned())
    invalid(fmt::format("{}: 'seq' is not a seq", kSnapshotHeaderName));
  if (!lineage.is_string())
    invalid(fmt::format("{}: 'lineage' is not a string", kSnapshotHeaderName));
  if (!created.is_number_unsigned())
    invalid(fmt::format("{}: 'created_ms' is not a time", kSnapshotHeaderName));
  m.seq = seq.get<uint64_t>();
  m.lineage_id = lineage.get<std::string>();
  m.created_ms = created.get<uint64_t>();
  m.created_at = rfc3339_ms(m.created_ms);
  return m;
}

class SnapshotReader {
 public:
  SnapshotReader(const ByteSource& source, const SnapshotReadOptions& options)
      : source_(source), options_(options), buf_(kChunk), a_(archive_read_new()) {
    if (!a_) throw Error(ErrorCode::kInternal, "libarchive: out of memory");
    // Only what a snapshot can be: tar (ustar, pax, GNU), zstd or uncompressed.
    archive_read_support_filter_zstd(a_.get());
    archive_read_support_format_tar(a_.get());
    if (archive_read_open2(a_.get(), this, nullptr, &SnapshotReader::on_read, nullptr, nullptr) !=
        ARCHIVE_OK) {
      fail("opening");
    }
  }

  // The next member, or nullptr at the end of the archive.
  archive_entry* next(const char* after) {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a_.get(), &e);
    if (rc == ARCHIVE_EOF) return nullptr;
    if (rc != ARCHIVE_OK) fail(fmt::format("reading the member after {}", after));
    return e;
  }

  // Streams the current member's data to fn (chunks of at most kChunk).
  template <typename Fn>
  uint64_t read_data(const std::string& member, Fn&& fn) {
    uint64_t total = 0;
    while (true) {
      la_ssize_t n = archive_read_data(a_.get(), buf_.data(), buf_.size());
      if (n == 0) return total;
      if (n < 0) fail("reading " + member);
      fn(buf_.data(), static_cast<size_t>(n));
      total += static_cast<uint64_t>(n);
    }
  }

  std::string read_small(const std::string& member, uint64_t limit) {
    std::string out;
    read_data(member, [&](const char* p, size_t n) {
      if (out.size() + n > limit)
        invalid(fmt::format("member '{}' is larger than {} bytes", member, limit));
      out.append(p, n);
    });
    return out;
  }

  // Reads what follows the tar end marker so the SHA-256 covers every byte.
  void drain() {
    while (pull() > 0) {
    }
  }

  uint64_t bytes_in() const { return bytes_in_; }
  std::string sha256() const { return to_hex(sha_.finish()); }

 private:
  static la_ssize_t on_read(struct archive*, void* self, const void** out) {
    auto* r = static_cast<SnapshotReader*>(self);
    try {
      size_t n = r->pull();
      *out = r->in_.data();
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      r->failure_ = std::current_exception();
      return -1;
    }
  }

  size_t pull() {
    if (in_.empty()) in_.resize(kChunk);
    size_t n = source_(in_.data(), in_.size());
    if (options_.max_archive_bytes != 0 && bytes_in_ + n > options_.max_archive_bytes) {
      invalid(fmt::format("the archive is larger than the {} bytes declared for it",
                          options_.max_archive_bytes));
    }
    sha_.update(in_.data(), n);
    bytes_in_ += n;
    return n;
  }

  [[noreturn]] void fail(const std::string& what) {
    if (failure_) std::rethrow_exception(failure_);
    if (bytes_in_ == 0) invalid("the archive is empty (0 bytes)");
    const char* msg = archive_error_string(a_.get());
    invalid(fmt::format("{}: not a readable tar/zstd snapshot ({})", what,
                        msg ? msg : "libarchive error"));
  }

  const ByteSource& source_;
  const SnapshotReadOptions& options_;
  std::vector<char> buf_;
  std::vector<char> in_;
  ArchivePtr a_;
  Sha256 sha_;
  uint64_t bytes_in_ = 0;
  std::exception_ptr failure_;
};

// Writes members under a directory this process just created, one
// descriptor-relative step at a time through the seam's Dir, which never
// follows a symlink.
class TreeExtractor {
 public:
  TreeExtractor(Dir& root, const SnapshotReadOptions& options, uint64_t free_bytes)
      : root_(root), options_(options), free_bytes_(free_bytes) {}

  void add_dir(const std::string& member, const std::string& rel) {
    if (!rel.empty()) {
      // A skipped file is not on the disk to stop the directory: the names
      // are checked here instead, so skipping refuses what writing refuses.
      if (files_.contains(rel))
        refuse_member(member, "a directory where an earlier member made a file");
      check_not_under_file(member, rel);
      dir_at(member, rel, /*leaf_is_member=*/true);
    }
    dirs_++;
  }

  void add_file(SnapshotReader& reader, archive_entry* e, const std::string& member,
                const std::string& rel) {
    if (!archive_entry_size_is_set(e)) refuse_member(member, "a file without a size");
    const uint64_t size = static_cast<uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)));
    if (files_.size() + 1 > options_.max_files && options_.max_files != 0)
      invalid(fmt::format("member '{}' is past the limit of {} files", member, options_.max_files));
    if (options_.max_file_bytes != 0 && size > options_.max_file_bytes)
      invalid(fmt::format("member '{}' is {} bytes, more than the limit of {} per file", member,
                          size, options_.max_file_bytes));
    if (options_.max_total_bytes != 0 && bytes_ + size > options_.max_total_bytes)
      invalid(fmt::format("member '{}' takes the content past the limit of {} bytes", member,
                          options_.max_total_bytes));
    if (bytes_ + size + options_.reserve_free_bytes > free_bytes_) {
      throw Error(
          ErrorCode::kDiskFull,
          fmt::format("snapshot refused: member '{}' ({} bytes) does not fit: {} bytes were "
                      "free before the restore, {} written, {} must stay free",
                      member, size, free_bytes_, bytes_, options_.reserve_free_bytes));
    }
    if (files_.contains(rel)) refuse_member(member, "a second member of the same name");
    check_not_under_file(member, rel);
    const bool skip = options_.skip_file && options_.skip_file(rel);
    std::unique_ptr<File> f;
    if (skip) {
      // Where writing would find the directory in the way of the file.
      if (dirs_made_.contains(rel)) refuse_member(member, "a second member of the same name");
      skipped_++;
    } else {
      const size_t slash = rel.rfind('/');
      Dir& dir = slash == std::string::npos ? root_ : dir_at(member, rel.substr(0, slash), false);
      const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
      f = dir.open_file(name, OpenMode::kCreate, 0644);
      if (!f) refuse_member(member, "a second member of the same name");
    }
    Sha256 sha;
    uint64_t at = 0;
    uint64_t written = reader.read_data(member, [&](const char* p, size_t n) {
      sha.update(p, n);
      if (f) f->pwrite(p, n, at);
      at += n;
    });
    if (written != size)
      invalid(fmt::format("member '{}' holds {} bytes, its header says {}", member, written, size));
    if (f) f->set_mode(0644);  // whatever the umask is
    files_.emplace(rel, std::make_pair(size, to_hex(sha.finish())));
    bytes_ += size;
  }

  // Every file matches a line of the list and every line a file.
  void check_list(SnapshotReader& reader, archive_entry* e) {
    const std::string member(kSnapshotFileListName);
    const uint64_t size = static_cast<uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)));
    if (size > (files_.size() + 1) * kMaxListLine)
      invalid(fmt::format("{} is {} bytes, too large for {} files", member, size, files_.size()));
    std::string line;
    std::map<std::string, bool> listed;
    auto take = [&](const std::string& text) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(text);
      } catch (const std::exception& ex) {
        invalid(fmt::format("{} has a line that is not JSON: {}", member, ex.what()));
      }
      if (!j.is_object() || !j.contains("path") || !j["path"].is_string() || !j.contains("size") ||
          !j["size"].is_number_unsigned() || !j.contains("sha256") || !j["sha256"].is_string())
        invalid(fmt::format("{} has a malformed line: {}", member, text.substr(0, 200)));
      const std::string path = j["path"];
      auto it = files_.find(path);
      if (it == files_.end())
        invalid(fmt::format("{} lists '{}', which the snapshot does not hold", member, path));
      if (!listed.emplace(path, true).second)
        invalid(fmt::format("{} lists '{}' twice", member, path));
      if (it->second.first != j["size"].get<uint64_t>() || it->second.second != j["sha256"])
        invalid(fmt::format("member '{}{}' does not match {} (size {} sha256 {}, listed {} {})",
                            kSnapshotStatePrefix, path, member, it->second.first, it->second.second,
                            j["size"].get<uint64_t>(), j["sha256"].get<std::string>()));
    };
    reader.read_data(member, [&](const char* p, size_t n) {
      for (size_t i = 0; i < n; ++i) {
        if (p[i] == '\n') {
          take(line);
          line.clear();
        } else if (line.size() >= kMaxListLine) {
          invalid(fmt::format("{} has a line longer than {} bytes", member, kMaxListLine));
        } else {
          line.push_back(p[i]);
        }
      }
    });
    if (!line.empty()) take(line);
    for (const auto& [path, info] : files_) {
      if (!listed.count(path))
        invalid(fmt::format("member '{}{}' is not in {}", kSnapshotStatePrefix, path, member));
    }
  }

  uint64_t files() const { return files_.size(); }
  uint64_t skipped() const { return skipped_; }
  uint64_t dirs() const { return dirs_; }
  uint64_t bytes() const { return bytes_; }

 private:
  // A member below a file member is refused. Writing alone would catch it
  // (the file is in the directory's way), but a skipped file is not there.
  void check_not_under_file(const std::string& member, const std::string& rel) const {
    for (size_t slash = rel.find('/'); slash != std::string::npos;
         slash = rel.find('/', slash + 1)) {
      if (files_.contains(rel.substr(0, slash)))
        refuse_member(member, fmt::format("under '{}', which an earlier member made a file",
                                          rel.substr(0, slash)));
    }
  }

  // The directory rel ("a/b", never ""), made where missing. The last one is
  // kept open: members arrive grouped by directory.
  Dir& dir_at(const std::string& member, const std::string& rel, bool leaf_is_member) {
    if (cached_ && cached_rel_ == rel) return *cached_;
    std::unique_ptr<Dir> cur;
    Dir* at = &root_;
    size_t start = 0;
    while (true) {
      size_t slash = rel.find('/', start);
      const bool leaf = slash == std::string::npos;
      if (leaf) slash = rel.size();
      const std::string part = rel.substr(start, slash - start);
      at->make_dir(part, 0755);
      std::unique_ptr<Dir> next;
      try {
        next = at->open_dir(part);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kInvalidPath) throw;
        if (leaf && leaf_is_member)
          refuse_member(member, "a directory where an earlier member made a file");
        refuse_member(member, fmt::format("under '{}', which an earlier member made a file",
                                          rel.substr(0, slash)));
      }
      if (!next)
        throw Error(ErrorCode::kIoError, fmt::format("{}: vanished while restoring", member));
      cur = std::move(next);
      at = cur.get();
      dirs_made_.insert(rel.substr(0, slash));
      if (leaf) break;
      start = slash + 1;
    }
    cached_ = std::move(cur);
    cached_rel_ = rel;
    return *cached_;
  }

  Dir& root_;
  std::unique_ptr<Dir> cached_;
  std::string cached_rel_;
  const SnapshotReadOptions& options_;
  uint64_t free_bytes_;
  std::map<std::string, std::pair<uint64_t, std::string>> files_;
  std::set<std::string> dirs_made_;  // every directory made or opened, relative
  uint64_t skipped_ = 0;
  uint64_t dirs_ = 0;
  uint64_t bytes_ = 0;
};

// The member's name if it may be a state path; refuses anything that could
// step outside the target or that a snapshot never holds.
std::string state_rel(archive_entry* e, const char* raw) {
  if (raw == nullptr) refuse_member("?", "named in an encoding this system cannot read");
  const std::string member = raw;
  if (archive_entry_hardlink(e) != nullptr)
    refuse_member(member, fmt::format("a hard link (to '{}')", archive_entry_hardlink(e)));
  const auto type = archive_entry_filetype(e);
  if (type != AE_IFREG && type != AE_IFDIR) refuse_member(member, file_type_name(e));
  if (archive_entry_sparse_count(e) > 0) refuse_member(member, "a sparse file");
  if (!member.empty() && member.front() == '/') refuse_member(member, "an absolute path");
  std::string rel = member;
  if (type == AE_IFDIR && !rel.empty() && rel.back() == '/') rel.pop_back();
  if (rel == "state") return "";
  if (rel.rfind(kSnapshotStatePrefix, 0) != 0)
    refuse_member(member, "outside state/ (a snapshot holds nothing else)");
  rel.erase(0, kSnapshotStatePrefix.size());
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    if (rel.compare(start, end - start, "..") == 0) refuse_member(member, "a path with '..'");
    start = end + 1;
  }
  try {
    validate_entry_path(rel);
  } catch (const Error& ex) {
    refuse_member(member, fmt::format("not a state path ({})", ex.what()));
  }
  return rel;
}

// Bytes of a local file in order. The seam refuses a FIFO or device
// without blocking on it.
ByteSource file_source(std::shared_ptr<File> f) {
  return [f, at = uint64_t{0}](char* buf, size_t cap) mutable -> size_t {
    const size_t n = f->pread(buf, cap, at);
    at += n;
    return n;
  };
}

SnapshotMeta read_header(SnapshotReader& reader, archive_entry* e, const SnapshotReadOptions& o) {
  if (e == nullptr) invalid("the archive is empty");
  const char* raw = archive_entry_pathname(e);
  const std::string name = raw ? raw : "?";
  if (name != kSnapshotHeaderName || archive_entry_filetype(e) != AE_IFREG ||
      archive_entry_hardlink(e) != nullptr) {
    invalid(fmt::format("the first member is '{}', not the header {}; not a strata snapshot", name,
                        kSnapshotHeaderName));
  }
  SnapshotMeta m = parse_header(reader.read_small(name, kMaxHeaderBytes));
  if (!o.expect_lineage.empty() && m.lineage_id != o.expect_lineage)
    invalid(fmt::format("the snapshot is of lineage '{}', expected '{}'", m.lineage_id,
                        o.expect_lineage));
  if (o.expect_seq && m.seq != *o.expect_seq)
    invalid(fmt::format("the snapshot is at seq {}, expected {}", m.seq, *o.expect_seq));
  return m;
}

}  // namespace

SnapshotWriteResult write_snapshot_archive(const std::string& state_dir, const SnapshotMeta& meta,
                                           const std::string& archive_path,
                                           const SnapshotWriteOptions& options) {
  FileSystem& fs = options.fs ? *options.fs : FileSystem::real();
  std::unique_ptr<Dir> root;
  try {
    root = fs.open_dir(state_dir);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidPath) throw;
  }
  if (!root)
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("snapshot archive: {} is not a directory", state_dir));
  SnapshotWriteResult result;
  result.meta = meta;
  result.meta.version = kSnapshotFormatVersion;
  if (result.meta.created_ms == 0) result.meta.created_ms = now_ms();
  result.meta.created_at = rfc3339_ms(result.meta.created_ms);
  const nlohmann::json header = {{"format", "strata-snapshot"},
                                 {"version", result.meta.version},
                                 {"seq", result.meta.seq},
                                 {"lineage", result.meta.lineage_id},
                                 {"created_at", result.meta.created_at},
                                 {"created_ms", result.meta.created_ms}};
  AtomicFile out(fs, archive_path);
  SnapshotWriter w(out, options, result);
  w.add_bytes(std::string(kSnapshotHeaderName), header.dump() + "\n");
  w.add_dir("state");
  w.add_tree(*root, "");
  w.finish();
  result.archive_sha256 = w.archive_sha256();
  out.commit();
  return result;
}

SnapshotReadResult read_snapshot_archive(const ByteSource& source, const std::string& target_dir,
                                         const SnapshotReadOptions& options) {
  FileSystem& fs = options.fs ? *options.fs : FileSystem::real();
  std::string target = target_dir;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  const std::string name = base_name(target);
  std::unique_ptr<Dir> parent = fs.open_dir(parent_path(target));
  if (!parent)
    throw Error(
        ErrorCode::kInvalidArgument,
        fmt::format("snapshot restore target {}: its parent directory does not exist", target_dir));
  const uint64_t free_bytes = fs.disk_space(parent->path()).free_bytes;
  if (!parent->make_dir(name, 0755))
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("snapshot restore target {} already exists", target_dir));
  try {
    std::unique_ptr<Dir> root = parent->open_dir(name);
    if (!root) throw Error(ErrorCode::kIoError, fmt::format("{}: vanished", target_dir));
    root->set_mode(0755);
    SnapshotReader reader(source, options);
    SnapshotReadResult result;
    result.meta = read_header(reader, reader.next("the start"), options);
    TreeExtractor tree(*root, options, free_bytes);
    bool have_list = false;
    std::string last = std::string(kSnapshotHeaderName);
    while (archive_entry* e = reader.next(last.c_str())) {
      const char* raw = archive_entry_pathname(e);
      if (have_list)
        invalid(fmt::format("member '{}' follows the file list {}", raw ? raw : "?",
                            kSnapshotFileListName));
      if (raw != nullptr && raw == kSnapshotFileListName && archive_entry_filetype(e) == AE_IFREG &&
          archive_entry_hardlink(e) == nullptr) {
        tree.check_list(reader, e);
        have_list = true;
        last = raw;
        continue;
      }
      const std::string rel = state_rel(e, raw);
      last = raw;
      if (archive_entry_filetype(e) == AE_IFDIR) {
        tree.add_dir(last, rel);
      } else if (rel.empty()) {
        refuse_member(last, "a file where the state directory belongs");
      } else {
        tree.add_file(reader, e, last, rel);
      }
    }
    if (!have_list)
      invalid(fmt::format("the archive ends after '{}' without the file list {} (cut short?)", last,
                          kSnapshotFileListName));
    reader.drain();
    result.files = tree.files();
    result.files_skipped = tree.skipped();
    result.directories = tree.dirs();
    result.content_bytes = tree.bytes();
    result.archive_bytes = reader.bytes_in();
    result.archive_sha256 = reader.sha256();
    if (!options.expect_sha256.empty()) {
      std::string want = options.expect_sha256;
      std::transform(want.begin(), want.end(), want.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (want != result.archive_sha256)
        invalid(
            fmt::format("the archive's SHA-256 is {}, expected {}", result.archive_sha256, want));
    }
    return result;
  } catch (...) {
    try {
      remove_tree(*parent, name);  // never follows a symlink
    } catch (const Error&) {
      // The original failure is what the caller needs to see.
    }
    throw;
  }
}

SnapshotReadResult read_snapshot_archive(const std::string& archive_path,
                                         const std::string& target_dir,
                                         const SnapshotReadOptions& options) {
  FileSystem& fs = options.fs ? *options.fs : FileSystem::real();
  return read_snapshot_archive(file_source(fs.open(archive_path, OpenMode::kRead)), target_dir,
                               options);
}

SnapshotMeta read_snapshot_meta(const std::string& archive_path, FileSystem* fs) {
  SnapshotReadOptions options;
  const ByteSource source =
      file_source((fs ? *fs : FileSystem::real()).open(archive_path, OpenMode::kRead));
  SnapshotReader reader(source, options);
  return read_header(reader, reader.next("the start"), options);
}

}  // namespace strata::sync
