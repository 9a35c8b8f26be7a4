// Writing a snapshot's tree into a directory, treating the tree as hostile:
// it may come from a remote anyone could push to.
#pragma once

#include <git2.h>

#include <cstdint>
#include <string>

#include "git/manifest.h"
#include "strata/fs.h"

namespace strata::git {

struct RestoreStats {
  uint64_t files = 0;  // regular files and symlinks, the manifest not counted
  uint64_t bytes = 0;  // bytes of the regular files
};

// Writes `tree` into target_dir, which must not exist or be an empty
// directory (else kInvalidArgument). Everything is staged in a sibling
// directory, made durable (one syncfs), then renamed into place and the
// parent fsynced; on any failure, even of that last fsync, what was
// written is removed and target_dir is as it was.
//
// Nothing is ever written outside the staging directory: each component is
// opened through a Dir handle relative to its parent (never following a
// symlink), files are created exclusively, and symlinks are created only
// after every file and directory, then checked by the kernel (openat2
// RESOLVE_BENEATH). Entries named "", ".", "..", ".git" or containing '/',
// submodules, symlinks that leave the tree or whose target is longer than
// 4096 bytes, and duplicate names are refused with kInvalidPath. The result
// must match the manifest's counts (else kGitError).
//
// Memory stays bounded whatever the tree holds: a blob's size is read from
// its object header before any of its content, and a blob larger than
// max_file_bytes (GIT_ARCHIVE_MAX_FILE_BYTES) is refused with
// kEntryTooLarge. Loose objects are streamed to disk in 64 KiB chunks (and
// their ids checked as they stream); packed objects, which libgit2 can only
// read whole, take at most max_file_bytes at a time.
RestoreStats write_tree(git_repository* repo, const git_tree* tree, const Manifest& manifest,
                        const std::string& target_dir, const std::string& commit_hex,
                        uint64_t max_file_bytes, FileSystem& fs = FileSystem::real());

}  // namespace strata::git
