// GitSyncConfig: reading the environment and refusing anything unsafe before
// a repository is touched.
#include <git2.h>

#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "git/git_util.h"
#include "git/remote.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/git_sync.h"

namespace strata {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void invalid(std::string_view var, const std::string& why) {
  throw Error(ErrorCode::kConfigInvalid, fmt::format("{}: {}", var, why));
}

bool has_control_or_space(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Characters a shell or an option parser would give meaning to. The branch
// name ends up in refspecs, logs and people's shells (`git show BRANCH:...`).
constexpr std::string_view kShellMeta = ";&|$`<>(){}[]*?!~^:\\'\"#%";

fs::path normalized(const std::string& p) {
  return fs::absolute(fs::path(p)).lexically_normal();
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  auto rel = inner.lexically_relative(outer);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

std::string_view git_sync_state_name(GitSyncState state) {
  switch (state) {
    case GitSyncState::kOk:
      return "ok";
    case GitSyncState::kConflict:
      return "conflict";
    case GitSyncState::kError:
      return "error";
    case GitSyncState::kUnconfigured:
      return "unconfigured";
  }
  return "unknown";
}

std::string redact_url(std::string_view url) {
  return git::Redactor{}(url);
}

void validate_archive_branch(std::string_view name) {
  constexpr std::string_view var = "GIT_ARCHIVE_BRANCH";
  if (name.empty()) invalid(var, "must not be empty");
  if (name.front() == '-') invalid(var, fmt::format("'{}' must not start with '-'", name));
  if (name.find("..") != std::string_view::npos) {
    invalid(var, fmt::format("'{}' must not contain '..'", name));
  }
  if (has_control_or_space(name)) {
    invalid(var, "must not contain whitespace or control characters");
  }
  if (name.find_first_of(kShellMeta) != std::string_view::npos) {
    invalid(var, fmt::format("'{}' must not contain any of {}", name, kShellMeta));
  }
  if (name == "HEAD" || name == "@" || name.starts_with("refs/")) {
    invalid(var, fmt::format("'{}' must be a plain branch name (without refs/heads/)", name));
  }
  git::ensure_libgit2();
  int valid = 0;
  std::string full = "refs/heads/" + std::string(name);
  if (git_reference_name_is_valid(&valid, full.c_str()) < 0 || !valid) {
    invalid(var, fmt::format("'{}' is not a valid git branch name", name));
  }
}

GitSyncConfig GitSyncConfig::from_env(const std::string& data_dir) {
  GitSyncConfig c;
  c.state_dir = data_dir + "/state";
  c.repo_dir = config::env_or("GIT_REPO_DIR", data_dir + "/archive.git");
  c.branch = config::env_or("GIT_ARCHIVE_BRANCH", c.branch);
  c.remote = config::env_or("GIT_REMOTE", "");
  c.token = config::env_or("GIT_TOKEN", "");
  c.ssh_key = config::env_or("GIT_SSH_KEY", "");
  c.ssh_passphrase = config::env_or("GIT_SSH_KEY_PASSPHRASE", "");
  c.author_name = config::env_or("GIT_AUTHOR_NAME", c.author_name);
  c.author_email = config::env_or("GIT_AUTHOR_EMAIL", c.author_email);
  c.max_file_bytes = config::env_bytes("GIT_ARCHIVE_MAX_FILE_BYTES", c.max_file_bytes);
  c.timeout = std::chrono::milliseconds(
      config::env_u64("GIT_TIMEOUT_MS", static_cast<uint64_t>(c.timeout.count())));
  if (auto paths = config::env("GIT_ARCHIVE_PATHS")) {
    size_t start = 0;
    while (start <= paths->size()) {
      size_t end = paths->find(':', start);
      if (end == std::string::npos) end = paths->size();
      std::string p = paths->substr(start, end - start);
      if (!p.empty()) c.extra_dirs.push_back(p.front() == '/' ? p : data_dir + "/" + p);
      start = end + 1;
    }
  }
  c.validate();
  return c;
}

void GitSyncConfig::validate() const {
  if (state_dir.empty()) invalid("state_dir", "must not be empty");
  validate_archive_branch(branch);
  if (repo_dir.empty()) invalid("GIT_REPO_DIR", "must not be empty");

  const fs::path repo = normalized(repo_dir);
  std::set<std::string> names{"state", "snapshot-manifest.json"};
  if (is_within(repo, normalized(state_dir)) || repo == normalized(state_dir)) {
    invalid("GIT_REPO_DIR", fmt::format("'{}' must not be inside the state directory", repo_dir));
  }
  for (const auto& dir : extra_dirs) {
    fs::path p = normalized(dir);
    std::string name = p.filename().string();
    if (name.empty() || name.front() == '.' || has_control_or_space(name)) {
      invalid("GIT_ARCHIVE_PATHS", fmt::format("'{}' needs a plain directory name", dir));
    }
    if (!names.insert(name).second) {
      invalid("GIT_ARCHIVE_PATHS",
              fmt::format("'{}' would be archived as '{}', which is already taken", dir, name));
    }
    if (is_within(repo, p) || repo == p) {
      invalid("GIT_REPO_DIR",
              fmt::format("'{}' must not be inside the archived '{}'", repo_dir, dir));
    }
  }

  git::validate_remote(remote);
  if (!ssh_key.empty() && !fs::exists(ssh_key)) {
    invalid("GIT_SSH_KEY", fmt::format("no such file '{}'", ssh_key));
  }
  for (auto [var, value] :
       {std::pair<std::string_view, const std::string*>{"GIT_AUTHOR_NAME", &author_name},
        {"GIT_AUTHOR_EMAIL", &author_email}}) {
    if (value->empty() || value->find_first_of("<>\n\r") != std::string::npos) {
      invalid(var, "must be non-empty and contain no '<', '>' or newline");
    }
  }
  if (max_file_bytes == 0) invalid("GIT_ARCHIVE_MAX_FILE_BYTES", "must be greater than 0");
  if (timeout.count() <= 0) invalid("GIT_TIMEOUT_MS", "must be greater than 0");
}

}  // namespace strata
