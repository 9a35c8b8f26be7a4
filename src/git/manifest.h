// snapshot-manifest.json: what a snapshot commit claims to hold. Written at
// the root of every snapshot tree; restore checks the files against it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/git_sync.h"

namespace strata::git {

inline constexpr const char* kManifestName = "snapshot-manifest.json";
inline constexpr int kManifestFormat = 1;

struct Manifest {
  int format = kManifestFormat;
  std::string snapshot_id;
  std::string created_at;  // ISO 8601 UTC, milliseconds
  uint64_t wal_seq = 0;
  std::string lineage_id;
  uint64_t file_count = 0;
  uint64_t total_bytes = 0;
  std::vector<std::string> sources;     // top-level directories, "state" first
  std::vector<std::string> empty_dirs;  // archive paths, recreated by restore
  std::vector<SkippedPath> skipped;

  std::string to_json() const;
  // Throws kGitError naming `where` when the text is not a manifest this
  // version understands.
  static Manifest parse(std::string_view text, std::string_view where);
};

}  // namespace strata::git
