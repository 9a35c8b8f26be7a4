// The HTTP server's front: one epoll thread owns every accepted connection
// and answers the one request that appends take (POST /v1/entries, as
// fast_request.h recognizes it) for all ready connections together, while
// anything else is handed over, with the bytes already read, to the
// thread-per-connection path under cpp-httplib (HttpServer's workers).
//
// Why (docs/performance.md, "Appends over HTTP"): with a thread per
// connection every append costs three wake-ups in sequence (the worker on
// the request, the worker when its group is durable, the client on the
// answer) and about 125 µs of CPU in httplib's parser and stream. Here a
// readiness round reads every ready connection, decodes the bodies with
// the routes' entry JSON code and hands the whole round to a committer
// thread, which appends it with one append_batch (each request stays atomic
// inside it; if the call fails each request is retried on its own, so one
// bad request never fails another), writes each answer with one send, and
// gives the connections back; meanwhile the loop reads the next round.
//
// Ownership: a connection belongs to the loop thread, except while a batch
// holding its requests is with a committer (`committing`); the committer
// returns it through a mutex-guarded list and an eventfd, so no field is
// ever touched by two threads at once. Sockets are non-blocking and
// registered once, edge-triggered; a slow reader's answers wait in its
// buffer (nothing more of it is parsed meanwhile), bounded by the write
// timeout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/thread_annotations.h"
#include "server/fast_request.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "strata/hash.h"
#include "strata/wal.h"

namespace strata::server {

class EventLoop {
 public:
  struct Hooks {
    // The connection continues on the thread-per-connection path; preread:
    // what the loop received of it and did not answer.
    std::function<void(int fd, std::string preread)> hand_over;
    // One connection too many: answered 503 elsewhere, or just closed.
    std::function<void(int fd)> shed;
    // Connections served by the other path (they count against the limit).
    std::function<size_t()> busy_elsewhere;
  };
  // Committer threads. Each round goes to a free one, which waits in the
  // WAL's commit pipeline, so the rounds read while a group syncs join the
  // next group there (the WAL's leader takes everything pending). Four beat
  // two (a round waited in this queue while the pipeline had room) and
  // eight or sixteen (more wake-ups for the same groups): measured in
  // docs/performance.md, "An event loop for appends".
  static constexpr size_t kCommitters = 4;

  // listen_fd: bound and listening; the loop accepts on it (and closes it at
  // stop). wal: where appends go (nullptr: every request is handed over).
  EventLoop(int listen_fd, const HttpLimits& limits, const std::string& token, Metrics& metrics,
            Wal* wal, Hooks hooks);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void start();
  // Stops accepting, answers every request already received (in a batch or
  // buffered), closes idle connections, then returns with every thread
  // joined. Requests still arriving on other connections are handed over
  // or cut off by the read timeout.
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn;
  struct Job;

  void run();
  void commit_loop() EXCLUDES(mu_);
  void commit(std::vector<Job>& jobs);
  void give_back(std::vector<Conn*>& conns) EXCLUDES(mu_);

  // Loop thread only.
  void accept_all(Clock::time_point now);
  void service(Conn& c, std::vector<Job>& round, Clock::time_point now);
  void parse(Conn& c, std::vector<Job>& round, Clock::time_point now);
  bool token_ok(const FastRequest& r) const;
  void hand_over(Conn& c);
  void watch_writable(Conn& c, bool on);
  void close_conn(Conn& c);
  void sweep(Clock::time_point now);
  void note_deadline(const Conn& c);
  void dispatch(std::vector<Job>& round) EXCLUDES(mu_);

  const int listen_fd_;
  const HttpLimits limits_;
  const bool check_token_;
  const Sha256Digest token_digest_;
  Metrics& metrics_;
  Wal* const wal_;
  const Hooks hooks_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop, and connections given back

  // Loop thread only.
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  size_t committing_ = 0;
  bool stop_seen_ = false;
  Clock::time_point next_sweep_ = Clock::time_point::max();
  // What one recv takes, before it is appended to a connection's buffer (a
  // member, not thread_local: static TLS would cost every one of the pool's
  // threads this much resident memory).
  std::vector<char> read_buf_ = std::vector<char>(64 << 10);

  Mutex mu_;
  std::condition_variable work_cv_;
  std::deque<std::vector<Job>> queue_ GUARDED_BY(mu_);
  std::vector<Conn*> returned_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;  // stop() was called
  bool quitting_ GUARDED_BY(mu_) = false;  // the loop is done: committers end
  std::thread loop_thread_;
  std::vector<std::thread> committers_;
};

}  // namespace strata::server
