#include "git/remote.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "git/deadline_stream.h"
#include "strata/hash.h"

namespace strata::git {

namespace {

// State shared with libgit2's callbacks for one network operation.
struct CallbackState {
  const GitSyncConfig* config = nullptr;
  git_repository* repo = nullptr;
  unsigned offered_types = 0;  // credential types already tried
  bool auth_failed = false;
  std::string auth_message;
  std::string rejected;  // a ref update the server refused, with its reason
  bool non_fast_forward = false;
  std::string conflict_message;
  git_oid pushed{};  // what the push sends (the local ref when the push started)
};

bool deadline_passed() {
  DeadlineScope* d = current_deadline();
  if (d != nullptr && d->expired()) {
    d->mark_timed_out();
    return true;
  }
  return false;
}

int on_transfer(const git_indexer_progress*, void*) {
  return deadline_passed() ? -1 : 0;
}
int on_push_transfer(unsigned, unsigned, size_t, void*) {
  return deadline_passed() ? -1 : 0;
}
int on_pack(int, uint32_t, uint32_t, void*) {
  return deadline_passed() ? -1 : 0;
}
int on_sideband(const char*, int, void*) {
  return deadline_passed() ? -1 : 0;
}

int on_credentials(git_credential** out, const char* /*url*/, const char* user_from_url,
                   unsigned int allowed, void* payload) {
  auto* st = static_cast<CallbackState*>(payload);
  const GitSyncConfig& cfg = *st->config;
  auto fail = [st](std::string why) {
    st->auth_failed = true;
    st->auth_message = std::move(why);
    git_error_set_str(GIT_ERROR_NET, st->auth_message.c_str());
    return GIT_EAUTH;
  };
  // libgit2 asks again after the server refused what we gave: trying the
  // same credentials again would loop until the deadline.
  auto first_time = [st](unsigned type) {
    if (st->offered_types & type) return false;
    st->offered_types |= type;
    return true;
  };
  std::string user = user_from_url != nullptr && *user_from_url != '\0' ? user_from_url : "";
  if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
    if (cfg.token.empty()) return fail("the remote asks for a password: set GIT_TOKEN");
    if (!first_time(GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
      return fail("the remote refused the credentials (GIT_TOKEN)");
    }
    // Token-based hosts accept any user name; this one is the usual convention.
    return git_credential_userpass_plaintext_new(
        out, user.empty() ? "x-access-token" : user.c_str(), cfg.token.c_str());
  }
  if (allowed & GIT_CREDENTIAL_SSH_KEY) {
    if (!first_time(GIT_CREDENTIAL_SSH_KEY)) {
      return fail(cfg.ssh_key.empty() ? "the remote refused the SSH agent's keys"
                                      : "the remote refused the key in GIT_SSH_KEY");
    }
    if (user.empty()) user = "git";
    if (!cfg.ssh_key.empty()) {
      std::string pub = cfg.ssh_key + ".pub";
      bool has_pub = std::filesystem::exists(pub);
      return git_credential_ssh_key_new(
          out, user.c_str(), has_pub ? pub.c_str() : nullptr, cfg.ssh_key.c_str(),
          cfg.ssh_passphrase.empty() ? nullptr : cfg.ssh_passphrase.c_str());
    }
    if (std::getenv("SSH_AUTH_SOCK") != nullptr) {
      return git_credential_ssh_key_from_agent(out, user.c_str());
    }
    return fail("the remote asks for an SSH key: set GIT_SSH_KEY or run an SSH agent");
  }
  if (allowed & GIT_CREDENTIAL_USERNAME) {
    if (!first_time(GIT_CREDENTIAL_USERNAME)) return fail("the remote refused the user name");
    return git_credential_username_new(out, user.empty() ? "git" : user.c_str());
  }
  return fail("the remote asks for a kind of credentials strata does not provide");
}

int on_push_negotiation(const git_push_update** updates, size_t len, void* payload) {
  auto* st = static_cast<CallbackState*>(payload);
  for (size_t i = 0; i < len; ++i) {
    const git_push_update* u = updates[i];
    st->pushed = u->dst;
    if (git_oid_is_zero(&u->src) || git_oid_equal(&u->src, &u->dst)) continue;
    bool ff = false;
    git_odb* odb = nullptr;
    if (git_repository_odb(&odb, st->repo) == 0) {
      OdbPtr owner(odb);
      if (git_odb_exists(odb, &u->src) == 1) {
        ff = git_graph_descendant_of(st->repo, &u->dst, &u->src) == 1;
      }
    }
    if (!ff) {
      st->non_fast_forward = true;
      st->conflict_message = fmt::format(
          "the remote's {} moved to {} since it was fetched; {} is not a fast-forward of it",
          u->dst_refname, short_hex(u->src), short_hex(u->dst));
      git_error_set_str(GIT_ERROR_REFERENCE, st->conflict_message.c_str());
      return -1;
    }
  }
  return 0;
}

int on_update_reference(const char* refname, const char* status, void* payload) {
  auto* st = static_cast<CallbackState*>(payload);
  if (status != nullptr) st->rejected = fmt::format("{}: {}", refname, status);
  return 0;
}

git_remote_callbacks make_callbacks(CallbackState* st) {
  git_remote_callbacks cb;
  git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
  cb.credentials = on_credentials;
  cb.transfer_progress = on_transfer;
  cb.push_transfer_progress = on_push_transfer;
  cb.pack_progress = on_pack;
  cb.sideband_progress = on_sideband;
  cb.push_negotiation = on_push_negotiation;
  cb.push_update_reference = on_update_reference;
  cb.payload = st;
  return cb;
}

// Converts a failed libgit2 network call into the right strata::Error.
[[noreturn]] void fail_network(int rc, std::string_view what, const DeadlineScope& scope,
                               const CallbackState& st, const GitSyncConfig& cfg,
                               const Redactor& redact) {
  if (scope.timed_out()) {
    throw Error(ErrorCode::kTimeout,
                redact(fmt::format("{}: no answer within GIT_TIMEOUT_MS ({} ms)", what,
                                   cfg.timeout.count())));
  }
  if (st.non_fast_forward)
    throw Error(ErrorCode::kGitConflict, redact(fmt::format("{}: {}", what, st.conflict_message)));
  if (st.auth_failed) {
    throw Error(ErrorCode::kGitError,
                redact(fmt::format("{}: authentication failed: {}", what, st.auth_message)));
  }
  throw Error(ErrorCode::kGitError, redact(fmt::format("{}: {}", what, last_error_message(rc))));
}

}  // namespace

bool remote_is_url(std::string_view remote) {
  return remote.find(':') != std::string_view::npos || remote.starts_with("/") ||
         remote.starts_with(".");
}

void validate_remote(std::string_view remote) {
  if (remote.empty()) return;
  auto bad = [](const std::string& why) {
    throw Error(ErrorCode::kConfigInvalid, "GIT_REMOTE: " + why);
  };
  if (remote.front() == '-') bad("must not start with '-'");
  for (unsigned char c : remote) {
    if (c <= 0x20 || c == 0x7f) bad("must not contain whitespace or control characters");
  }
  if (remote_is_url(remote)) return;
  ensure_libgit2();
  int valid = 0;
  std::string name(remote);
  if (git_remote_name_is_valid(&valid, name.c_str()) < 0 || !valid) {
    bad(fmt::format("'{}' is neither a URL nor a valid remote name", name));
  }
}

namespace {

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string without_trailing_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string normalized_url(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    // scp-like "user@host:path", or a local path.
    const size_t colon = url.find(':');
    const size_t slash = url.find('/');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) {
      std::string_view host = url.substr(0, colon);
      if (size_t at = host.rfind('@'); at != std::string_view::npos) host = host.substr(at + 1);
      return "ssh://" + lower_ascii(host) + "/" +
             without_trailing_slashes(std::string(url.substr(colon + 1)));
    }
    return without_trailing_slashes(
        std::filesystem::absolute(std::filesystem::path(std::string(url)))
            .lexically_normal()
            .string());
  }
  const std::string scheme = lower_ascii(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  if (scheme == "file") return normalized_url(path.empty() ? "/" : path);
  return scheme + "://" + lower_ascii(authority) + without_trailing_slashes(std::string(path));
}

}  // namespace

