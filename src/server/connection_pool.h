// The HTTP server's workers: a fixed set of threads, one connection each
// (httplib serves a keep-alive connection on one thread until it closes). A
// connection that finds every worker serving another is not queued behind
// them: it is answered 503 on a shedding thread (at most kShedThreads at
// once, else on the accept thread itself, which then pushes back through
// the listen backlog).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include <httplib.h>

#include "common/thread_annotations.h"

namespace strata::server {

class ConnectionPool : public httplib::TaskQueue {
 public:
  // on_worker_start runs on each worker thread before it serves anything
  // (tests hold the workers back with it; nullptr: nothing).
  explicit ConnectionPool(size_t workers, std::function<void()> on_worker_start = nullptr);
  ~ConnectionPool() override = default;

  void enqueue(std::function<void()> fn) override EXCLUDES(mu_);
  void shutdown() override EXCLUDES(mu_);

  // Workers serving a connection or about to (queued jobs count).
  size_t busy() const EXCLUDES(mu_);
  // Runs fn as a shed connection (shedding() true) on a shedding thread;
  // false, without running it, when all kShedThreads are in use (the event
  // loop must not block on one, so the caller just closes the socket).
  bool shed_on_thread(std::function<void()> fn) EXCLUDES(mu_);

  // Whether the calling thread serves a connection no worker was free for
  // (every request on it is answered 503).
  static bool shedding();

 private:
  static constexpr size_t kShedThreads = 4;
  static void shed(const std::function<void()>& fn);
  void work() EXCLUDES(mu_);

  const size_t workers_;
  mutable Mutex mu_;
  std::condition_variable cv_;
  std::condition_variable shed_cv_;
  std::deque<std::function<void()>> jobs_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // made by the constructor, joined by shutdown
  // Workers not serving a connection, counted from their creation: one that
  // has not reached its first wait yet (a loaded machine may take a while
  // to schedule 64 new threads) is free all the same, and takes the queued
  // connection as soon as it runs.
  size_t idle_ GUARDED_BY(mu_) = 0;
  size_t shedding_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace strata::server
