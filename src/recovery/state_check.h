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

// nullopt when equal; else the first difference, in words.
std::optional<std::string> compare_digests(const StateDigest& expected, const StateDigest& actual);

}  // namespace strata::recovery
