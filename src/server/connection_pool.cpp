#include "server/connection_pool.h"

namespace strata::server {

namespace {

thread_local bool t_shedding = false;

}  // namespace

ConnectionPool::ConnectionPool(size_t workers, std::function<void()> on_worker_start)
    : workers_(workers) {
  {
    MutexLock lock(mu_);
    idle_ = workers;
  }
  for (size_t i = 0; i < workers; ++i) {
    threads_.emplace_back([this, on_worker_start] {
      if (on_worker_start) on_worker_start();
      work();
    });
  }
}

void ConnectionPool::enqueue(std::function<void()> fn) {
  {
    MutexLock lock(mu_);
    if (idle_ > jobs_.size()) {
      jobs_.push_back(std::move(fn));
      cv_.notify_one();
      return;
    }
  }
  if (!shed_on_thread(fn)) shed(fn);
}

bool ConnectionPool::shed_on_thread(std::function<void()> fn) {
  MutexLock lock(mu_);
  if (shedding_ >= kShedThreads) return false;
  shedding_++;
  std::thread([this, f = std::move(fn)] {
    shed(f);
    MutexLock lk(mu_);
    shedding_--;
    shed_cv_.notify_all();
  }).detach();
  return true;
}

size_t ConnectionPool::busy() const {
  MutexLock lock(mu_);
  return workers_ - idle_ + jobs_.size();
}

void ConnectionPool::shutdown() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  MutexLock lock(mu_);
  shed_cv_.wait(lock, [&]() REQUIRES(mu_) { return shedding_ == 0; });
}

bool ConnectionPool::shedding() {
  return t_shedding;
}

void ConnectionPool::shed(const std::function<void()>& fn) {
  t_shedding = true;
  fn();
  t_shedding = false;
}

void ConnectionPool::work() {
  MutexLock lock(mu_);
  while (true) {
    cv_.wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, nothing left
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    idle_--;
    lock.unlock();
    fn();
    lock.lock();
    idle_++;
  }
}

}  // namespace strata::server
