// Which names and symlinks may enter or leave the archive. Shared by the
// snapshot walk (what to skip) and restore (what to refuse), so the two can
// never disagree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace strata::git {

// ".git" in any letter case: never archived, never restored.
bool is_dot_git(std::string_view name);

// Why `name` cannot be one path component of a restored file, or nullopt.
std::optional<std::string> bad_component(std::string_view name);

// Whether a symlink at `link_dir` (a '/'-separated directory relative to the
// root, "" for the root) with `target` stays inside the root, read
// lexically: relative, and no ".." climbing above the root.
bool symlink_target_inside(std::string_view link_dir, std::string_view target);

enum class Resolution { kInside, kOutside, kMissing };
// Resolves `rel` (relative to the directory open as root_fd) following
// symlinks, with the kernel refusing to leave root_fd (openat2
// RESOLVE_BENEATH). Catches chains of symlinks that each look harmless.
// kMissing: a component does not exist (a dangling link inside the root).
Resolution resolve_beneath(int root_fd, const std::string& rel);

}  // namespace strata::git
