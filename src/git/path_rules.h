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
// lexically: relative, and no ".." climbing above the root. Chains of links
// that each look harmless are the kernel's to judge: Dir::resolve_beneath.
bool symlink_target_inside(std::string_view link_dir, std::string_view target);

}  // namespace strata::git
