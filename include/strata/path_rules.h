// The one set of path rules: which paths an entry may name, and which names
// may be written into the state directory or carried by the Git archive.
// The WAL checks entries against them at append, the materializer again
// before writing, the Git tier when it walks and restores trees; all of them
// call this one implementation (strata_common, the lowest layer), so an entry
// the WAL accepts is one that every tier can hold. docs/paths.md lists the
// rules and why each exists.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace strata {

constexpr size_t kMaxEntryPathBytes = 1024;
// NAME_MAX of Linux file systems (ext4, xfs, btrfs, tmpfs): a longer
// component cannot be created in the state directory.
constexpr size_t kMaxPathComponentBytes = 255;

// Names git refuses to put in a tree or check out (git's verify_path, with
// core.protectNTFS on, its default since git 2.24; libgit2 the same): ".git"
// in any letter case, ".git" followed by dots or spaces (Windows drops
// them), and "git~1" in any case (the 8.3 short name of ".git"). strata
// never archives, restores or accepts such a component.
bool is_git_reserved_name(std::string_view name);

// Why `name` cannot be one component of a path strata writes (the state
// directory, a restored snapshot), or nullopt: empty, "." or "..", containing
// '/' or NUL, longer than kMaxPathComponentBytes, or reserved by git. Applies
// to names from anywhere, including hostile remotes; it does not restrict
// the character set (extra archived directories may hold any file name).
std::optional<std::string> path_component_problem(std::string_view name);

// Entry paths: relative, at most kMaxEntryPathBytes, '/'-separated segments
// that each match [A-Za-z0-9._-]+ and pass path_component_problem (so no
// empty, "." or ".." segment, no leading, doubled or trailing '/', no NUL, no
// segment over 255 bytes, no ".git", ".GIT", ".git." or "git~1"). Throws
// Error(kInvalidPath) saying which rule broke and which segment broke it,
// with control bytes escaped.
void validate_entry_path(std::string_view path);

}  // namespace strata
