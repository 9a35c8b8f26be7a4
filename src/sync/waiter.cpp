// wait_confirmed: waiters name the seq they need; one worker thread runs
// syncs back to back while any waiter needs more than is confirmed, so a
// burst of waiters shares each sync (and each manifest write) instead of
// starting one apiece.
#include <fmt/format.h>

#include "sync/sync_impl.h"

namespace strata {

void ObjectStoreSync::Impl::run_worker() {
  // Set by wait_confirmed before the thread starts.
  MutexLock lk(wait_mu);
  while (!stopping) {
    wait_cv.wait(lk, [&]() REQUIRES(wait_mu) { return stopping || wanted_seq > confirmed.load(); });
    if (stopping) break;
    const uint64_t before = confirmed.load();
    lk.unlock();
    std::string error;
    try {
      self->sync();
    } catch (const std::exception& e) {
      error = e.what();
    }
    lk.lock();
    wait_error = error.empty() ? std::string() : error;
    sync_rounds++;
    wait_cv.notify_all();
    // No progress (a failure, or the seq is not durable yet): pause before
    // the next round rather than hammer the store.
    if (confirmed.load() == before) {
      wait_cv.wait_for(lk, std::chrono::milliseconds(std::min<uint64_t>(opt.interval_ms, 1000)),
                       [&]() REQUIRES(wait_mu) { return stopping; });
    }
  }
}

WaitResult ObjectStoreSync::wait_confirmed(uint64_t seq, std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lk(im.wait_mu);
  if (im.confirmed.load() < seq) {
    im.wanted_seq = std::max(im.wanted_seq, seq);
    if (!im.worker.joinable()) {
      im.self = this;
      im.worker = std::thread([&im] { im.run_worker(); });
    }
    im.wait_cv.notify_all();
    im.wait_cv.wait_until(lk, deadline, [&]() REQUIRES(im.wait_mu) {
      return im.stopping || im.confirmed.load() >= seq;
    });
  }
  WaitResult r;
  r.confirmed_seq = im.confirmed.load();
  r.confirmed = r.confirmed_seq >= seq;
  r.last_error = im.wait_error;
  return r;
}

}  // namespace strata
