// Turning a directory into git blobs and trees, without an index or a
// working tree. Blobs already in the object database are not written again,
// so an incremental snapshot costs one hash per file plus the new objects.
// The walk reads through Dir handles of the file-system seam, never
// following a symlink out of the directory.
#pragma once

#include <git2.h>

#include <cstdint>
#include <string>
#include <vector>

#include "git/git_util.h"
#include "strata/fs.h"
#include "strata/git_sync.h"

namespace strata::git {

struct TreeStats {
  uint64_t file_count = 0;              // regular files and symlinks taken
  uint64_t total_bytes = 0;             // bytes of the regular files taken
  std::vector<std::string> empty_dirs;  // archive paths git cannot hold as trees
  std::vector<SkippedPath> skipped;
};

class TreeWriter {
 public:
  TreeWriter(git_repository* repo, uint64_t max_file_bytes, FileSystem& fs = FileSystem::real());

  // Writes the tree of the directory at `dir` whose archive path is
  // `archive_path` (e.g. "state"). Returns false when nothing in it could be
  // archived (no tree written). A missing directory counts as empty.
  // Throws kIoError for anything unreadable: a snapshot must be complete.
  bool write_dir(const std::string& dir, const std::string& archive_path, git_oid* out);

  const TreeStats& stats() const { return stats_; }

 private:
  bool write_dir_at(Dir& root, Dir& dir, const std::string& rel, const std::string& archive_path,
                    int depth, git_oid* out);
  bool add_file(Dir& dir, const std::string& name, const std::string& archive_path, git_oid* out,
                uint64_t* bytes);
  void skip(std::string path, std::string reason);

  FileSystem& fs_;
  git_repository* repo_;
  OdbPtr odb_;
  uint64_t max_file_bytes_;
  TreeStats stats_;
  std::string buffer_;
};

}  // namespace strata::git
