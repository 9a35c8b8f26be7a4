#include "git/git_util.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "git/deadline_stream.h"
#include "strata/git_sync.h"

namespace strata::git {

void ensure_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (git_libgit2_init() < 0) {
      throw Error(ErrorCode::kGitError, "libgit2 failed to initialize");
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
  std::string_view userinfo = authority.substr(0, at);
  add_secret(std::string(userinfo));
  size_t colon = userinfo.find(':');
  if (colon != std::string_view::npos) add_secret(std::string(userinfo.substr(colon + 1)));
}

std::string Redactor::operator()(std::string_view text) const {
  std::string out(text);
  for (const auto& s : secrets_) {
    size_t pos = 0;
    while ((pos = out.find(s, pos)) != std::string::npos) {
      out.replace(pos, s.size(), "***");
      pos += 3;
    }
  }
  // Userinfo of URLs we were not told about (e.g. in a server's redirect).
  size_t pos = 0;
  while ((pos = out.find("://", pos)) != std::string::npos) {
    size_t start = pos + 3;
    size_t end = out.find_first_of("/ \t\n'\"", start);
    if (end == std::string::npos) end = out.size();
    size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start && out.compare(start, at - start, "***") != 0) {
      out.replace(start, at - start, "***");
      end = start + 3 + (end - at);
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

bool lookup_ref_oid(git_repository* repo, const std::string& refname, git_oid* out) {
  int rc = git_reference_name_to_id(out, repo, refname.c_str());
  if (rc == GIT_ENOTFOUND) return false;
  check(rc, fmt::format("reading {}", refname));
  return true;
}

}  // namespace strata::git
