#include "git/git_util.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "git/deadline_stream.h"
#include "strata/fs.h"
#include "strata/git_sync.h"

namespace strata::git {

void ensure_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (git_libgit2_init() < 0) {
      throw Error(ErrorCode::kGitError, "libgit2 failed to initialize");
    }
    // libgit2 does not fsync unless told to: a snapshot's objects and the
    // branch's new ref sat in the page cache while the WAL's "git" mark
    // (fsynced) already said the archive held them, so a power cut could
    // leave a mark ahead of the ref that survived, and segments pruned that
    // no surviving snapshot holds. With this option every object, pack and
    // ref libgit2 writes is fsynced before its rename and its directory
    // after (tests/crash/git_durability_test.cpp watches the calls).
    if (git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1) < 0) {
      throw Error(ErrorCode::kGitError, "libgit2 refused to enable fsync");
    }
    install_deadline_stream();
  });
}

void Redactor::add_secret(std::string secret) {
  // Very short strings would redact ordinary words and hide real messages.
  if (secret.size() < 3) return;
  if (std::find(secrets_.begin(), secrets_.end(), secret) == secrets_.end()) {
    secrets_.push_back(std::move(secret));
  }
  // Longest first, so a secret containing another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void Redactor::add_url(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return;
  size_t start = scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string_view authority =
      url.substr(start, end == std::string_view::npos ? url.npos : end - start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return;
  // Only the password is a secret wherever it appears. The user name is
  // not: replacing it as a substring mangled every message containing it
  // ("x.git" with user "git" became "x.***"); inside the URL itself the whole
  // userinfo is redacted structurally by operator().
  std::string_view userinfo = authority.substr(0, at);
  size_t colon = userinfo.find(':');
  if (colon != std::string_view::npos) add_secret(std::string(userinfo.substr(colon + 1)));
}

namespace {

// Where a URL that starts at `start` (just after "scheme://") ends in text.
size_t url_end(const std::string& text, size_t start) {
  size_t end = text.find_first_of(" \t\r\n'\"<>", start);
  return end == std::string::npos ? text.size() : end;
}

// "k=v&t" -> "k=***&***": any query value may be a token.
std::string redact_query(std::string_view query) {
  std::string out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view part = query.substr(start, end - start);
    size_t eq = part.find('=');
    if (start > 0) out += '&';
    if (eq != std::string_view::npos) {
      out.append(part.substr(0, eq + 1));
      if (eq + 1 < part.size()) out += "***";
    } else if (!part.empty()) {
      out += "***";
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string Redactor::operator()(std::string_view text) const {
  std::string out(text);
  for (const auto& s : secrets_) {
    size_t pos = 0;
    while ((pos = out.find(s, pos)) != std::string::npos) {
      out.replace(pos, s.size(), "***");
      pos += 3;
    }
  }
  // The credential parts of every URL in the text, found by structure: the
  // userinfo ("scheme://***@host") and query values ("?token=***"), also of
  // URLs we were not told about (e.g. in a server's redirect).
  size_t pos = 0;
  while ((pos = out.find("://", pos)) != std::string::npos) {
    const size_t start = pos + 3;
    size_t end = url_end(out, start);
    size_t authority_end = out.find_first_of("/?#", start);
    if (authority_end == std::string::npos || authority_end > end) authority_end = end;
    size_t at = out.rfind('@', authority_end);
    if (at != std::string::npos && at >= start && out.compare(start, at - start, "***") != 0) {
      out.replace(start, at - start, "***");
      end = url_end(out, start);
    }
    size_t q = out.find('?', start);
    if (q != std::string::npos && q < end) {
      size_t q_end = out.find('#', q);
      if (q_end == std::string::npos || q_end > end) q_end = end;
      const std::string redacted = redact_query(std::string_view(out).substr(q + 1, q_end - q - 1));
      out.replace(q + 1, q_end - q - 1, redacted);
      end = url_end(out, start);
    }
    pos = end;
  }
  return out;
}

std::string last_error_message(int rc) {
  const git_error* e = git_error_last();
  if (e != nullptr && e->message != nullptr && *e->message != '\0') return e->message;
  return fmt::format("libgit2 error {}", rc);
}

void check(int rc, std::string_view what, const Redactor* redact, ErrorCode code) {
  if (rc >= 0) return;
  std::string msg = fmt::format("{}: {}", what, last_error_message(rc));
  throw Error(code, redact != nullptr ? (*redact)(msg) : redact_url(msg));
}

std::string oid_hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof(buf), &oid);
  return buf;
}

std::string short_hex(const git_oid& oid) {
  return oid_hex(oid).substr(0, 12);
}

namespace {

// A ref lock is held for the few microseconds of one rename; 100 tries
// over about a second outlast any honest holder.
template <typename F>
int retry_while_locked(F f) {
  int rc = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    rc = f();
    if (rc != GIT_ELOCKED) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + attempt % 10));
  }
  return rc;
}

