// The schedulers: every tier of the daemon (object-store sync, Git archive,
// compaction, and whatever joins later) is a Job run on its own thread every
// interval, behind its own circuit breaker (STRATA_BREAKER_FAILURES failed
// runs in a row open it; after STRATA_BREAKER_RESET_MS one probe run is let
// through; one success closes it). A dead remote therefore only ever delays
// its own tier, never appends or another tier, and its failures show in
// status and metrics instead of crashing anything.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/circuit_breaker.h"

namespace strata::server {

struct JobResult {
  std::string summary;                               // one line for the log and for status
  bool idle = false;                                 // nothing to do: logged at debug level only
  std::optional<uint64_t> confirmed_seq;             // what the remote holds after this run
  uint64_t bytes = 0;                                // bytes shipped by this run
  nlohmann::json detail = nlohmann::json::object();  // returned by POST /v1/sync etc.
};

// One tier. run() is only ever called from one thread at a time.
class Job {
 public:
  virtual ~Job() = default;
  virtual std::string name() const = 0;  // "object", "git", "compaction": labels and routes
  // Where it ships, for the start-up report and status; never a secret.
  virtual std::string target() const = 0;
  // True for a local stand-in of a remote (it shares the disk it protects).
  virtual bool stand_in() const { return false; }
  // True when the job holds a copy of the log (its confirmed seq and lag mean something).
  virtual bool remote() const { return true; }
  // What the remote is known to hold before any run (read at boot).
  virtual std::optional<uint64_t> initial_confirmed_seq() { return std::nullopt; }
  // One round. Throws strata::Error on failure; the scheduler records it.
  virtual JobResult run() = 0;
};

struct JobStatus {
  std::string name;
  std::string target;
  bool stand_in = false;
  bool remote = true;
  BreakerState breaker = BreakerState::kClosed;
  int consecutive_failures = 0;
  uint64_t runs = 0;
  uint64_t failures = 0;
  uint64_t skipped = 0;  // turns the open breaker refused
  uint64_t bytes = 0;
  std::optional<uint64_t> confirmed_seq;
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::optional<std::chrono::system_clock::time_point> last_failure;
  std::string last_error;  // "CODE: message" of the last failure
  std::string last_summary;
  double last_duration_s = 0;
  double total_duration_s = 0;
  bool running = false;
};

std::string_view breaker_state_name(BreakerState s);  // "closed", "open", "half-open"

class Scheduler {
 public:
  struct Breaker {
    int failures = 3;
    std::chrono::milliseconds reset{300000};
  };
  // Called after every run (not after a skip), on the thread that ran it.
  struct Hooks {
    std::function<void(const std::string& job, bool ok, double seconds, uint64_t bytes)> ran;
    // A job's confirmed seq moved.
    std::function<void(const std::string& job, uint64_t seq)> confirmed;
  };
  Scheduler(Breaker breaker, Hooks hooks);
  // stop(), then waits for any thread a bounded final_round left behind.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Before start(). interval 0: the job only runs when asked (run_now, kick).
  void add(std::unique_ptr<Job> job, std::chrono::milliseconds interval);
  // One thread per job; each runs its job at once, then every interval.
  void start();
  // Runs the job now on the caller's thread, after any run in progress,
  // through its breaker (an open breaker refuses with kStorageUnavailable).
  // Throws kNotFound for an unknown job and whatever the run throws.
  JobResult run_now(std::string_view name);
  // Asks the job's thread to run as soon as it is free.
  void kick(std::string_view name);
  bool has(std::string_view name) const;
  // Stops the threads after the runs in progress.
  void stop();
  // Stops the schedule and gives every job that holds a copy of the log one
  // last run (after any run in progress), all at once, waiting at most
  // budget. Returns the names that did not finish in time: their threads
  // still use the job, and the destructor waits for them (a caller that
  // cannot wait, like the daemon at shutdown, exits without destroying it).
  std::vector<std::string> final_round(std::chrono::milliseconds budget);
  std::vector<JobStatus> status() const;
  // The highest seq each job that holds a copy has confirmed (nullopt: none).
  std::optional<uint64_t> confirmed_seq(std::string_view name) const;

 private:
  struct Slot;
  Slot* find(std::string_view name) const;
  void loop(Slot& slot);
  // skipped is set when the breaker refused the run.
  JobResult run_locked(Slot& slot, bool* skipped = nullptr);
  void request_stop();

  const Breaker breaker_;
  const Hooks hooks_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<bool> stopping_{false};
  // The last round's threads that overran its budget: joined by stop(), so
  // none outlives the slots it uses.
  std::vector<std::thread> left_behind_;
};

}  // namespace strata::server
