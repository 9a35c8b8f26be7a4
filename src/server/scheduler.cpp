#include "server/scheduler.h"

#include <spdlog/spdlog.h>

#include "common/thread_annotations.h"
#include "strata/error.h"

namespace strata::server {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

std::string_view breaker_state_name(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
  }
  return "?";
}

struct Scheduler::Slot {
  Slot(std::unique_ptr<Job> j, std::chrono::milliseconds every, const Breaker& b)
      : job(std::move(j)),
        name(job->name()),
        interval(every),
        breaker(b.failures, b.reset, Clock::now, "tier " + name) {}

  std::unique_ptr<Job> job;
  const std::string name;
  const std::chrono::milliseconds interval;
  storage::CircuitBreaker breaker;
  // One run at a time: scheduled, asked for, or the last one.
  Mutex run_mu ACQUIRED_BEFORE(status_mu);

  Mutex wait_mu;
  std::condition_variable cv;
  bool kicked GUARDED_BY(wait_mu) = false;
  std::thread thread;
  bool started = false;
  std::atomic<bool> exited{false};

  mutable Mutex status_mu;
  JobStatus status GUARDED_BY(status_mu);
};

Scheduler::Scheduler(Breaker breaker, Hooks hooks) : breaker_(breaker), hooks_(std::move(hooks)) {}

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::add(std::unique_ptr<Job> job, std::chrono::milliseconds interval) {
  auto slot = std::make_unique<Slot>(std::move(job), interval, breaker_);
  {
    MutexLock lock(slot->status_mu);  // no other thread sees it yet; the analysis asks for it
    slot->status.name = slot->name;
    slot->status.target = slot->job->target();
    slot->status.stand_in = slot->job->stand_in();
    slot->status.remote = slot->job->remote();
    slot->status.confirmed_seq = slot->job->initial_confirmed_seq();
  }
  slots_.push_back(std::move(slot));
}

void Scheduler::start() {
  for (auto& slot : slots_) {
    Slot* s = slot.get();
    s->started = true;
    s->thread = std::thread([this, s] { loop(*s); });
  }
}

Scheduler::Slot* Scheduler::find(std::string_view name) const {
  for (const auto& slot : slots_) {
    if (slot->name == name) return slot.get();
  }
  return nullptr;
}

bool Scheduler::has(std::string_view name) const {
  return find(name) != nullptr;
}

JobResult Scheduler::run_locked(Slot& slot, bool* skipped) {
  MutexLock run(slot.run_mu);
  try {
    slot.breaker.acquire("tier " + slot.name);
  } catch (const Error&) {
    if (skipped) *skipped = true;
    MutexLock lock(slot.status_mu);
    slot.status.skipped++;
    throw;
  }
  {
    MutexLock lock(slot.status_mu);
    slot.status.running = true;
  }
  const auto start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  try {
    JobResult r = slot.job->run();
    slot.breaker.on_success();
    const double took = seconds();
    bool moved = false;
    uint64_t confirmed = 0;
    {
      MutexLock lock(slot.status_mu);
      JobStatus& st = slot.status;
      st.running = false;
      st.runs++;
      st.bytes += r.bytes;
      st.last_duration_s = took;
      st.total_duration_s += took;
      st.last_success = std::chrono::system_clock::now();
      st.last_summary = r.summary;
      if (r.confirmed_seq && (!st.confirmed_seq || *r.confirmed_seq > *st.confirmed_seq)) {
        st.confirmed_seq = *r.confirmed_seq;
        moved = true;
      }
      confirmed = st.confirmed_seq.value_or(0);
    }
    if (hooks_.ran) hooks_.ran(slot.name, true, took, r.bytes);
    if (moved && hooks_.confirmed) hooks_.confirmed(slot.name, confirmed);
    return r;
  } catch (const std::exception& e) {
    slot.breaker.on_failure();
    const double took = seconds();
    const auto* err = dynamic_cast<const Error*>(&e);
    {
      MutexLock lock(slot.status_mu);
      JobStatus& st = slot.status;
      st.running = false;
      st.runs++;
      st.failures++;
      st.last_duration_s = took;
      st.total_duration_s += took;
      st.last_failure = std::chrono::system_clock::now();
      st.last_error = err ? fmt::format("{}: {}", err->code_name(), err->what())
                          : fmt::format("INTERNAL: {}", e.what());
    }
    if (hooks_.ran) hooks_.ran(slot.name, false, took, 0);
    throw;
  }
}

