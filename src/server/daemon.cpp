#include "server/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "server/boot_checks.h"
#include "server/boot_recovery.h"
#include "server/entry_json.h"
#include "server/object_tier.h"
#include "server/tiers.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/git_sync.h"
#include "strata/lineage.h"

namespace strata::server {

namespace {

using SteadyClock = std::chrono::steady_clock;

nlohmann::json optional_time(const std::optional<std::chrono::system_clock::time_point>& t) {
  return t ? nlohmann::json(utc_time_text(*t)) : nlohmann::json(nullptr);
}

sigset_t daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

Daemon::Daemon(ServerOptions options, std::shared_ptr<LineSink> log)
    : options_(std::move(options)), log_(std::move(log)) {
  HttpLimits limits;
  limits.max_connections = options_.max_connections;
  limits.max_body_bytes = options_.max_body_bytes;
  limits.read_timeout = options_.read_timeout;
  limits.write_timeout = options_.write_timeout;
  limits.idle_timeout = options_.idle_timeout;
  http_ = std::make_unique<HttpServer>(limits, options_.token, metrics_);
}

Daemon::~Daemon() = default;

std::vector<Daemon::BootStep> Daemon::boot_steps() {
  return {
      {"self-check",
       [this] {
         const WalOptions wal_options = WalOptions::from_env(options_.data_dir + "/wal");
         SelfCheckReport r = self_check(options_.data_dir, wal_options.stop_free_bytes);
         for (const auto& line : r.lines) spdlog::info("self-check: {}", line);
         for (const auto& w : r.warnings) {
           spdlog::warn("self-check: {}", w);
           warnings_.push_back(w);
         }
       }},
      // The cascade (RECOVERY_MODE) before the WAL is opened; it ends with
      // the WAL open and state/ at its head.
      {"recovery", [this] { recover(); }},
      {"tiers", [this] { start_tiers(); }},
      {"listen",
       [this] {
         register_routes(*this);
         http_->start();
         write_serve_file();
       }},
  };
}

void Daemon::recover() {
  WalOptions wal_options = WalOptions::from_env(options_.data_dir + "/wal");
  // The tiers that hold a copy of the log: their marks (confirm) hold back
  // compaction and deletion.
  wal_options.tiers = {"object", "git"};
  const BootRecovery rec =
      recover_at_boot(options_.data_dir, options_.local_remote_dir, wal_options);
  const RecoveryResult& r = rec.result;
  recovery_ = recovery_result_json(r);
  for (const auto& s : r.sources) {
    boot_.lines.push_back(fmt::format("{}: {}", recovery_source_name(s.source), s.line));
  }
  for (const auto& m : r.missing) boot_.lines.push_back("missing: " + m);
  for (const auto& n : r.notes) boot_.lines.push_back("note: " + n);
  for (const auto& line : boot_.lines) spdlog::info("recovery: {}", line);
  // Recovery's probe of each configured remote is the boot's reachability
  // check: an unreachable one is a warning in status (and, in strict mode, a
  // refused boot below).
  for (const auto& s : r.sources) {
    if (s.configured && !s.reachable) {
      warnings_.push_back(
          fmt::format("{} unreachable at boot: {}", recovery_source_name(s.source), s.line));
      spdlog::warn("boot: {}", warnings_.back());
    }
  }
  if (r.state == RecoveryState::kFailed || r.state == RecoveryState::kLoopDetected) {
    // Nothing was changed (run_recovery's contract); the reason is the
    // boot's one error line.
    const ErrorCode code = r.state == RecoveryState::kLoopDetected ? ErrorCode::kRecoveryLoop
                                                                   : ErrorCode::kRecoveryFailed;
    throw Error(code, fmt::format("RECOVERY_MODE {}: {}{}", recovery_mode_name(r.mode),
                                  r.error_code == error_code_name(code) ? "" : r.error_code + ": ",
                                  r.error));
  }
  spdlog::log(r.state == RecoveryState::kRunning ? spdlog::level::info : spdlog::level::warn,
              "recovery: {}", rec.summary);
  if (r.state == RecoveryState::kDegraded) {
    warnings_.push_back("recovery " + rec.summary +
                        (r.missing.empty() ? "" : fmt::format("; missing: {}", r.missing.front())));
  }

  OpenReport report;
  wal_ = Wal::open(wal_options, &report);
  for (const auto& note : report.notes) boot_.lines.push_back("local WAL: " + note);
  state_ = std::make_unique<StateView>(options_.data_dir);
  const uint64_t before = state_->applied_seq();
  const uint64_t seq = state_->catch_up(*wal_);
  if (seq != before)
    boot_.lines.push_back(fmt::format("state applied from seq {} to {}", before, seq));
  const WalStatus st = wal_->status();
  boot_.source = std::string(recovery_source_name(r.source));
  boot_.mode = std::string(recovery_mode_name(r.mode));
  boot_.state = std::string(recovery_state_name(r.state));
  boot_.ok = true;
  boot_.seq = st.head_seq;
  boot_.entries = r.entries_restored + r.entries_replayed;
  boot_.seconds = static_cast<double>(r.duration.count()) / 1000.0;
}

void Daemon::start_tiers() {
  Scheduler::Hooks hooks;
  hooks.ran = [this](const std::string& job, bool ok, double seconds, uint64_t) {
    metrics_.observe_tier_run(job, ok, seconds);
  };
  hooks.confirmed = [this](const std::string& job, uint64_t seq) { on_confirmed(job, seq); };
  scheduler_ = std::make_unique<Scheduler>(
      Scheduler::Breaker{options_.breaker_failures, options_.breaker_reset}, hooks);

  auto object = make_object_tier(*wal_, options_.data_dir, options_.local_remote_dir,
                                 [this] { return state_->catch_up(*wal_); });
  object_tier_ = object.get();
  scheduler_->add(std::move(object), options_.sync_interval);
  GitSyncConfig git = GitSyncConfig::from_env(options_.data_dir);
  // Each snapshot names the history it is of, as `strata archive`'s do:
  // recovery restores only snapshots of the lineage it continues, and the
  // tier counts the remote's tip as confirmed only if it is of this lineage
  // (without it, a remote force-pushed to another history at a higher seq
  // confirmed this log to its head at the next boot, and the pruner
  // dropped segments the remote never held).
  git.lineage_id = lineage::load_or_create(FileSystem::real(), options_.data_dir);
  scheduler_->add(make_git_tier(std::move(git), *wal_, *state_), options_.git_interval);
  scheduler_->add(make_compaction_job(*wal_), options_.compact_check);
  report_tiers();
  for (const JobStatus& t : scheduler_->status()) {
    if (t.remote && t.confirmed_seq) on_confirmed(t.name, *t.confirmed_seq);
  }
  scheduler_->start();
}

void Daemon::report_tiers() {
  bool stand_in = false;
  for (const JobStatus& t : scheduler_->status()) {
    if (!t.remote) continue;
    if (t.stand_in) {
      stand_in = true;
      spdlog::warn("tier {}: local stand-in: {}", t.name, t.target);
    } else {
      spdlog::info("tier {}: remote: {}", t.name, t.target);
    }
  }
  if (stand_in) {
    spdlog::warn(
        "local stand-ins share the disk they protect: they do not survive losing this disk; set "
        "R2_ENDPOINT and GIT_REMOTE for real remotes");
  }
}

void Daemon::on_confirmed(const std::string& tier, uint64_t seq) {
  // The WAL's mark for the tier (persisted in wal/MARKS): compaction and the
  // pruner drop only what every tier holding a copy has. A remote may hold
  // more than this log (it was rebuilt from an older copy): the mark then
  // says it holds everything this log has.
  try {
    wal_->confirm(tier, std::min(seq, wal_->status().head_seq));
  } catch (const Error& e) {
    spdlog::error("tier {}: recording its confirmed seq {} failed: {}", tier, seq, e.what());
  }
}

void Daemon::write_serve_file() {
  ListenAddress bound = options_.listen;
  bound.port = http_->port();
  nlohmann::json j = {{"pid", ::getpid()},
                      {"url", bound.url()},
                      {"started", utc_time_text(std::chrono::system_clock::now())}};
  write_file_atomically(FileSystem::real(), options_.data_dir + "/serve.json", j.dump() + "\n");
}

std::optional<std::string> Daemon::not_ready_reason() {
  if (draining_) return "shutting down";
  if (!ready_) return "booting";
  const WalStatus st = wal_->status();
  if (st.stopped) return "WAL stopped: " + st.stop_reason;
  if (!st.open) return "WAL closed";
  if (st.pressure == DiskPressure::kCritical) {
    return fmt::format("disk pressure critical: the WAL holds {} bytes (WAL_MAX_BYTES)",
                       st.total_bytes);
  }
  if (st.low_free_space) {
    return fmt::format("free space {} bytes is below WAL_MIN_FREE_BYTES", st.free_bytes);
  }
  return std::nullopt;
}

std::vector<JobStatus> Daemon::tier_status() {
  std::vector<JobStatus> tiers = scheduler_->status();
  if (!object_tier_) return tiers;
  const uint64_t c = object_tier_->confirmed_now();
  for (JobStatus& t : tiers) {
    if (t.name == "object" && c > t.confirmed_seq.value_or(0)) t.confirmed_seq = c;
  }
  return tiers;
}

std::map<std::string, double> Daemon::lag_seconds(uint64_t head,
                                                  const std::vector<JobStatus>& tiers) {
  std::map<std::string, double> out;
  for (const JobStatus& t : tiers) {
    if (!t.remote) continue;
    const uint64_t c = t.confirmed_seq.value_or(0);
    double age = 0;
    if (c < head) {
      wal_->replay_view(c, 1, [&](const EntryView& e) {
        const uint64_t now = now_ms();
        age = now > e.timestamp_ms ? static_cast<double>(now - e.timestamp_ms) / 1000.0 : 0;
        return false;
      });
    }
    out[t.name] = age;
  }
  return out;
}

nlohmann::json Daemon::status_json() {
  const WalStatus s = wal_->status();
  const WalMetrics m = wal_->metrics();
  const std::vector<JobStatus> tiers = tier_status();
  const auto lags = lag_seconds(s.head_seq, tiers);
  const auto reason = not_ready_reason();
  ListenAddress bound = options_.listen;
  bound.port = http_->port();
  nlohmann::json j;
  j["pid"] = ::getpid();
  j["listen"] = bound.url();
  j["data_dir"] = options_.data_dir;
  j["uptime_s"] = std::chrono::duration<double>(SteadyClock::now() - started_).count();
  j["ready"] = !reason.has_value();
  j["not_ready_reason"] = reason ? nlohmann::json(*reason) : nlohmann::json(nullptr);
  j["warnings"] = warnings_;
  j["wal"] = wal_status_json(s);
  j["wal"]["history_id"] = s.history_id;
  j["wal"]["appends"] = m.appends;
  j["wal"]["bytes_written"] = m.bytes_written;
  j["wal"]["fsyncs"] = m.fsyncs;
  j["wal"]["group_commits"] = m.group_commits;
  j["wal"]["rejected_writes"] = m.rejected_writes;
  j["state"] = {{"applied_seq", state_->applied_seq()}};
  j["tiers"] = nlohmann::json::array();
  for (const JobStatus& t : tiers) {
    nlohmann::json tj = {{"name", t.name},
                         {"target", t.target},
                         {"stand_in", t.stand_in},
                         {"holds_log", t.remote},
                         {"breaker", breaker_state_name(t.breaker)},
                         {"consecutive_failures", t.consecutive_failures},
                         {"runs", t.runs},
                         {"failures", t.failures},
                         {"skipped", t.skipped},
                         {"bytes", t.bytes},
                         {"running", t.running},
                         {"last_success", optional_time(t.last_success)},
                         {"last_failure", optional_time(t.last_failure)},
                         {"last_error", t.last_error},
                         {"last_summary", t.last_summary},
                         {"last_duration_s", t.last_duration_s}};
    if (t.remote) {
      const uint64_t c = t.confirmed_seq.value_or(0);
      tj["confirmed_seq"] = t.confirmed_seq ? nlohmann::json(*t.confirmed_seq) : nullptr;
      tj["lag_entries"] = s.head_seq > c ? s.head_seq - c : 0;
      tj["lag_seconds"] = lags.at(t.name);
    }
    if (t.name == "object" && object_tier_) tj["sync"] = object_tier_->sync_detail();
    j["tiers"].push_back(std::move(tj));
  }
  // run_recovery's whole result, and the summary the metrics carry.
  j["recovery"] = recovery_;
  j["recovery"]["ok"] = boot_.ok;
  j["recovery"]["entries"] = boot_.entries;
  j["recovery"]["seq"] = boot_.seq;
  j["recovery"]["seconds"] = boot_.seconds;
  j["recovery"]["lines"] = boot_.lines;
  return j;
}

std::string Daemon::metrics_text() {
  ScrapeInput in;
  in.wal = wal_->status();
  in.wal_metrics = wal_->metrics();
  in.tiers = tier_status();
  in.lag_seconds = lag_seconds(in.wal.head_seq, in.tiers);
  in.boot = boot_;
  in.ready = !not_ready_reason().has_value();
  in.uptime_s = std::chrono::duration<double>(SteadyClock::now() - started_).count();
  return metrics_.scrape(in);
}

int Daemon::run() {
  spdlog::info("strata serve starting: DATA_DIR {}, pid {}", options_.data_dir, ::getpid());
  std::string step = "listen";
  try {
    // Bound first, so a taken port fails before anything is touched.
    http_->bind(options_.listen);
    for (BootStep& s : boot_steps()) {
      step = s.name;
      const auto start = SteadyClock::now();
      s.run();
      spdlog::info("boot: {} done ({:.0f} ms)", s.name,
                   std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
    }
  } catch (const Error& e) {
    spdlog::error("boot failed at {}: {}: {}", step, e.code_name(), e.what());
    if (!options_.log_file.empty()) {
      std::cerr << "strata: " << e.code_name() << ": " << e.what() << "\n";
    }
    if (scheduler_) scheduler_->stop();
    http_->stop();
    if (wal_) wal_->close();
    return e.code() == ErrorCode::kConfigInvalid ? 2 : 3;
  }

  ListenAddress bound = options_.listen;
  bound.port = http_->port();
  ready_ = true;
  spdlog::info("listening on {} (ready; SIGTERM or Ctrl-C stops)", bound.url());
  sd_notifyf(0, "READY=1\nSTATUS=listening on %s\nMAINPID=%d", bound.url().c_str(),
             static_cast<int>(::getpid()));

  const sigset_t set = daemon_signals();
  int sig = 0;
  while (true) {
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      if (log_) log_->reopen();
      spdlog::info("SIGHUP: log file reopened");
      continue;
    }
    break;
  }

  spdlog::info("{}: shutting down: no new requests; finishing those in flight", strsignal(sig));
  sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
  draining_ = true;
  http_->stop();
  spdlog::info("shutdown: requests finished; last sync and archive (SHUTDOWN_SYNC_TIMEOUT_MS {})",
               options_.shutdown_sync_timeout.count());
  const std::vector<std::string> unfinished =
      scheduler_->final_round(options_.shutdown_sync_timeout);
  try {
    FileSystem::real().remove(options_.data_dir + "/serve.json");
  } catch (const Error& e) {
    spdlog::warn("shutdown: {}", e.what());
  }
  if (!unfinished.empty()) {
    spdlog::warn(
        "shutdown: {} did not finish within SHUTDOWN_SYNC_TIMEOUT_MS; what they did not ship "
        "stays in the local WAL for the next start",
        fmt::join(unfinished, ", "));
    wal_->close();
    spdlog::info("stopped");
    spdlog::default_logger()->flush();
    // A tier thread is still inside its run: exit without destroying what it uses.
    std::fflush(nullptr);
    std::_Exit(0);
  }
  wal_->close();
  spdlog::info("stopped");
  return 0;
}

void Daemon::boot_in_process() {
  for (BootStep& s : boot_steps()) {
    if (s.name == "listen") break;  // no socket, no serve.json
    s.run();
  }
  register_routes(*this);
  ready_ = true;
}

void Daemon::stop_in_process() {
  draining_ = true;
  if (scheduler_) scheduler_->stop();
  if (wal_) wal_->close();
}

int run(const std::string& data_dir) {
  ServerOptions options;
  try {
    check_configuration(data_dir);
    options = ServerOptions::from_env(data_dir);
  } catch (const Error& e) {
    std::cerr << "strata: " << e.code_name() << ": " << e.what() << "\n";
    return e.code() == ErrorCode::kConfigInvalid ? 2 : 3;
  }
  // Signals are taken by the main thread only (sigwait), so every thread
  // started from here on inherits the mask.
  const sigset_t set = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A client that disconnects mid-answer must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  std::shared_ptr<LineSink> log;
  try {
    log = install_log(options.log_format == "json", options.log_file, options.log_level);
  } catch (const Error& e) {
    std::cerr << "strata: CONFIG_INVALID: LOG_FILE: " << e.what() << "\n";
    return 2;
  }
  Daemon daemon(std::move(options), log);
  return daemon.run();
}

}  // namespace strata::server
