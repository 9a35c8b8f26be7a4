#include "server/event_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "server/entry_json.h"
#include "strata/error.h"

namespace strata::server {

namespace {

constexpr std::string_view kRoute = "/v1/entries";
constexpr std::string_view kMethod = "POST";
// What one connection may hold unparsed: the largest request the fast path
// takes, plus a read's worth.
constexpr size_t kInCap = kFastHeadMax + kFastBodyMax + (64 << 10);
constexpr int kMaxEvents = 256;

// The reason phrases of the statuses the fast path answers, as httplib
// writes them.
const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 507:
      return "Insufficient Storage";
    default:
      return "Internal Server Error";
  }
}

// The answer as httplib's write_response lays it out for these routes
// (headers in its case-insensitive order), so a client cannot tell the two
// paths apart.
void append_response(std::string& out, int status, std::string_view body, bool close) {
  fmt::format_to(std::back_inserter(out),
                 "HTTP/1.1 {} {}\r\n{}Content-Length: {}\r\nContent-Type: application/json\r\n{}"
                 "\r\n",
                 status, reason(status), close ? "Connection: close\r\n" : "", body.size(),
                 close ? "" : "Keep-Alive: timeout=5, max=1000000\r\n");
  out.append(body);
}

std::string peer_ip(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text))) return text;
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text))) return text;
  }
  return "?";
}

// Tags of the two fds that are not connections, in epoll_event.data.ptr.
char g_listen_tag;
char g_wake_tag;

}  // namespace

struct EventLoop::Conn {
  int fd = -1;
  std::string remote_ip;
  std::string in;                // received, not yet answered or handed over
  std::string out;               // answers not yet sent
  size_t out_sent = 0;           // of out
  bool failed = false;           // a send failed: close
  bool hand_over_after = false;  // a request the fast path does not take is next
  bool eof = false;              // the peer closed its side
  // Loop thread only:
  bool committing = false;    // its requests are with a committer
  bool readable = false;      // an edge arrived that was not read to EAGAIN
  bool watching_out = false;  // registered for EPOLLOUT
  size_t jobs = 0;            // in the round being built
  Clock::time_point last_io;
  std::optional<Clock::time_point> partial_since;  // first byte of an incomplete request

  bool out_pending() const { return out_sent < out.size(); }
};

struct EventLoop::Job {
  Conn* conn = nullptr;
  std::vector<Entry> entries;  // empty: status and body are the answer already
  size_t count = 0;            // entries.size() as parsed (entries may be moved out)
  bool batch = false;
  int status = 200;
  std::string body;
  Clock::time_point started;
};

EventLoop::EventLoop(int listen_fd, const HttpLimits& limits, const std::string& token,
                     Metrics& metrics, Wal* wal, Hooks hooks)
    : listen_fd_(listen_fd),
      limits_(limits),
      check_token_(!token.empty()),
      token_digest_(sha256(token)),
      metrics_(metrics),
      wal_(wal),
      hooks_(std::move(hooks)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno("cannot create the HTTP event loop", "epoll_create1", errno);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    ::close(epoll_fd_);
    throw_errno("cannot create the HTTP event loop's wake-up", "eventfd", errno);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &g_wake_tag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  ev.data.ptr = &g_listen_tag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
}

