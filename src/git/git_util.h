// libgit2 plumbing shared by the git/ sources: owning handles, error
// conversion with credential redaction, and the one-time library setup.
#pragma once

#include <git2.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/error.h"

namespace strata::git {

// Initializes libgit2 once per process (never shut down: other GitSync
// objects may live on) and installs the deadline-aware socket stream.
void ensure_libgit2();

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};
template <typename T, void (*Free)(T*)>
using Handle = std::unique_ptr<T, Deleter<T, Free>>;

using RepoPtr = Handle<git_repository, git_repository_free>;
using TreePtr = Handle<git_tree, git_tree_free>;
using TreeBuilderPtr = Handle<git_treebuilder, git_treebuilder_free>;
using TreeEntryPtr = Handle<git_tree_entry, git_tree_entry_free>;
using BlobPtr = Handle<git_blob, git_blob_free>;
using CommitPtr = Handle<git_commit, git_commit_free>;
using RefPtr = Handle<git_reference, git_reference_free>;
using RemotePtr = Handle<git_remote, git_remote_free>;
using RevwalkPtr = Handle<git_revwalk, git_revwalk_free>;
using SignaturePtr = Handle<git_signature, git_signature_free>;
using OdbPtr = Handle<git_odb, git_odb_free>;
using ObjectPtr = Handle<git_object, git_object_free>;
using IndexPtr = Handle<git_index, git_index_free>;

// Removes known secrets, and the credential parts of every URL, from text
// bound for messages and logs. Every message built from libgit2 errors goes
// through one of these.
class Redactor {
 public:
  // Replaced wherever it appears (GIT_TOKEN, the SSH key passphrase).
  void add_secret(std::string secret);
  // Registers the password of url's userinfo as a secret. The user name is
  // not one: it is redacted only where it stands in a URL, never as a
  // substring of other words.
  void add_url(std::string_view url);
  // Secrets become "***"; in every "scheme://" URL the userinfo becomes
  // "***" and each query value "***" (the structure, not a word list).
  std::string operator()(std::string_view text) const;

 private:
  std::vector<std::string> secrets_;
};

// libgit2's last error message for rc, or a generic one.
std::string last_error_message(int rc);

// Throws Error(code, "<what>: <libgit2 message>") when rc < 0, redacted.
void check(int rc, std::string_view what, const Redactor* redact = nullptr,
           ErrorCode code = ErrorCode::kGitError);

std::string oid_hex(const git_oid& oid);
std::string short_hex(const git_oid& oid);  // 12 hex digits

// Runs f, one write of refname that fails with GIT_ELOCKED while the ref's
// .lock exists, under strata's ref-writer flock in the git directory, and
// returns its result. A lock seen while holding the flock that a killed
// strata left behind is removed and f run again: at once under
// refs/strata/ (only strata writes there), once it is 10 s old elsewhere
// (a git command may hold it for a moment); a younger one is waited out
// for about a second, then GIT_ELOCKED is returned.
int write_ref(git_repository* repo, const std::string& refname, const std::function<int()>& f);

// Points refname at oid (creating or moving it, no compare-and-swap): for
// strata's own records such as the remote-tracking refs. Another process
// holding the ref's lock for an instant (two `strata archive` runs) is
// waited out briefly instead of failing the operation.
void record_ref(git_repository* repo, const std::string& refname, const git_oid& oid,
                const char* log_message, std::string_view what, const Redactor* redact);
// Deletes refname if it exists, waiting out a concurrent lock the same way.
void forget_ref(git_repository* repo, const std::string& refname, std::string_view what,
                const Redactor* redact);

// The commit refs/heads/<branch> (or any full ref name) points at, if any.
bool lookup_ref_oid(git_repository* repo, const std::string& refname, git_oid* out);

}  // namespace strata::git
