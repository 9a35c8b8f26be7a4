// Talking to the remote: credentials, deadlines, fetching the archive branch
// and pushing it fast-forward only.
#pragma once

#include <git2.h>

#include <optional>
#include <string>
#include <string_view>

#include "git/git_util.h"
#include "strata/git_sync.h"

namespace strata::git {

// A URL or path (contains ':' or starts with '/' or '.') rather than the
// name of a remote configured in the repository.
bool remote_is_url(std::string_view remote);
// Refuses (kConfigInvalid, GIT_REMOTE) option-like, whitespace or control
// characters, and names libgit2 would not accept as a remote name.
void validate_remote(std::string_view remote);

// What identifies the remote `remote` (GIT_REMOTE) names, so that what one
// remote confirmed is never taken for another's: the URL (a remote name is
// resolved to its URL in repo) without credentials, scheme and host in lower
// case, without trailing '/'; local paths and file:// URLs become one
// absolute path. "" for "".
std::string remote_identity(git_repository* repo, std::string_view remote);
// Where the tip of `branch` on that remote is recorded:
// refs/strata/remotes/<first 16 hex digits of SHA-256(identity)>/<branch>.
std::string tracking_ref_for(std::string_view identity, std::string_view branch);

// One remote, opened for a sequence of network operations. Each operation
// runs under its own DeadlineScope of config.timeout. Errors are
// strata::Error: kTimeout, kGitConflict (push refused as non-fast-forward),
// kConfigInvalid (unknown remote name), else kGitError; messages redacted.
class RemoteSession {
 public:
  RemoteSession(git_repository* repo, const GitSyncConfig& config, Redactor& redact);

  // The remote's refs/heads/<branch>, fetched so its objects are local and
  // recorded in tracking_ref (deleted when the remote has no such branch).
  std::optional<git_oid> fetch_branch(const std::string& branch, const std::string& tracking_ref);

  // Pushes the local refs/heads/<branch> to the remote's, and returns the
  // commit sent. Checked again against the tip the remote advertises on the
  // push connection itself: anything but a fast-forward (or creation) is
  // refused with kGitConflict and nothing is sent.
  git_oid push_branch(const std::string& branch);

  const std::string& display_url() const { return display_url_; }

 private:
  git_repository* repo_;
  const GitSyncConfig& config_;
  Redactor& redact_;
  RemotePtr remote_;
  std::string display_url_;
};

}  // namespace strata::git