EventLoop::~EventLoop() {
  stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void EventLoop::start() {
  loop_thread_ = std::thread([this] { run(); });
  for (size_t i = 0; i < kCommitters; ++i) committers_.emplace_back([this] { commit_loop(); });
}

void EventLoop::stop() {
  if (!loop_thread_.joinable()) return;
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  loop_thread_.join();
  {
    MutexLock lock(mu_);
    quitting_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : committers_) t.join();
  committers_.clear();
}

// ---- the loop thread --------------------------------------------------------

void EventLoop::run() {
  ::pthread_setname_np(::pthread_self(), "http-loop");  // for top and perf
  epoll_event events[kMaxEvents];
  std::vector<Job> round;
  while (true) {
    int timeout = -1;
    if (next_sweep_ != Clock::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_sweep_ - Clock::now());
      timeout = static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
    }
    const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      spdlog::error("HTTP event loop: epoll_wait failed: {}", std::strerror(errno));
      break;
    }
    const Clock::time_point now = Clock::now();
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &g_listen_tag) {
        if (!stop_seen_) accept_all(now);
        continue;
      }
      if (tag == &g_wake_tag) {
        woken = true;
        continue;
      }
      Conn& c = *static_cast<Conn*>(tag);
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c.readable = true;
      if (c.committing) continue;  // served when it comes back
      service(c, round, now);
    }
    if (woken) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof(count));
      std::vector<Conn*> back;
      bool stopping = false;
      {
        MutexLock lock(mu_);
        back.swap(returned_);
        stopping = stopping_;
      }
      for (Conn* c : back) {
        c->committing = false;
        committing_--;
        service(*c, round, now);
      }
      if (stopping && !stop_seen_) {
        stop_seen_ = true;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        // What has arrived is a request in progress, even if its event is
        // not in this round: read it before idle connections are closed.
        std::vector<Conn*> all;
        for (auto& [p, c] : conns_) {
          if (!c->committing) all.push_back(p);
        }
        for (Conn* c : all) {
          c->readable = true;
          service(*c, round, now);
        }
      }
    }
    dispatch(round);
    if (stop_seen_) {
      // Whatever waits for a next request is closed; whatever is in progress
      // (in a batch, partly received, or answers unsent) goes on.
      std::vector<Conn*> idle;
      for (auto& [p, c] : conns_) {
        if (!c->committing && c->in.empty() && !c->out_pending()) idle.push_back(p);
      }
      for (Conn* c : idle) close_conn(*c);
      if (conns_.empty() && committing_ == 0) break;
    }
    if (Clock::now() >= next_sweep_) sweep(Clock::now());
  }
}

void EventLoop::accept_all(Clock::time_point now) {
  while (true) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        spdlog::warn("HTTP: accept failed: {}", std::strerror(errno));
      }
      return;
    }
    if (conns_.size() + hooks_.busy_elsewhere() >= limits_.max_connections) {
      hooks_.shed(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->remote_ip = peer_ip(addr);
    c->last_io = now;
    epoll_event ev{};
    // Edge-triggered, so a connection with its requests at a committer
    // raises no event until more arrives; EPOLLOUT only while answers wait.
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c.get();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    Conn* p = c.get();
    conns_.emplace(p, std::move(c));
    note_deadline(*p);
  }
}

void EventLoop::service(Conn& c, std::vector<Job>& round, Clock::time_point now) {
  if (c.jobs > 0) return;  // already has requests in this round
  if (c.failed) return close_conn(c);
  if (c.out_pending()) {
    while (c.out_pending()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<size_t>(n);
        c.last_io = now;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return close_conn(c);
    }
    if (c.out_pending()) {
      watch_writable(c, true);  // EPOLLOUT brings it back
      return note_deadline(c);
    }
    watch_writable(c, false);
  }
  c.out.clear();
  c.out_sent = 0;
  if (c.hand_over_after) return hand_over(c);
  while (c.readable && !c.eof && c.in.size() < kInCap) {
    const ssize_t n = ::recv(c.fd, read_buf_.data(), read_buf_.size(), MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(read_buf_.data(), static_cast<size_t>(n));
      c.last_io = now;
      continue;
    }
    if (n == 0) {
      c.eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c.readable = false;
      break;
    }
    return close_conn(c);
  }
  parse(c, round, now);
}

bool EventLoop::token_ok(const FastRequest& r) const {
  if (!check_token_) return true;
  // As HttpServer::before_routing: digests compared in constant time, so
  // neither the token's length nor its first wrong byte shows in the time.
  const Sha256Digest got = sha256(r.bearer ? r.token : std::string_view("\x01not-a-token"));
  return CRYPTO_memcmp(token_digest_.data(), got.data(), got.size()) == 0;
}

void EventLoop::parse(Conn& c, std::vector<Job>& round, Clock::time_point now) {
  size_t pos = 0;
  while (pos < c.in.size()) {
    FastRequest req;
    const FastParse r =
        wal_ ? parse_fast_request(std::string_view(c.in).substr(pos), limits_.max_body_bytes, req)
             : FastParse::kOther;
    if (r == FastParse::kNeedMore) break;
    if (r == FastParse::kOther || !token_ok(req)) {
      c.hand_over_after = true;
      break;
    }
    Job job;
    job.conn = &c;
    job.started = now;
    try {
      ParsedEntries parsed = parse_entries_body(req.body);
      job.entries = std::move(parsed.entries);
      job.count = job.entries.size();
      job.batch = parsed.batch;
    } catch (const Error& e) {
      job.status = http_status(e.code());
      job.body = error_body(e.code_name(), e.what());
    }
    round.push_back(std::move(job));
    c.jobs++;
    pos += req.length;
  }
  c.in.erase(0, pos);
  if (c.in.empty() || c.hand_over_after) {
    c.partial_since.reset();
  } else if (!c.partial_since) {
    c.partial_since = now;
  }
  if (c.jobs > 0) return;  // the rest after the committer gives it back
  if (c.hand_over_after) return hand_over(c);
  if (c.eof) return close_conn(c);  // a request cut short is never answered
  note_deadline(c);
}