// Whether the file at path was last modified longer ago than age.
bool older_than(FileSystem& fs, const std::string& path, std::chrono::seconds age) {
  std::optional<FileInfo> info;
  try {
    info = fs.open_dir(parent_path(path))->stat(base_name(path));
  } catch (const Error&) {
    return false;  // gone already (its holder finished) or unreadable: leave it
  }
  return info && std::chrono::system_clock::now() - info->mtime > age;
}

}  // namespace

// Refs under refs/strata/ (the remote tips) are written by strata alone,
// and only while holding the ref-writer flock in the git directory. A
// ref's .lock file seen while holding it was left by a process killed
// between creating and renaming it: libgit2 never removes such a lock, so it
// would fail every later write of the ref (and so every archive and
// recovery) for good. It is removed and the write tried again. The archive
// branch is written under the same flock, but a git command may hold its
// lock too (GIT_REPO_DIR can be any repository): its lock counts as stale
// only once it is older than any honest holder's.
int write_ref(git_repository* repo, const std::string& refname, const std::function<int()>& f) {
  const bool strata_only = refname.starts_with("refs/strata/");
  FileSystem& fs = FileSystem::real();
  const std::string gitdir = git_repository_path(repo);  // ends in '/'
  auto dir = fs.open_dir(gitdir);
  auto held = dir->lock("strata-refs.lock");
  int rc = strata_only ? f() : retry_while_locked(f);
  if (rc != GIT_ELOCKED) return rc;
  const std::string stale = gitdir + refname + ".lock";
  if (!fs.exists(stale)) return f();
  if (!strata_only && !older_than(fs, stale, std::chrono::seconds(10))) return rc;
  spdlog::warn("removing {}: a lock left by a strata process that was killed while writing it",
               stale);
  fs.remove(stale);
  return f();
}

void record_ref(git_repository* repo, const std::string& refname, const git_oid& oid,
                const char* log_message, std::string_view what, const Redactor* redact) {
  int rc = write_ref(repo, refname, [&] {
    git_reference* ref = nullptr;
    int r = git_reference_create(&ref, repo, refname.c_str(), &oid, 1, log_message);
    git_reference_free(ref);
    return r;
  });
  check(rc, what, redact);
}

void forget_ref(git_repository* repo, const std::string& refname, std::string_view what,
                const Redactor* redact) {
  int rc = write_ref(repo, refname, [&] {
    git_reference* ref = nullptr;
    int r = git_reference_lookup(&ref, repo, refname.c_str());
    if (r == GIT_ENOTFOUND) return 0;
    if (r == 0) r = git_reference_delete(ref);
    git_reference_free(ref);
    return r == GIT_ENOTFOUND ? 0 : r;
  });
  check(rc, what, redact);
}

bool lookup_ref_oid(git_repository* repo, const std::string& refname, git_oid* out) {
  int rc = git_reference_name_to_id(out, repo, refname.c_str());
  if (rc == GIT_ENOTFOUND) return false;
  check(rc, fmt::format("reading {}", refname));
  return true;
}

}  // namespace strata::git
