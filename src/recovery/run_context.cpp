#include "recovery/run_context.h"

namespace strata::recovery {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string describe(const Error& e) {
  return fmt::format("{}: {}", e.code_name(), e.what());
}

std::string Target::describe() const {
  if (seq) return fmt::format("seq {}", *seq);
  if (time_ms) return fmt::format("time {} (ms since the epoch)", *time_ms);
  return "the newest state";
}

RunContext::RunContext(const RecoveryConfig& c, const RecoveryTiers& t)
    : config(c),
      tiers(t),
      fs(c.fs ? *c.fs : FileSystem::real()),
      dest(c.target_dir.empty() ? c.data_dir : c.target_dir),
      live(c.target_dir.empty()),
      start_(std::chrono::steady_clock::now()) {
  target.seq = c.to_seq;
  target.time_ms = c.to_time_ms;
}

RunContext::~RunContext() {
  for (auto& t : stragglers_) t.join();
}

std::chrono::milliseconds RunContext::elapsed() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start_);
}

std::chrono::milliseconds RunContext::remaining() const {
  if (config.deadline.count() == 0) return std::chrono::hours(24 * 365);
  return std::max(std::chrono::milliseconds(0), config.deadline - elapsed());
}

void RunContext::check_deadline(const std::string& doing) const {
  if (config.deadline.count() != 0 && elapsed() >= config.deadline) {
    throw Error(ErrorCode::kTimeout,
                fmt::format("{}: the recovery deadline of {} ms (RECOVERY_DEADLINE_MS) passed",
                            doing, config.deadline.count()));
  }
}

void RunContext::progress(std::string_view source, uint64_t objects_done, uint64_t objects_total,
                          uint64_t bytes_done, uint64_t bytes_total) const {
  if (!config.progress) return;
  RecoveryProgress p;
  p.source = source;
  p.objects_done = objects_done;
  p.objects_total = objects_total;
  p.bytes_done = bytes_done;
  p.bytes_total = bytes_total;
  p.elapsed = elapsed();
  config.progress(p);
}

bool begin_offer(Offer& offer, RecoverySource source, bool configured,
                 std::string_view unconfigured) {
  offer.source = source;
  offer.configured = configured;
  if (!configured) offer.line = std::string(unconfigured);
  return configured;
}

}  // namespace strata::recovery