void EventLoop::dispatch(std::vector<Job>& round) {
  if (round.empty()) return;
  for (Job& j : round) {
    if (j.conn->jobs == 0) continue;
    j.conn->jobs = 0;
    j.conn->committing = true;
    committing_++;
  }
  {
    MutexLock lock(mu_);
    queue_.push_back(std::move(round));
  }
  work_cv_.notify_one();
  round = {};
}

void EventLoop::watch_writable(Conn& c, bool on) {
  if (c.watching_out == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (on ? EPOLLOUT : 0u);
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.watching_out = on;
}

void EventLoop::hand_over(Conn& c) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  const int fd = c.fd;
  std::string pre = std::move(c.in);
  conns_.erase(&c);
  hooks_.hand_over(fd, std::move(pre));
}

void EventLoop::close_conn(Conn& c) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::shutdown(c.fd, SHUT_RDWR);
  ::close(c.fd);
  conns_.erase(&c);
}

void EventLoop::note_deadline(const Conn& c) {
  Clock::time_point d;
  if (c.out_pending()) {
    d = c.last_io + limits_.write_timeout;
  } else if (c.partial_since) {
    d = *c.partial_since + limits_.read_timeout;
  } else {
    d = c.last_io + limits_.idle_timeout;
  }
  next_sweep_ = std::min(next_sweep_, d);
}

