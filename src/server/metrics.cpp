#include "server/metrics.h"

#include <map>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <prometheus/text_serializer.h>

namespace strata::server {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const prometheus::Histogram::BucketBoundaries kTierBuckets = {0.01, 0.05, 0.1, 0.5, 1,  2.5,
                                                              5,    10,   30,  60,  300};

class FamilyBuilder {
 public:
  FamilyBuilder(std::vector<MetricFamily>& out, std::string name, std::string help, MetricType type)
      : out_(out), index_(out.size()) {
    out_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
  }
  FamilyBuilder& add(double value, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    // By index: builders of several families may be filled in turn.
    MetricFamily& family = out_[index_];
    if (family.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    family.metric.push_back(std::move(m));
    return *this;
  }

 private:
  std::vector<MetricFamily>& out_;
  const size_t index_;
};

double breaker_value(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return 0;
    case BreakerState::kHalfOpen:
      return 1;
    case BreakerState::kOpen:
      return 2;
  }
  return 0;
}

// Registers a family built by builder (prometheus::BuildCounter() etc.).
template <class Builder>
auto& family(Builder&& builder, prometheus::Registry& registry, const char* name,
             const char* help) {
  return builder.Name(name).Help(help).Register(registry);
}

// The calling thread's metrics of type T by label key. Family::Add hashes the
// labels under the family's lock; each worker thread remembers the metrics it
// has used instead. The cache is emptied when the thread serves another
// Metrics than before (its pointers belong to that one's registry).
template <class T>
std::map<std::string, T*, std::less<>>& thread_cache(const Metrics* owner) {
  thread_local std::map<std::string, T*, std::less<>> cache;
  thread_local const Metrics* last_owner = nullptr;
  if (last_owner != owner) {
    cache.clear();
    last_owner = owner;
  }
  return cache;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(family(prometheus::BuildCounter(), *registry_, "strata_http_requests_total",
                       "HTTP requests answered, by route, method and status")),
      request_seconds_(family(prometheus::BuildHistogram(), *registry_,
                              "strata_http_request_duration_seconds",
                              "Time from a request's headers to its answer, by route")),
      append_seconds_(family(prometheus::BuildHistogram(), *registry_,
                             "strata_append_latency_seconds",
                             "Time of an acknowledged append (one entry or one batch) until it "
                             "was as durable as WAL_SYNC promises")),
      append_failures_(family(prometheus::BuildCounter(), *registry_,
                              "strata_append_failures_total",
                              "Appends the WAL refused (pressure, full disk, stopped, invalid)")),
      tier_seconds_(family(prometheus::BuildHistogram(), *registry_,
                           "strata_tier_run_duration_seconds",
                           "Duration of each tier run, by tier and result")),
      append_ok_(append_seconds_.Add({}, kLatencyBuckets)),
      append_failed_(append_failures_.Add({})) {}

void Metrics::observe_append(double seconds, bool ok) {
  if (ok) {
    append_ok_.Observe(seconds);
  } else {
    append_failed_.Increment();
  }
}

prometheus::Counter& Metrics::request_counter(std::string_view route, std::string_view method,
                                              int status) {
  auto& cache = thread_cache<prometheus::Counter>(this);
  std::string key = fmt::format("{} {} {}", route, method, status);
  if (auto it = cache.find(key); it != cache.end()) return *it->second;
  prometheus::Counter& c = requests_.Add({{"route", std::string(route)},
                                          {"method", std::string(method)},
                                          {"status", std::to_string(status)}});
  cache.emplace(std::move(key), &c);
  return c;
}

void Metrics::count_request(std::string_view route, std::string_view method, int status,
                            double seconds) {
  request_counter(route, method, status).Increment();
  auto& cache = thread_cache<prometheus::Histogram>(this);
  auto it = cache.find(route);
  if (it == cache.end()) {
    it = cache
             .emplace(std::string(route),
                      &request_seconds_.Add({{"route", std::string(route)}}, kLatencyBuckets))
             .first;
  }
  it->second->Observe(seconds);
}

void Metrics::observe_tier_run(const std::string& tier, bool ok, double seconds) {
  tier_seconds_.Add({{"tier", tier}, {"result", ok ? "ok" : "error"}}, kTierBuckets)
      .Observe(seconds);
}

std::string Metrics::scrape(const ScrapeInput& in) {
  std::vector<MetricFamily> f = registry_->Collect();
  const WalMetrics& m = in.wal_metrics;
  const WalStatus& s = in.wal;
  using T = MetricType;
  FamilyBuilder(f, "strata_wal_appends_total", "Entries appended to the WAL", T::Counter)
      .add(static_cast<double>(m.appends));
  FamilyBuilder(f, "strata_wal_append_batches_total", "Successful append calls", T::Counter)
      .add(static_cast<double>(m.append_batches));
  FamilyBuilder(f, "strata_wal_bytes_written_total", "Bytes written to WAL segments", T::Counter)
      .add(static_cast<double>(m.bytes_written));
  FamilyBuilder(f, "strata_wal_fsyncs_total", "fdatasync calls on segments", T::Counter)
      .add(static_cast<double>(m.fsyncs));
  FamilyBuilder(f, "strata_wal_group_commits_total",
                "Group commits (one write and at most one fdatasync each); appends / group "
                "commits is the mean group size",
                T::Counter)
      .add(static_cast<double>(m.group_commits));
  FamilyBuilder(f, "strata_wal_group_commit_max_size", "Largest group commit, in entries", T::Gauge)
      .add(static_cast<double>(m.max_group_size));
  FamilyBuilder(f, "strata_wal_group_commit_mean_size", "Mean group commit size, in entries",
                T::Gauge)
      .add(m.mean_group_size());
  FamilyBuilder(f, "strata_wal_rejected_writes_total",
                "Valid writes refused (disk pressure, full disk, stopped)", T::Counter)
      .add(static_cast<double>(m.rejected_writes));
  FamilyBuilder(f, "strata_wal_rotations_total", "Segments sealed", T::Counter)
      .add(static_cast<double>(m.rotations));
  FamilyBuilder(f, "strata_wal_compactions_total", "Compactions", T::Counter)
      .add(static_cast<double>(m.compactions));
  FamilyBuilder(f, "strata_wal_head_seq", "Highest seq in the WAL", T::Gauge)
      .add(static_cast<double>(s.head_seq));
  FamilyBuilder(f, "strata_wal_durable_seq", "Highest seq on stable storage", T::Gauge)
      .add(static_cast<double>(s.durable_seq));
  FamilyBuilder(f, "strata_wal_segments", "Segments in the WAL directory", T::Gauge)
      .add(static_cast<double>(s.segments));
  FamilyBuilder(f, "strata_wal_bytes", "Total size of the WAL", T::Gauge)
      .add(static_cast<double>(s.total_bytes));
  FamilyBuilder(f, "strata_wal_stopped", "1 when a failed write or fsync stopped the WAL", T::Gauge)
      .add(s.stopped ? 1 : 0);
  FamilyBuilder(f, "strata_disk_pressure",
                "WAL disk pressure: 0 normal, 1 warning (compaction requested), 2 critical "
                "(writes refused)",
                T::Gauge)
      .add(s.pressure == DiskPressure::kNormal    ? 0
           : s.pressure == DiskPressure::kWarning ? 1
                                                  : 2);
  FamilyBuilder(f, "strata_disk_free_bytes", "Free space on the WAL's file system", T::Gauge)
      .add(static_cast<double>(s.free_bytes));
  FamilyBuilder(f, "strata_disk_low_free_space",
                "1 while free space is below WAL_MIN_FREE_BYTES (writes stopped)", T::Gauge)
      .add(s.low_free_space ? 1 : 0);

  FamilyBuilder runs(f, "strata_tier_runs_total", "Tier runs, by tier", T::Counter);
  for (const auto& t : in.tiers) runs.add(static_cast<double>(t.runs), {{"tier", t.name}});
  FamilyBuilder fails(f, "strata_tier_failures_total", "Failed tier runs, by tier", T::Counter);
  for (const auto& t : in.tiers) fails.add(static_cast<double>(t.failures), {{"tier", t.name}});
  FamilyBuilder skips(f, "strata_tier_skipped_total", "Tier runs the open circuit breaker refused",
                      T::Counter);
  for (const auto& t : in.tiers) skips.add(static_cast<double>(t.skipped), {{"tier", t.name}});
  FamilyBuilder bytes(f, "strata_tier_bytes_total", "Bytes shipped by each tier", T::Counter);
  for (const auto& t : in.tiers) bytes.add(static_cast<double>(t.bytes), {{"tier", t.name}});
  FamilyBuilder breaker(f, "strata_tier_breaker_state",
                        "Circuit breaker of each tier: 0 closed, 1 half-open, 2 open", T::Gauge);
  for (const auto& t : in.tiers) breaker.add(breaker_value(t.breaker), {{"tier", t.name}});
  FamilyBuilder confirmed(f, "strata_tier_confirmed_seq",
                          "Highest seq each remote tier holds (0: none yet)", T::Gauge);
  FamilyBuilder lag(f, "strata_tier_lag_entries", "Entries each remote tier does not hold yet",
                    T::Gauge);
  FamilyBuilder lag_s(f, "strata_tier_lag_seconds",
                      "Age of the oldest entry each remote tier does not hold yet (0: none)",
                      T::Gauge);
  FamilyBuilder last_ok(f, "strata_tier_last_success_timestamp_seconds",
                        "Unix time of each tier's last successful run (0: never)", T::Gauge);
  for (const auto& t : in.tiers) {
    if (t.last_success) {
      last_ok.add(std::chrono::duration<double>(t.last_success->time_since_epoch()).count(),
                  {{"tier", t.name}});
    } else {
      last_ok.add(0, {{"tier", t.name}});
    }
    if (!t.remote) continue;
    const uint64_t c = t.confirmed_seq.value_or(0);
    confirmed.add(static_cast<double>(c), {{"tier", t.name}});
    lag.add(static_cast<double>(s.head_seq > c ? s.head_seq - c : 0), {{"tier", t.name}});
    auto age = in.lag_seconds.find(t.name);
    lag_s.add(age == in.lag_seconds.end() ? 0 : age->second, {{"tier", t.name}});
  }

  FamilyBuilder(f, "strata_recovery_info",
                "Recovery at boot: 1 for the source and mode it used, with ok=true/false", T::Gauge)
      .add(1, {{"source", in.boot.source},
               {"mode", in.boot.mode},
               {"ok", in.boot.ok ? "true" : "false"}});
  FamilyBuilder(f, "strata_recovery_entries", "Entries recovery replayed or restored at boot",
                T::Gauge)
      .add(static_cast<double>(in.boot.entries));
  FamilyBuilder(f, "strata_recovery_duration_seconds", "How long recovery took at boot", T::Gauge)
      .add(in.boot.seconds);
  FamilyBuilder(f, "strata_ready", "1 when /readyz answers 200", T::Gauge).add(in.ready ? 1 : 0);
  FamilyBuilder(f, "strata_uptime_seconds", "Seconds since the daemon started", T::Gauge)
      .add(in.uptime_s);

  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, f);
  return out.str();
}

}  // namespace strata::server
