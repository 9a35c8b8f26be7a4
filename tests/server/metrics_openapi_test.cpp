// /metrics parsed by the real Prometheus text parser with counters that match
// what the test did, and docs/openapi.yaml valid and equal to the routes the
// daemon serves.
#include <signal.h>

#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/daemon_process.h"
#include "server/routes.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::DaemonProcess;
using testing::entry_body;
using testing::get;
using testing::post;
using testing::TempDir;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value;
};

std::vector<Sample> parse_metrics(const std::string& text, const std::string& dir) {
  testing::write_file(dir + "/metrics.txt", text);
  std::string out;
  const int rc = testing::run_command(
      fmt::format("/usr/bin/python3 {}/tests/server/parse_metrics.py < {}/metrics.txt",
                  STRATA_SOURCE_DIR, dir),
      &out);
  EXPECT_EQ(rc, 0) << "the Prometheus parser refused the exposition:\n" << text;
  std::vector<Sample> samples;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    samples.push_back({j["name"], j["labels"].get<std::map<std::string, std::string>>(),
                       j["value"].get<double>()});
  }
  return samples;
}

// The value of the one sample with this name and these labels (among others).
std::optional<double> value(const std::vector<Sample>& samples, const std::string& name,
                            const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> found;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (!match) continue;
    EXPECT_FALSE(found) << "two samples match " << name;
    found = s.value;
  }
  return found;
}

TEST(Metrics, ParseWithThePrometheusParserAndCountWhatHappened) {
  TempDir tmp;
  DaemonProcess d(tmp.path(), {{"GIT_SYNC_INTERVAL_MS", "3600000"}});
  d.start();
  auto c = d.client();
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(post(*c, "/v1/entries", entry_body(fmt::format("p{}", i), "x")).status, 200);
  ASSERT_EQ(post(*c, "/v1/entries",
                 R"({"entries":[{"type":"bead","op":"create","path":"b1","data":"1"},
                                 {"type":"bead","op":"create","path":"b2","data":"2"},
                                 {"type":"bead","op":"create","path":"b3","data":"3"}]})")
                .status,
            200);
  ASSERT_EQ(post(*c, "/v1/entries", "{bad json").status, 400);
  ASSERT_EQ(post(*c, "/v1/entries", entry_body("../up", "x")).status, 400);
  ASSERT_EQ(get(*c, "/v1/entries/99").status, 404);
  ASSERT_EQ(get(*c, "/v1/entries/2").status, 200);
  auto archive = post(*c, "/v1/archive", "");
  ASSERT_EQ(archive.status, 200) << archive.body;
  auto r = get(*c, "/metrics");
  ASSERT_EQ(r.status, 200);
  auto s = parse_metrics(r.body, tmp.path());
  EXPECT_EQ(value(s, "strata_wal_appends_total"), 7);
  EXPECT_EQ(value(s, "strata_wal_append_batches_total"), 5);
  EXPECT_EQ(value(s, "strata_wal_head_seq"), 7);
  EXPECT_EQ(value(s, "strata_append_latency_seconds_count"), 5);
  EXPECT_EQ(value(s, "strata_http_requests_total",
                  {{"route", "/v1/entries"}, {"method", "POST"}, {"status", "200"}}),
            5);
  EXPECT_EQ(value(s, "strata_http_requests_total",
                  {{"route", "/v1/entries"}, {"method", "POST"}, {"status", "400"}}),
            2);
  EXPECT_EQ(value(s, "strata_http_requests_total",
                  {{"route", "/v1/entries/{seq}"}, {"method", "GET"}, {"status", "404"}}),
            1);
  EXPECT_EQ(value(s, "strata_http_requests_total",
                  {{"route", "/v1/entries/{seq}"}, {"method", "GET"}, {"status", "200"}}),
            1);
  EXPECT_EQ(value(s, "strata_tier_confirmed_seq", {{"tier", "git"}}), 7);
  EXPECT_EQ(value(s, "strata_tier_lag_entries", {{"tier", "git"}}), 0);
  EXPECT_EQ(value(s, "strata_tier_breaker_state", {{"tier", "git"}}), 0);
  EXPECT_GE(value(s, "strata_tier_runs_total", {{"tier", "git"}}).value_or(0), 1);
  EXPECT_EQ(value(s, "strata_tier_failures_total", {{"tier", "git"}}), 0);
  // A fresh data directory: recovery at boot found no source and started empty.
  EXPECT_EQ(
      value(s, "strata_recovery_info", {{"source", "none"}, {"mode", "degraded"}, {"ok", "true"}}),
      1);
  EXPECT_EQ(value(s, "strata_ready"), 1);
  EXPECT_GT(value(s, "strata_wal_fsyncs_total").value_or(0), 0);
  EXPECT_GT(value(s, "strata_disk_free_bytes").value_or(0), 0);
  EXPECT_TRUE(value(s, "strata_disk_pressure").has_value());
  EXPECT_TRUE(value(s, "strata_wal_group_commits_total").has_value());
}

TEST(OpenApi, TheDocumentIsValidAndListsExactlyTheRoutesTheDaemonServes) {
  std::string out;
  const int rc = testing::run_command(
      fmt::format("cd {} && node tests/js/validate-openapi.js docs/openapi.yaml 2>&1",
                  STRATA_SOURCE_DIR),
      &out);
  ASSERT_EQ(rc, 0) << out;
  auto doc = nlohmann::json::parse(out);
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  std::set<std::string> documented;
  for (const auto& [op, _] : doc["operations"].items()) documented.insert(op);
  std::set<std::string> served;
  for (const server::Route& r : server::kRoutes) {
    served.insert(std::string(r.method) + " " + std::string(r.path));
  }
  EXPECT_EQ(documented, served);

  // And the daemon really answers each of them (none is a 404/405 of routing).
  TempDir tmp;
  DaemonProcess d(tmp.path(), {{"GIT_SYNC_INTERVAL_MS", "3600000"}});
  d.start();
  auto c = d.client();
  ASSERT_EQ(post(*c, "/v1/entries", entry_body("a/b", "x")).status, 200);
  for (const server::Route& r : server::kRoutes) {
    std::string path(r.path);
    if (auto at = path.find("{seq}"); at != std::string::npos) path.replace(at, 5, "1");
    if (auto at = path.find("{path}"); at != std::string::npos) path.replace(at, 6, "a/b");
    SCOPED_TRACE(std::string(r.method) + " " + path);
    auto res =
        r.method == "POST"
            ? c->Post(path, r.path == "/v1/entries" ? entry_body("c", "y") : "", "application/json")
            : c->Get(path);
    ASSERT_TRUE(res);
    EXPECT_NE(res->status, 404) << res->body;
    EXPECT_NE(res->status, 405) << res->body;
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded()) continue;  // /metrics and the JSON-lines stream
    EXPECT_FALSE(j.is_object() && j.contains("error") && res->status < 400) << res->body;
  }
}

}  // namespace
}  // namespace strata
