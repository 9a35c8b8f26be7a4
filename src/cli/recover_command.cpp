// `strata recover`: the recovery cascade (include/strata/recovery.h) from
// the command line, with the tiers configured by the environment: the
// object store (R2_* or STRATA_LOCAL_REMOTE_DIR, default DATA_DIR/remote),
// the Git archive (GIT_* or DATA_DIR/archive.git), the template
// (RECOVERY_TEMPLATE_DIR).
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "server/boot_recovery.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/recovery.h"

namespace strata::cli {

namespace {

struct RecoverArgs {
  std::string mode;
  std::string to_seq;
  std::string to_time;
  std::string target;
  bool dry_run = false;
  bool json = false;
  bool reset_loop = false;
};

// "1767225600000" (ms since the epoch) or RFC 3339: 2026-01-01T00:00:00Z,
// 2026-01-01T00:00:00.250+02:00 (fractions kept to the millisecond).
uint64_t parse_time_ms(const std::string& text) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("--to-time: '{}' is neither ms since the epoch nor an RFC 3339 time "
                             "like 2026-01-01T00:00:00Z",
                             text));
  };
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
    return config::parse_u64(text, "--to-time");
  std::tm tm{};
  int n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
      n != 19)
    throw bad();
  std::string_view rest = std::string_view(text).substr(19);
  uint64_t ms = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t digits = 1;
    uint64_t scale = 100;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      ms += scale * static_cast<uint64_t>(rest[digits] - '0');
      scale /= 10;
      digits++;
    }
    if (digits == 1) throw bad();
    rest.remove_prefix(digits);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) != 2) throw bad();
    offset = (rest[0] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
  } else {
    throw bad();
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    throw bad();
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  if (secs < 0) throw bad();
  return static_cast<uint64_t>(secs) * 1000 + ms;
}

void print_text(const RecoveryResult& r) {
  std::cout << fmt::format("{}{} from {} (mode {}) in {:.1f} s\n", r.dry_run ? "dry run: " : "",
                           recovery_state_name(r.state), recovery_source_name(r.source),
                           recovery_mode_name(r.mode), r.duration.count() / 1000.0);
  if (r.state == RecoveryState::kRunning || r.state == RecoveryState::kDegraded) {
    std::cout << fmt::format("  {} seq {}: {} files restored, {} entries restored, {} replayed{}\n",
                             r.dry_run ? "would reach" : "reached", r.seq_reached, r.files_restored,
                             r.entries_restored, r.entries_replayed,
                             r.verified ? "; verified" : "");
    if (!r.lineage_id.empty())
      std::cout << fmt::format("  lineage {}{}\n", r.lineage_id, r.new_lineage ? " (new)" : "");
  }
  for (const auto& s : r.sources)
    std::cout << fmt::format("  {:<9} {}\n", recovery_source_name(s.source), s.line);
  for (const auto& p : r.plan)
    std::cout << fmt::format("  plan: {}{}\n", p.what,
                             p.bytes ? fmt::format(" ({} bytes)", p.bytes) : "");
  for (const auto& m : r.missing) std::cout << "  missing: " << m << "\n";
  for (const auto& n : r.notes) std::cout << "  note: " << n << "\n";
}

// A progress line on a terminal, at most five times a second; nothing otherwise.
std::function<void(const RecoveryProgress&)> terminal_progress() {
  if (!::isatty(STDERR_FILENO)) return {};
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [last](const RecoveryProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool done = p.objects_total != 0 && p.objects_done == p.objects_total;
    if (!done && now - *last < std::chrono::milliseconds(200)) return;
    *last = now;
    const double secs = std::max(0.001, p.elapsed.count() / 1000.0);
    const double rate = p.bytes_done / secs;
    const double eta =
        rate > 0 && p.bytes_total > p.bytes_done ? (p.bytes_total - p.bytes_done) / rate : 0;
    std::fprintf(stderr, "\r%.*s: %llu/%llu objects, %.1f/%.1f MiB, %.1f MiB/s, ETA %.0f s   %s",
                 static_cast<int>(p.source.size()), p.source.data(),
                 static_cast<unsigned long long>(p.objects_done),
                 static_cast<unsigned long long>(p.objects_total), p.bytes_done / 1048576.0,
                 p.bytes_total / 1048576.0, rate / 1048576.0, eta, done ? "\n" : "");
    std::fflush(stderr);
  };
}

int run_recover(const Context& ctx, const RecoverArgs& a) {
  RecoveryConfig cfg = RecoveryConfig::from_env(ctx.data_dir);
  if (!a.mode.empty()) cfg.mode = parse_recovery_mode(a.mode, "--mode");
  if (!a.to_seq.empty()) cfg.to_seq = config::parse_u64(a.to_seq, "--to-seq");
  if (!a.to_time.empty()) cfg.to_time_ms = parse_time_ms(a.to_time);
  cfg.target_dir = a.target;
  cfg.dry_run = a.dry_run;
  if (!a.json) cfg.progress = terminal_progress();
  // For the crash tests: die at a named step of the commit.
  if (auto fp = config::env("STRATA_RECOVERY_FAILPOINT")) {
    cfg.failpoint = [fp = *fp](std::string_view step) {
      if (step == fp) ::raise(SIGKILL);
    };
  }
  cfg.validate();
  if (a.reset_loop) {
    reset_recovery_loop(ctx.data_dir);
    if (!a.json) std::cout << "forgot the failed recoveries recorded in " << ctx.data_dir << "\n";
  }

  // The same stand-in store as `strata sync`, `remote` and the daemon.
  const server::RecoverySources sources =
      server::open_recovery_sources(ctx.data_dir, ctx.local_remote_dir(), cfg);
  const RecoveryResult r = run_recovery(cfg, sources.tiers);
  if (a.json) {
    std::cout << server::recovery_result_json(r).dump(2, ' ', false,
                                                      nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    print_text(r);
  }
  if (r.state == RecoveryState::kFailed || r.state == RecoveryState::kLoopDetected) {
    std::cerr << "strata: " << r.error_code << ": " << r.error << "\n";
    return r.error_code == error_code_name(ErrorCode::kRecoveryOutOfRange) ? kExitUsage
                                                                           : kExitError;
  }
  return 0;
}

}  // namespace

void register_recover_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<RecoverArgs>();
  CLI::App* cmd = app.add_subcommand(
      "recover",
      "Restore DATA_DIR from the newest consistent tier: local WAL, object store, Git, template");
  cmd->add_option("--mode", a->mode, "strict, degraded (default, RECOVERY_MODE) or clean");
  auto* seq = cmd->add_option("--to-seq", a->to_seq, "Restore the state right after entry N");
  auto* time = cmd->add_option("--to-time", a->to_time,
                               "Restore the state right after the last entry at or before T "
                               "(RFC 3339 or ms since the epoch)");
  seq->excludes(time);
  cmd->add_flag("--dry-run", a->dry_run, "Print the plan; change and download nothing");
  cmd->add_option("--target", a->target,
                  "Restore into this new directory instead of DATA_DIR (the live data is not "
                  "touched)");
  cmd->add_flag("--json", a->json, "Print the whole result as JSON");
  cmd->add_flag("--reset-loop", a->reset_loop,
                "Forget earlier failed recoveries (after LOOP_DETECTED), then recover");
  cmd->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_recover(ctx, *a); }; });
}

}  // namespace strata::cli
