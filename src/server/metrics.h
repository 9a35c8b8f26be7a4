// GET /metrics: the Prometheus text format, built with prometheus-cpp's
// registry and text serializer. Counters the daemon itself counts (HTTP
// requests, append latency, tier run durations) live in the registry; the
// WAL's and the tiers' numbers are read from their status at scrape time, so
// they can never drift from what `strata status` shows.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "server/scheduler.h"
#include "strata/wal.h"

namespace strata::server {

// What recovery at boot did, as status and metrics report it.
struct BootReport {
  std::string source = "none";  // "local", "r2", "git", "template", "none"
  std::string mode;             // strict, degraded, clean
  std::string state;            // RUNNING, DEGRADED (a boot that FAILED does not serve)
  bool ok = false;
  uint64_t entries = 0;  // restored into the WAL or replayed into state/
  uint64_t seq = 0;      // the WAL's head once recovery finished
  double seconds = 0;
  std::vector<std::string> lines;  // one per source, then what is missing, then notes
};

struct ScrapeInput {
  WalStatus wal;
  WalMetrics wal_metrics;
  std::vector<JobStatus> tiers;
  std::map<std::string, double> lag_seconds;  // by tier: age of the oldest entry it lacks
  BootReport boot;
  bool ready = false;
  double uptime_s = 0;
};

class Metrics {
 public:
  Metrics();
  // One append call (entries in it) that took seconds, acknowledged or not.
  void observe_append(double seconds, bool ok);
  void count_request(std::string_view route, std::string_view method, int status, double seconds);
  void observe_tier_run(const std::string& tier, bool ok, double seconds);
  std::string scrape(const ScrapeInput& input);

 private:
  prometheus::Counter& request_counter(std::string_view route, std::string_view method, int status);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Histogram>& append_seconds_;
  prometheus::Family<prometheus::Counter>& append_failures_;
  prometheus::Family<prometheus::Histogram>& tier_seconds_;
  prometheus::Histogram& append_ok_;
  prometheus::Counter& append_failed_;
};

}  // namespace strata::server
