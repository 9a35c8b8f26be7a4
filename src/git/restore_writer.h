// Writing a snapshot's tree into a directory, treating the tree as hostile:
// it may come from a remote anyone could push to.
#pragma once

#include <git2.h>

#include <cstdint>
#include <string>

#include "git/manifest.h"

namespace strata::git {

struct RestoreStats {
  uint64_t files = 0;  // regular files and symlinks, the manifest not counted
  uint64_t bytes = 0;  // bytes of the regular files
};

// Writes `tree` into target_dir, which must not exist or be an empty
// directory (else kInvalidArgument). Everything is staged in a sibling
// directory, made durable, then renamed into place; on failure the staging
// directory is removed and target_dir is untouched.
//
// Nothing is ever written outside the staging directory: each component is
// opened with O_NOFOLLOW relative to its parent's descriptor, files are
// created with O_EXCL, and symlinks are created only after every file and
// directory, then checked by the kernel (openat2 RESOLVE_BENEATH). Entries
// named "", ".", "..", ".git" or containing '/', submodules, symlinks that
// leave the tree and duplicate names are refused with kInvalidPath. The
// result must match the manifest's counts (else kGitError).
RestoreStats write_tree(git_repository* repo, const git_tree* tree, const Manifest& manifest,
                        const std::string& target_dir, const std::string& commit_hex);

}  // namespace strata::git
