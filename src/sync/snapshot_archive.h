// A state snapshot as one tar + zstd file, shared by the object-store sync
// tier (which writes and uploads it) and recovery (which downloads and
// extracts it). An operator can open one with nothing but
// `tar --zstd -xf snapshot.tar.zst`.
//
// Layout (pax tar, zstd-compressed), members in this order:
//   strata-snapshot.json  {"format":"strata-snapshot","version":1,"seq":N,
//                          "lineage":"...","created_at":"RFC 3339","created_ms":T}
//   state/ ...            the state directory: directories, then regular files,
//                         every file 0644, every directory 0755, mtime created_ms
//   strata-files.jsonl    one line per regular file under state/:
//                         {"path":"a/b","size":N,"sha256":"hex"}
// The file list comes last so a snapshot is written in one pass over a state
// directory; the reader checks every extracted file against it, so a
// snapshot whose bytes were altered, cut or reordered is refused even when
// the container format itself still parses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/fs.h"

namespace strata::sync {

// The version this code writes and the newest it reads.
constexpr uint32_t kSnapshotFormatVersion = 1;
constexpr std::string_view kSnapshotHeaderName = "strata-snapshot.json";
constexpr std::string_view kSnapshotFileListName = "strata-files.jsonl";
constexpr std::string_view kSnapshotStatePrefix = "state/";

struct SnapshotMeta {
  uint32_t version = kSnapshotFormatVersion;
  uint64_t seq = 0;         // the state is "every entry up to seq applied"
  std::string lineage_id;   // the data directory's history the seq belongs to
  uint64_t created_ms = 0;  // 0 on write: now
  std::string created_at;   // RFC 3339 UTC of created_ms; derived on write
};

struct SnapshotSkipped {
  std::string path;  // relative to the state directory
  std::string reason;
};

struct SnapshotWriteOptions {
  int zstd_level = 3;
  FileSystem* fs = nullptr;  // the output file goes through it; nullptr: the real one
};

struct SnapshotWriteResult {
  SnapshotMeta meta;
  uint64_t files = 0;          // regular files archived
  uint64_t directories = 0;    // directories archived, state/ itself included
  uint64_t content_bytes = 0;  // bytes of the regular files
  uint64_t archive_bytes = 0;  // size of the .tar.zst
  std::string archive_sha256;  // hex SHA-256 of the .tar.zst
  // Not snapshot material: symlinks, special files, names that break the
  // entry path rules (validate_entry_path). The materializer never makes
  // them, so they are not part of any seq's state.
  std::vector<SnapshotSkipped> skipped;
};

// Archives state_dir (as of meta.seq) into archive_path. The archive is
// streamed into a temporary file beside archive_path, fsynced and renamed
// over it (directory fsynced), so archive_path is either the complete new
// archive or what it was before (the seam's AtomicFile). Memory stays bounded by one read buffer
// plus the file list (about 150 bytes per file).
//
// The caller guarantees state_dir does not change during the call (the
// materializer is not applying); a file that shrinks while it is read fails
// the call with kIoError naming it. Walks without following symlinks.
// Throws kIoError (file system), kInvalidArgument (state_dir is not a
// directory); nothing is left behind on failure.
SnapshotWriteResult write_snapshot_archive(const std::string& state_dir, const SnapshotMeta& meta,
                                           const std::string& archive_path,
                                           const SnapshotWriteOptions& options = {});

// Limits for reading a snapshot from an untrusted place. 0 means no limit.
struct SnapshotReadOptions {
  uint64_t max_archive_bytes = 0;        // compressed bytes, e.g. the size the manifest declares
  uint64_t max_file_bytes = 1ull << 30;  // one member
  uint64_t max_total_bytes = 0;          // all members' content
  uint64_t max_files = 10'000'000;
  // Free space that must remain on the target's file system after every
  // member; a member that would eat into it is refused with kDiskFull.
  uint64_t reserve_free_bytes = 0;
  std::string expect_sha256;   // of the compressed bytes; "" = not checked
  std::string expect_lineage;  // "" = any
  std::optional<uint64_t> expect_seq;
  FileSystem* fs = nullptr;  // asked for free space; nullptr: the real one
  // A regular file member (its path relative to the state directory) for
  // which this returns true is read and checked like every other member
  // (size, SHA-256, the file list, the names around it) but not written:
  // recovery passes the paths its log writes or deletes afterwards, which
  // the replay makes whatever the snapshot held there. Unset: every member
  // is written.
  std::function<bool(std::string_view rel)> skip_file;
};

struct SnapshotReadResult {
  SnapshotMeta meta;
  uint64_t files = 0;          // regular file members, checked (written or skipped)
  uint64_t files_skipped = 0;  // of them, not written (skip_file)
  uint64_t directories = 0;
  uint64_t content_bytes = 0;
  uint64_t archive_bytes = 0;
  std::string archive_sha256;
};

// Reads up to cap bytes into buf; returns 0 only at the end. Throws on failure.
using ByteSource = std::function<size_t(char* buf, size_t cap)>;

// Extracts the state directory of a snapshot into target_dir, which must not
// exist (its parent must). The archive is hostile: a member that is
// absolute, has an empty, "." or ".." segment or otherwise breaks the entry
// path rules, is a symlink, hard link, device, FIFO or sparse file, appears
// twice, is not under state/ (other than the two metadata members in their
// places), is larger than a limit or than the free disk allows, or does not
// match the file list is refused with an Error naming the member:
//   kInvalidPath      member names and types
//   kDiskFull         free space
//   kSnapshotInvalid  everything else (not a snapshot, format version from
//                     the future, limits, file list, SHA-256, truncation)
// Every file is created exclusively relative to its parent's descriptor and
// every directory is opened without following symlinks (the seam's Dir), so
// nothing can be written outside target_dir. On any failure target_dir is removed
// and nothing else was touched. Files are not fsynced: the caller makes them
// durable (one syncfs) before it relies on them.
SnapshotReadResult read_snapshot_archive(const std::string& archive_path,
                                         const std::string& target_dir,
                                         const SnapshotReadOptions& options = {});
// The same from a stream (e.g. an HTTP body): decoded as it arrives.
SnapshotReadResult read_snapshot_archive(const ByteSource& source, const std::string& target_dir,
                                         const SnapshotReadOptions& options = {});

// Only the header member: what a snapshot claims, without extracting it.
// Throws kSnapshotInvalid like read_snapshot_archive.
SnapshotMeta read_snapshot_meta(const std::string& archive_path, FileSystem* fs = nullptr);

}  // namespace strata::sync