void Scheduler::loop(Slot& slot) {
  auto next = Clock::now();  // the first run starts at once
  MutexLock lk(slot.wait_mu);
  auto woken = [&]() REQUIRES(slot.wait_mu) { return stopping_ || slot.kicked; };
  while (!stopping_) {
    if (slot.interval.count() == 0) {
      slot.cv.wait(lk, woken);
    } else {
      slot.cv.wait_until(lk, next, woken);
    }
    if (stopping_) break;
    slot.kicked = false;
    lk.unlock();
    bool skipped = false;
    try {
      JobResult r = run_locked(slot, &skipped);
      if (r.idle) {
        spdlog::debug("tier {}: {}", slot.name, r.summary);
      } else {
        spdlog::info("tier {}: {}", slot.name, r.summary);
      }
    } catch (const Error& e) {
      if (skipped) {
        spdlog::debug("tier {}: skipped: {}", slot.name, e.what());
      } else {
        spdlog::warn("tier {}: run failed: {}: {} ({} in a row, breaker {})", slot.name,
                     e.code_name(), e.what(), slot.breaker.consecutive_failures(),
                     breaker_state_name(slot.breaker.state()));
      }
    } catch (const std::exception& e) {
      spdlog::error("tier {}: run failed: {}", slot.name, e.what());
    }
    lk.lock();
    next = Clock::now() + slot.interval;
  }
  slot.exited = true;
}

JobResult Scheduler::run_now(std::string_view name) {
  Slot* slot = find(name);
  if (!slot) throw Error(ErrorCode::kNotFound, fmt::format("no tier named '{}'", name));
  JobResult r = run_locked(*slot);
  spdlog::info("tier {} (asked for): {}", slot->name, r.summary);
  return r;
}

void Scheduler::kick(std::string_view name) {
  Slot* slot = find(name);
  if (!slot) return;
  {
    MutexLock lk(slot->wait_mu);
    slot->kicked = true;
  }
  slot->cv.notify_one();
}

void Scheduler::request_stop() {
  stopping_ = true;
  for (auto& slot : slots_) {
    { MutexLock lk(slot->wait_mu); }
    slot->cv.notify_all();
  }
}

void Scheduler::stop() {
  request_stop();
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) slot->thread.join();
  }
  for (auto& t : left_behind_) {
    if (t.joinable()) t.join();
  }
  left_behind_.clear();
}

std::vector<std::string> Scheduler::final_round(std::chrono::milliseconds budget) {
  request_stop();
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
  };
  auto shared = std::make_shared<Shared>();
  struct Run {
    Slot* slot;
    std::shared_ptr<std::atomic<bool>> done;
    std::thread thread;
  };
  std::vector<Run> runs;
  for (auto& slot : slots_) {
    if (!slot->job->remote()) continue;
    auto done = std::make_shared<std::atomic<bool>>(false);
    {
      std::lock_guard lk(shared->mu);
      shared->left++;
    }
    Slot* s = slot.get();
    // Waits for a scheduled run in progress (run_mu), then ships what is left.
    std::thread t([this, s, shared, done] {
      try {
        JobResult r = run_locked(*s);
        spdlog::info("tier {} (last run): {}", s->name, r.summary);
      } catch (const std::exception& e) {
        spdlog::warn("tier {} (last run) failed: {}", s->name, e.what());
      }
      done->store(true);
      {
        std::lock_guard lk(shared->mu);
        shared->left--;
        shared->cv.notify_all();
      }
    });
    runs.push_back(Run{s, done, std::move(t)});
  }
  {
    std::unique_lock lk(shared->mu);
    shared->cv.wait_for(lk, budget, [&] { return shared->left == 0; });
  }
  std::vector<std::string> unfinished;
  for (Run& r : runs) {
    if (r.done->load()) {
      r.thread.join();
    } else {
      unfinished.push_back(r.slot->name);
      left_behind_.push_back(std::move(r.thread));
    }
  }
  // A scheduler thread still inside a run that overran the budget stays
  // joinable: stop() (the destructor) joins it. Detaching it let the test's
  // destructor free its slot under it (a crash seen under load).
  for (auto& slot : slots_) {
    if (slot->thread.joinable() && (slot->exited || unfinished.empty())) slot->thread.join();
  }
  return unfinished;
}

std::vector<JobStatus> Scheduler::status() const {
  std::vector<JobStatus> out;
  for (const auto& slot : slots_) {
    MutexLock lock(slot->status_mu);
    JobStatus st = slot->status;
    st.breaker = slot->breaker.state();
    st.consecutive_failures = slot->breaker.consecutive_failures();
    out.push_back(std::move(st));
  }
  return out;
}

std::optional<uint64_t> Scheduler::confirmed_seq(std::string_view name) const {
  Slot* slot = find(name);
  if (!slot) return std::nullopt;
  MutexLock lock(slot->status_mu);
  return slot->status.confirmed_seq;
}

}  // namespace strata::server
