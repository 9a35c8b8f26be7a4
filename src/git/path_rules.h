// Which names and symlinks may enter or leave the archive. Shared by the
// snapshot walk (what to skip) and restore (what to refuse), so the two can
// never disagree; the name rules themselves are strata's one set of path
// rules (strata/path_rules.h), which the WAL applies at append.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "strata/path_rules.h"

namespace strata::git {

// A name git reserves (".git", ".GIT", ".git.", "git~1", ...): never
// archived, never restored.
inline bool is_dot_git(std::string_view name) {
  return is_git_reserved_name(name);
}

// Why `name` cannot be one path component of a restored file, or nullopt.
inline std::optional<std::string> bad_component(std::string_view name) {
  return path_component_problem(name);
}

// Whether a symlink at `link_dir` (a '/'-separated directory relative to the
// root, "" for the root) with `target` stays inside the root, read
// lexically: relative, and no ".." climbing above the root. Chains of links
// that each look harmless are the kernel's to judge: Dir::resolve_beneath.
bool symlink_target_inside(std::string_view link_dir, std::string_view target);

}  // namespace strata::git