std::string remote_identity(git_repository* repo, std::string_view remote) {
  if (remote.empty()) return "";
  if (remote_is_url(remote)) return normalized_url(remote);
  git_remote* r = nullptr;
  const std::string name(remote);
  if (git_remote_lookup(&r, repo, name.c_str()) == 0) {
    RemotePtr owner(r);
    if (const char* url = git_remote_url(r)) return normalized_url(url);
  }
  // Not configured (yet): every operation fails on it; name it by its name.
  return "remote:" + name;
}

std::string tracking_ref_for(std::string_view identity, std::string_view branch) {
  return fmt::format("refs/strata/remotes/{}/{}", sha256_hex(identity).substr(0, 16), branch);
}

RemoteSession::RemoteSession(git_repository* repo, const GitSyncConfig& config, Redactor& redact)
    : repo_(repo), config_(config), redact_(redact) {
  git_remote* r = nullptr;
  if (remote_is_url(config.remote)) {
    redact_.add_url(config.remote);
    check(git_remote_create_anonymous(&r, repo, config.remote.c_str()), "opening GIT_REMOTE",
          &redact_);
  } else {
    int rc = git_remote_lookup(&r, repo, config.remote.c_str());
    if (rc == GIT_ENOTFOUND) {
      throw Error(ErrorCode::kConfigInvalid, fmt::format("GIT_REMOTE: no remote named '{}' in {}",
                                                         config.remote, config.repo_dir));
    }
    check(rc, "opening GIT_REMOTE", &redact_);
    if (const char* url = git_remote_url(r)) redact_.add_url(url);
    if (const char* url = git_remote_pushurl(r)) redact_.add_url(url);
  }
  remote_.reset(r);
  const char* url = git_remote_url(r);
  display_url_ = redact_(url != nullptr ? url : config.remote);
}

