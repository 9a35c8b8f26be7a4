// The daemon's parts and its life: boot steps, the tiers, the HTTP routes'
// view of it, and shutdown. server::run (strata/server.h) drives it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http_server.h"
#include "server/log_sink.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "server/state_view.h"
#include "strata/server.h"
#include "strata/wal.h"

namespace strata::server {

// The object-store tier as the daemon drives it. The object-sync layer
// (strata/object_sync.h, issue #11) provides it; a build without that layer
// has no object tier, says so at start, and answers the routes that need it
// with 501.
class ObjectTier : public Job {
 public:
  // True once the store has confirmed seq; false when timeout passed first.
  virtual bool wait_confirmed(uint64_t seq, std::chrono::milliseconds timeout) = 0;
  // Uploads a snapshot of the state now (POST /v1/snapshot).
  virtual JobResult snapshot() = 0;
  // What the store has confirmed, counting the syncs wait_confirmed started
  // outside the schedule (0: nothing yet).
  virtual uint64_t confirmed_now() = 0;
  // The tier's own view for /v1/status: manifest version, lineage, latest
  // snapshot. Never a secret.
  virtual nlohmann::json sync_detail() = 0;
};

class Daemon {
 public:
  Daemon(ServerOptions options, std::shared_ptr<LineSink> log);
  ~Daemon();

  // Boots, serves until SIGTERM/SIGINT (blocked in every thread; waited for
  // here), shuts down. Returns the exit code.
  int run();

  // Boots as run() does but listens on no socket: the routes are registered
  // and requests come in through http().process() (the HTTP fuzz target,
  // fuzz/http_property.cpp, drives the real parser and routes this way).
  // Throws what a failed boot step threw. stop_in_process() ends it.
  void boot_in_process();
  void stop_in_process();

  // For the routes (valid once boot has opened the WAL).
  Wal& wal() { return *wal_; }
  StateView& state() { return *state_; }
  Scheduler& scheduler() { return *scheduler_; }
  Metrics& metrics() { return metrics_; }
  HttpServer& http() { return *http_; }
  const ServerOptions& options() const { return options_; }
  ObjectTier* object_tier() { return object_tier_; }

  // nullopt when /readyz answers 200, else why not.
  std::optional<std::string> not_ready_reason();
  nlohmann::json status_json();
  std::string metrics_text();

 private:
  struct BootStep {
    std::string name;
    std::function<void()> run;
  };
  std::vector<BootStep> boot_steps();
  void recover();
  void start_tiers();
  void report_tiers();
  void write_serve_file();
  void on_confirmed(const std::string& tier, uint64_t seq);
  // The scheduler's view of the tiers, with the object tier's confirmed seq
  // as the store has it now.
  std::vector<JobStatus> tier_status();
  std::map<std::string, double> lag_seconds(uint64_t head, const std::vector<JobStatus>& tiers);

  const ServerOptions options_;
  const std::shared_ptr<LineSink> log_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Metrics metrics_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Wal> wal_;
  std::unique_ptr<StateView> state_;
  std::unique_ptr<Scheduler> scheduler_;
  ObjectTier* object_tier_ = nullptr;  // owned by the scheduler
  BootReport boot_;
  nlohmann::json recovery_ = nlohmann::json::object();  // run_recovery's result at boot
  std::vector<std::string> warnings_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
};

// The routes of docs/api.md, on d.http().
void register_routes(Daemon& d);

}  // namespace strata::server