void EventLoop::sweep(Clock::time_point now) {
  next_sweep_ = Clock::time_point::max();
  std::vector<Conn*> expired;
  for (auto& [p, c] : conns_) {
    if (c->committing) continue;  // the committer's answer brings it back
    const bool late = c->out_pending()   ? now >= c->last_io + limits_.write_timeout
                      : c->partial_since ? now >= *c->partial_since + limits_.read_timeout
                                         : now >= c->last_io + limits_.idle_timeout;
    if (late) {
      expired.push_back(p);
    } else {
      note_deadline(*c);
    }
  }
  for (Conn* c : expired) {
    if (c->partial_since && !c->out_pending()) {
      // Part of a request and then silence: the answer the other path gives
      // a body that does not arrive in time (HttpServer::read_body), best
      // effort (the socket is non-blocking).
      std::string out;
      append_response(out, 400,
                      error_body("BAD_REQUEST",
                                 "the body could not be read (cut short, malformed chunks, or "
                                 "slower than STRATA_READ_TIMEOUT_MS)"),
                      true);
      [[maybe_unused]] ssize_t n =
          ::send(c->fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      metrics_.count_request(kRoute, kMethod, 400,
                             std::chrono::duration<double>(now - *c->partial_since).count());
    }
    close_conn(*c);
  }
}

// ---- the committers ---------------------------------------------------------

void EventLoop::commit_loop() {
  ::pthread_setname_np(::pthread_self(), "http-commit");
  while (true) {
    std::vector<Job> jobs;
    {
      MutexLock lock(mu_);
      work_cv_.wait(lock, [&]() REQUIRES(mu_) { return quitting_ || !queue_.empty(); });
      if (queue_.empty()) return;
      // Everything queued goes into one append: the rounds read while the
      // last group was being synced form the next group.
      jobs = std::move(queue_.front());
      queue_.pop_front();
      while (!queue_.empty()) {
        for (Job& j : queue_.front()) jobs.push_back(std::move(j));
        queue_.pop_front();
      }
    }
    commit(jobs);
  }
}

void EventLoop::commit(std::vector<Job>& jobs) {
  // Each request's entries, in order, in one vector: one append_batch, all
  // or nothing, with consecutive seqs in the requests' order.
  size_t appending = 0;
  Job* only = nullptr;
  for (Job& j : jobs) {
    if (j.count == 0) continue;
    appending++;
    only = &j;
  }
  // Moved, not copied, into the group's vector (and back if it fails).
  std::vector<Entry> all;
  if (appending > 1) {
    for (Job& j : jobs) {
      std::move(j.entries.begin(), j.entries.end(), std::back_inserter(all));
    }
  }
  auto answer = [](Job& j, uint64_t last) {
    const uint64_t first = last - j.count + 1;
    j.status = 200;
    j.body = j.batch ? fmt::format(R"({{"first_seq":{},"last_seq":{},"count":{}}})", first, last,
                                   j.count)
                     : fmt::format(R"({{"seq":{}}})", last);
  };
  // What httplib's path answers for the same failure (its exception
  // handler: a strata Error by its code, anything else 500).
  struct Failure {
    int status;
    std::string body;
  };
  auto fail = [this](Job& j, const Failure& f) {
    metrics_.observe_append(0, false);
    j.status = f.status;
    j.body = f.body;
  };
  auto append_one = [this](const Job& j) {
    return j.batch ? wal_->append_batch(j.entries) : wal_->append(j.entries[0]);
  };
  if (appending > 0) {
    const auto start = Clock::now();
    std::optional<Failure> failed;
    uint64_t last = 0;
    try {
      last = appending == 1 ? append_one(*only) : wal_->append_batch(all);
    } catch (const Error& e) {
      failed = Failure{http_status(e.code()), error_body(e.code_name(), e.what())};
    } catch (const std::exception& e) {
      failed = Failure{500, error_body("INTERNAL", e.what())};
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!failed) {
      uint64_t next = last + 1;
      for (const Job& j : jobs) next -= j.count;
      for (Job& j : jobs) {
        if (j.count == 0) continue;
        next += j.count;
        metrics_.observe_append(seconds, true);
        answer(j, next - 1);
      }
    } else if (appending == 1) {
      fail(*only, *failed);
    } else {
      // Nothing of the group was written: each request on its own, so the
      // one that made it fail is the only one that is told so.
      auto from = all.begin();
      for (Job& j : jobs) {
        if (j.count == 0) continue;
        j.entries.assign(std::make_move_iterator(from), std::make_move_iterator(from + j.count));
        from += j.count;
        const auto t = Clock::now();
        try {
          const uint64_t l = append_one(j);
          metrics_.observe_append(std::chrono::duration<double>(Clock::now() - t).count(), true);
          answer(j, l);
        } catch (const Error& e) {
          fail(j, Failure{http_status(e.code()), error_body(e.code_name(), e.what())});
        } catch (const std::exception& e) {
          fail(j, Failure{500, error_body("INTERNAL", e.what())});
        }
      }
    }
  }

  std::vector<Conn*> conns;
  for (Job& j : jobs) {
    append_response(j.conn->out, j.status, j.body, false);
    if (conns.empty() || conns.back() != j.conn) conns.push_back(j.conn);
  }
  for (Conn* c : conns) {
    while (c->out_pending() && !c->failed) {
      const ssize_t n = ::send(c->fd, c->out.data() + c->out_sent, c->out.size() - c->out_sent,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        c->out_sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;  // the loop sends the rest when the socket takes it
      } else {
        c->failed = true;
      }
    }
  }
  const auto done = Clock::now();
  const bool log_ok = spdlog::should_log(spdlog::level::debug);
  for (const Job& j : jobs) {
    const double seconds = std::chrono::duration<double>(done - j.started).count();
    metrics_.count_request(kRoute, kMethod, j.status, seconds);
    const auto level = j.status >= 500   ? spdlog::level::warn
                       : j.status >= 400 ? spdlog::level::info
                                         : spdlog::level::debug;
    if (level != spdlog::level::debug || log_ok) {
      spdlog::log(level, "http POST /v1/entries {} {:.1f} ms from {}", j.status, seconds * 1000,
                  j.conn->remote_ip);
    }
  }
  // A connection appears once per batch (the loop sends a connection's
  // requests to one committer at a time), so each goes back once.
  std::sort(conns.begin(), conns.end());
  conns.erase(std::unique(conns.begin(), conns.end()), conns.end());
  give_back(conns);
}

void EventLoop::give_back(std::vector<Conn*>& conns) {
  bool wake = false;
  {
    MutexLock lock(mu_);
    wake = returned_.empty();
    returned_.insert(returned_.end(), conns.begin(), conns.end());
  }
  if (wake) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
}

}  // namespace strata::server