std::optional<git_oid> RemoteSession::fetch_branch(const std::string& branch,
                                                   const std::string& tracking_ref) {
  const std::string what = fmt::format("fetching {} from {}", branch, display_url_);
  const std::string remote_ref = "refs/heads/" + branch;
  DeadlineScope scope(config_.timeout);
  CallbackState st;
  st.config = &config_;
  st.repo = repo_;
  git_remote_callbacks cb = make_callbacks(&st);

  int rc = git_remote_connect(remote_.get(), GIT_DIRECTION_FETCH, &cb, nullptr, nullptr);
  if (rc < 0) fail_network(rc, what, scope, st, config_, redact_);
  struct Disconnect {
    git_remote* r;
    ~Disconnect() { git_remote_disconnect(r); }
  } disconnect{remote_.get()};

  const git_remote_head** heads = nullptr;
  size_t count = 0;
  rc = git_remote_ls(&heads, &count, remote_.get());
  if (rc < 0) fail_network(rc, what, scope, st, config_, redact_);
  std::optional<git_oid> tip;
  for (size_t i = 0; i < count; ++i) {
    if (remote_ref == heads[i]->name) tip = heads[i]->oid;
  }

  if (!tip) {
    forget_ref(repo_, tracking_ref, "forgetting the remote tip", &redact_);
    return std::nullopt;
  }

  git_odb* odb_raw = nullptr;
  check(git_repository_odb(&odb_raw, repo_), "opening the object database", &redact_);
  OdbPtr odb(odb_raw);
  if (git_odb_exists(odb.get(), &*tip) != 1) {
    git_fetch_options opts;
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    opts.callbacks = cb;
    opts.update_fetchhead = 0;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    opts.prune = GIT_FETCH_NO_PRUNE;
    char* spec = const_cast<char*>(remote_ref.c_str());
    git_strarray specs{&spec, 1};
    rc = git_remote_download(remote_.get(), &specs, &opts);
    if (rc < 0) fail_network(rc, what, scope, st, config_, redact_);
    if (git_odb_exists(odb.get(), &*tip) != 1) {
      throw Error(
          ErrorCode::kGitError,
          fmt::format("{}: the remote advertised {} but did not send it", what, short_hex(*tip)));
    }
  }
  record_ref(repo_, tracking_ref, *tip, "strata: remote tip after fetch",
             "recording the remote tip", &redact_);
  return tip;
}

git_oid RemoteSession::push_branch(const std::string& branch) {
  const std::string what = fmt::format("pushing {} to {}", branch, display_url_);
  const std::string refspec = fmt::format("refs/heads/{0}:refs/heads/{0}", branch);
  DeadlineScope scope(config_.timeout);
  CallbackState st;
  st.config = &config_;
  st.repo = repo_;
  git_push_options opts;
  git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
  opts.callbacks = make_callbacks(&st);
  char* spec = const_cast<char*>(refspec.c_str());
  git_strarray specs{&spec, 1};
  int rc = git_remote_push(remote_.get(), &specs, &opts);
  if (rc < 0) fail_network(rc, what, scope, st, config_, redact_);
  if (!st.rejected.empty()) {
    bool non_ff = st.rejected.find("non-fast-forward") != std::string::npos ||
                  st.rejected.find("fetch first") != std::string::npos;
    throw Error(non_ff ? ErrorCode::kGitConflict : ErrorCode::kGitError,
                redact_(fmt::format("{}: the remote refused {}", what, st.rejected)));
  }
  return st.pushed;
}

}  // namespace strata::git
