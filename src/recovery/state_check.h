// The check after a restore: the state directory must equal what the base
// (a snapshot, a template, or nothing) plus the log applied to it gives,
// computed here independently of the materializer, file by file by SHA-256.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "strata/entry.h"
#include "strata/fs.h"

namespace strata::recovery {

// Relative path -> hex SHA-256 of the regular files under a directory.
using StateDigest = std::map<std::string, std::string>;

// Walks dir without following symlinks. Anything that is not a regular file
// or a directory is recorded as "<symlink>" / "<special>" so it never
// compares equal to a file.
StateDigest digest_tree(FileSystem& fs, const std::string& dir);

// Applies one entry the way the materializer does: create/update replace
// the file (and whatever file or directory was in its way), delete removes
// the path and everything below it.
void apply_to_digest(StateDigest& d, const EntryView& e);

// The digest a base plus a log gives, built entry by entry like
// apply_to_digest, but a write is hashed only once nothing later in the log
// replaced or removed it: a log that rewrites the same files (25,600
// updates of 2,560 paths in `strata bench recover`) costs the SHA-256 of
// the state, not of every write. The data of the writes not yet hashed is
// kept (at most about kPendingBytes; past that they are hashed).
class ExpectedState {
 public:
  static constexpr uint64_t kPendingBytes = 64ull << 20;
  explicit ExpectedState(const StateDigest& base, uint64_t pending_limit = kPendingBytes);
  void apply(const EntryView& e);
  StateDigest finish();

 private:
  struct File {
    bool hashed = true;
    std::string value;  // hex SHA-256 when hashed, else the data
  };
  void hash(File& f);
  void erase(std::map<std::string, File>::iterator it);
  void hash_pending();

  std::map<std::string, File> files_;
  uint64_t pending_limit_;
  uint64_t pending_bytes_ = 0;
};

// nullopt when equal; else the first difference, in words.
std::optional<std::string> compare_digests(const StateDigest& expected, const StateDigest& actual);

}  // namespace strata::recovery
