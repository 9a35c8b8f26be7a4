// What every step of one recovery run shares: the config, the clock and the
// deadline, calls bounded by a timeout, and what each source offered.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/git_sync.h"
#include "strata/recovery.h"
#include "strata/wal.h"

namespace strata::recovery {

// The point in time asked for; neither set = the newest there is.
struct Target {
  std::optional<uint64_t> seq;
  std::optional<uint64_t> time_ms;
  bool any() const { return seq || time_ms; }
  // Whether an entry lies beyond the target (so it and all after it are not restored).
  bool past(uint64_t entry_seq, uint64_t entry_time_ms) const {
    return (seq && entry_seq > *seq) || (time_ms && entry_time_ms > *time_ms);
  }
  std::string describe() const;
};

class RunContext {
 public:
  RunContext(const RecoveryConfig& config, const RecoveryTiers& tiers);
  // Waits for calls that outlived their timeout (each ends when the store's
  // or Git's own timeouts end it), so nothing refers to the tiers afterwards.
  ~RunContext();

  const RecoveryConfig& config;
  const RecoveryTiers& tiers;
  FileSystem& fs;
  std::string dest;  // the data directory being restored (the live one or --target)
  bool live = true;  // dest is the live data directory
  Target target;

  std::chrono::milliseconds elapsed() const;
  // Time left before RECOVERY_DEADLINE_MS (a very long time when it is 0).
  std::chrono::milliseconds remaining() const;
  // Throws kTimeout saying what was being done when the deadline passed.
  void check_deadline(const std::string& doing) const;

  // Runs fn on a thread of its own and waits at most `limit` (and the time
  // left before the deadline). Throws Error(kTimeout) naming `what` and the
  // setting that ran out (`setting`, where `limit` comes from, or
  // RECOVERY_DEADLINE_MS) when it takes longer: fn then goes on until its own
  // I/O gives up and is waited for by the destructor, so fn must own (copy)
  // everything it uses except the tiers. Exceptions of fn are rethrown.
  template <typename T>
  T bounded(std::chrono::milliseconds limit, std::string_view setting, const std::string& what,
            std::function<T()> fn) {
    std::packaged_task<T()> task(std::move(fn));
    std::future<T> done = task.get_future();
    std::thread worker(std::move(task));
    const auto wait = std::min(limit, remaining());
    if (done.wait_for(wait) != std::future_status::ready) {
      adopt_straggler(std::move(worker));
      throw Error(ErrorCode::kTimeout,
                  fmt::format("{}: no answer within {} ms ({})", what, wait.count(),
                              wait < limit ? std::string_view("RECOVERY_DEADLINE_MS") : setting));
    }
    worker.join();
    return done.get();
  }
  // A thread this run must wait for before it returns.
  void adopt_straggler(std::thread t) { stragglers_.push_back(std::move(t)); }

  void progress(std::string_view source, uint64_t objects_done, uint64_t objects_total,
                uint64_t bytes_done, uint64_t bytes_total) const;

 private:
  std::chrono::steady_clock::time_point start_;
  std::vector<std::thread> stragglers_;
};

// What a source can give, as its probe found it.
struct Offer {
  RecoverySource source = RecoverySource::kNone;
  bool configured = false;
  bool reachable = false;
  bool has_data = false;  // something to restore (a non-empty log, a snapshot, a template)
  std::string lineage;
  uint64_t head_seq = 0;  // the newest seq it can restore
  uint64_t head_time_ms = 0;
  std::string line;            // what it holds, for the report
  std::optional<Error> error;  // unreachable or unusable: why
};

// Starts a probe's offer of source: true when the tier is configured (the
// probe goes on); false with `unconfigured` as its line when it is not.
bool begin_offer(Offer& offer, RecoverySource source, bool configured,
                 std::string_view unconfigured = "not configured");

// The outcome of building a staged data directory from one source.
struct Built {
  uint64_t seq = 0;  // the state is every entry up to it applied
  uint64_t files_restored = 0;
  uint64_t entries_restored = 0;
  uint64_t entries_replayed = 0;
  uint64_t objects = 0;
  uint64_t bytes = 0;
  std::string lineage;   // of the history the entries came from
  std::string history;   // the WAL history id the staged log carries
  bool complete = true;  // reached the head of the source it came from
  std::vector<std::string> missing;
  std::vector<std::string> notes;
  std::vector<RecoveryPlannedObject> plan;  // dry run
  uint64_t plan_bytes = 0;
};

uint64_t now_ms();
// The one-line form of an error for reports: "CODE: message".
std::string describe(const Error& e);

}  // namespace strata::recovery
