#include "server/connection_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace strata::server {

namespace {

using Clock = std::chrono::steady_clock;

// 16 KiB: a request's line and headers (and a small body) arrive in one recv.
constexpr size_t kReadBuffer = 16 << 10;

// The numeric address and port of a socket's end (getpeername or getsockname).
void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text))) ip = text;
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text))) ip = text;
    port = ntohs(in6->sin6_port);
  }
}

// poll() over fds until one is ready or timeout passes, across EINTR.
// Returns poll's result (0: timed out, -1: failed).
int poll_for(pollfd* fds, nfds_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const int r = ::poll(fds, n, static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX)));
    if (r >= 0 || errno != EINTR) return r;
  }
}

}  // namespace

ConnectionStream::ConnectionStream(int fd, std::chrono::milliseconds read_timeout,
                                   std::chrono::milliseconds write_timeout,
                                   std::string_view preread)
    : fd_(fd),
      read_timeout_(read_timeout),
      write_timeout_(write_timeout),
      in_(std::max(kReadBuffer, preread.size())) {
  if (!preread.empty()) std::memcpy(in_.data(), preread.data(), preread.size());
  in_end_ = preread.size();
  address_of(fd_, true, remote_ip_, remote_port_);
  address_of(fd_, false, local_ip_, local_port_);
}

bool ConnectionStream::is_readable() const {
  if (in_begin_ < in_end_) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

bool ConnectionStream::is_writable() const {
  return !failed_;
}

bool ConnectionStream::wait(short events, std::chrono::milliseconds timeout) const {
  pollfd p{fd_, events, 0};
  // POLLHUP or POLLERR count as ready: the recv or send that follows reports them.
  return poll_for(&p, 1, timeout) > 0;
}

ssize_t ConnectionStream::fill() {
  in_begin_ = in_end_ = 0;
  while (true) {
    const ssize_t n = ::recv(fd_, in_.data(), in_.size(), MSG_DONTWAIT);
    if (n >= 0) {
      in_end_ = static_cast<size_t>(n);
      return n;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    // Nothing yet: the client may be waiting for what we wrote (100 Continue).
    if (!flush() || !wait(POLLIN, read_timeout_)) return -1;
  }
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (size == 0) return 0;
  if (in_begin_ == in_end_) {
    const ssize_t n = fill();
    if (n <= 0) return n;
  }
  const size_t take = std::min(size, in_end_ - in_begin_);
  std::memcpy(ptr, in_.data() + in_begin_, take);
  in_begin_ += take;
  return static_cast<ssize_t>(take);
}

bool ConnectionStream::send_all(const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::send(fd_, data + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait(POLLOUT, write_timeout_)) {
      continue;
    }
    failed_ = true;
    return false;
  }
  return true;
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (failed_) return -1;
  if (out_.size() + size < kFlushBytes) {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  // Large: what waits goes first, then this piece straight from the caller.
  if (!flush() || !send_all(ptr, size)) return -1;
  return static_cast<ssize_t>(size);
}

bool ConnectionStream::flush() {
  if (failed_) return false;
  const bool ok = send_all(out_.data(), out_.size());
  out_.clear();
  return ok;
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = remote_ip_;
  port = remote_port_;
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = local_ip_;
  port = local_port_;
}

ConnectionStream::Next ConnectionStream::wait_for_request(std::chrono::milliseconds idle,
                                                          int stop_fd) {
  if (in_begin_ < in_end_) return Next::kRequest;  // pipelined: already here
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  const int r = poll_for(fds, stop_fd >= 0 ? 2 : 1, idle);
  if (r < 0) return Next::kIdle;
  if (stop_fd >= 0 && (fds[1].revents & POLLIN)) return Next::kStopping;
  return r == 0 ? Next::kIdle : Next::kRequest;
}

bool serve_connection(int fd, std::chrono::milliseconds read_timeout,
                      std::chrono::milliseconds write_timeout,
                      std::chrono::milliseconds idle_timeout, size_t max_requests, int stop_fd,
                      const std::function<bool()>& running,
                      const std::function<bool(httplib::Stream&, bool close_connection,
                                               bool& connection_closed)>& process,
                      std::string_view preread) {
  bool ok = false;
  {
    ConnectionStream stream(fd, read_timeout, write_timeout, preread);
    bool in_progress = !preread.empty();
    for (size_t left = max_requests; left > 0 && (in_progress || running()); --left) {
      in_progress = false;
      if (stream.wait_for_request(idle_timeout, stop_fd) != ConnectionStream::Next::kRequest) {
        break;
      }
      bool closed = false;
      ok = process(stream, left == 1, closed);
      // The answer goes out even when process refused the rest of the
      // request (false): the client must learn why before the close.
      ok = stream.flush() && ok;
      if (!ok || closed) break;
    }
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  return ok;
}

}  // namespace strata::server
