#include "git/deadline_stream.h"

#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "strata/error.h"

namespace strata::git {

namespace {

thread_local DeadlineScope* t_current = nullptr;

// The layout must match libgit2's private git_socket_stream: its SSH
// transport takes the socket straight out of whatever standard stream it was
// given (`GIT_CONTAINER_OF(io, git_socket_stream, parent)->s`).
struct SocketStream {
  git_stream parent;
  char* host;
  char* port;
  int s;
};

void set_net_error(const std::string& msg) {
  git_error_set_str(GIT_ERROR_NET, msg.c_str());
}

// Waits for `events` on fd until the active deadline. Returns 1 when ready,
// 0 on timeout (after recording it), -1 on a poll error.
int wait_for(int fd, short events) {
  DeadlineScope* scope = current_deadline();
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = scope != nullptr ? scope->remaining_ms() : -1;
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return 1;
    if (rc == 0) {
      if (scope != nullptr) scope->mark_timed_out();
      return 0;
    }
    if (errno != EINTR) return -1;
  }
}

int stream_connect(git_stream* stream) {
  auto* st = reinterpret_cast<SocketStream*>(stream);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* info = nullptr;
  if (int rc = ::getaddrinfo(st->host, st->port, &hints, &info); rc != 0) {
    set_net_error(fmt::format("failed to resolve address for {}: {}", st->host, gai_strerror(rc)));
    return -1;
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* p = info; p != nullptr; p = p->ai_next) {
    fd = ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, p->ai_addr, p->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      int ready = wait_for(fd, POLLOUT);
      if (ready == 1) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        rc = soerr == 0 ? 0 : -1;
        errno = soerr;
      } else if (ready == 0) {
        ::close(fd);
        ::freeaddrinfo(info);
        set_net_error(fmt::format("failed to connect to {}:{}: timed out", st->host, st->port));
        return -1;
      }
    }
    if (rc == 0) break;
    last_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(info);
  if (fd < 0) {
    set_net_error(fmt::format("failed to connect to {}:{}: {}", st->host, st->port, last_error));
    return -1;
  }
  // Stays non-blocking: reads and writes poll against the deadline, and
  // libssh2 (in its blocking mode) handles EAGAIN itself.
  st->s = fd;
  return 0;
}

ssize_t stream_read(git_stream* stream, void* data, size_t len) {
  auto* st = reinterpret_cast<SocketStream*>(stream);
  for (;;) {
    ssize_t n = ::recv(st->s, data, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      set_net_error(
          fmt::format("error receiving data from {}: {}", st->host, std::strerror(errno)));
      return -1;
    }
    int ready = wait_for(st->s, POLLIN);
    if (ready == 0) {
      set_net_error(fmt::format("reading from {}: timed out", st->host));
      return -1;
    }
    if (ready < 0) {
      set_net_error(fmt::format("polling {}: {}", st->host, std::strerror(errno)));
      return -1;
    }
  }
}

ssize_t stream_write(git_stream* stream, const char* data, size_t len, int /*flags*/) {
  auto* st = reinterpret_cast<SocketStream*>(stream);
  for (;;) {
    // MSG_NOSIGNAL: a peer that hung up must be an error, not a SIGPIPE.
    ssize_t n = ::send(st->s, data, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      set_net_error(fmt::format("error sending data to {}: {}", st->host, std::strerror(errno)));
      return -1;
    }
    int ready = wait_for(st->s, POLLOUT);
    if (ready == 0) {
      set_net_error(fmt::format("writing to {}: timed out", st->host));
      return -1;
    }
    if (ready < 0) {
      set_net_error(fmt::format("polling {}: {}", st->host, std::strerror(errno)));
      return -1;
    }
  }
}

int stream_close(git_stream* stream) {
  auto* st = reinterpret_cast<SocketStream*>(stream);
  int rc = 0;
  if (st->s >= 0) rc = ::close(st->s);
  st->s = -1;
  return rc;
}

void stream_free(git_stream* stream) {
  auto* st = reinterpret_cast<SocketStream*>(stream);
  if (st->s >= 0) ::close(st->s);
  std::free(st->host);
  std::free(st->port);
  std::free(st);
}

int stream_init(git_stream** out, const char* host, const char* port) {
  auto* st = static_cast<SocketStream*>(std::calloc(1, sizeof(SocketStream)));
  if (st == nullptr) return -1;
  st->host = ::strdup(host);
  st->port = ::strdup(port != nullptr ? port : "");
  if (st->host == nullptr || st->port == nullptr) {
    stream_free(&st->parent);
    return -1;
  }
  st->s = -1;
  st->parent.version = GIT_STREAM_VERSION;
  st->parent.connect = stream_connect;
  st->parent.read = stream_read;
  st->parent.write = stream_write;
  st->parent.close = stream_close;
  st->parent.free = stream_free;
  *out = &st->parent;
  return 0;
}

}  // namespace

DeadlineScope::DeadlineScope(std::chrono::milliseconds budget)
    : deadline_(std::chrono::steady_clock::now() + budget), previous_(t_current) {
  t_current = this;
}

DeadlineScope::~DeadlineScope() {
  t_current = previous_;
}

int DeadlineScope::remaining_ms() const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline_ - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

DeadlineScope* current_deadline() {
  return t_current;
}

void install_deadline_stream() {
  git_stream_registration reg{};
  reg.version = GIT_STREAM_VERSION;
  reg.init = stream_init;
  reg.wrap = nullptr;
  if (git_stream_register(GIT_STREAM_STANDARD, &reg) != 0) {
    const git_error* e = git_error_last();
    throw Error(ErrorCode::kGitError,
                fmt::format("registering the socket stream: {}", e ? e->message : "unknown error"));
  }
}

}  // namespace strata::git
