#include "server/boot_recovery.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/git_sync.h"
#include "strata/storage.h"
#include "wal/record_format.h"

namespace strata::server {

namespace {

bool has_local_wal(FileSystem& fs, const std::string& wal_dir) {
  if (!is_directory_following_links(fs, wal_dir)) return false;
  for (const auto& name : fs.list_dir(wal_dir)) {
    uint64_t base = 0;
    if (wal::parse_segment_file_name(name, &base)) return true;
  }
  return false;
}

std::string summary_of(const RecoveryResult& r) {
  if (r.state == RecoveryState::kFailed || r.state == RecoveryState::kLoopDetected) {
    return fmt::format("{} (mode {}): {}: {}", recovery_state_name(r.state),
                       recovery_mode_name(r.mode), r.error_code, r.error);
  }
  return fmt::format(
      "{} from {} (mode {}) in {:.1f} s: seq {}, {} files and {} entries restored, {} replayed{}",
      recovery_state_name(r.state), recovery_source_name(r.source), recovery_mode_name(r.mode),
      static_cast<double>(r.duration.count()) / 1000.0, r.seq_reached, r.files_restored,
      r.entries_restored, r.entries_replayed, r.verified ? "; verified" : "");
}

}  // namespace

RecoverySources open_recovery_sources(const std::string& data_dir,
                                      const std::string& local_remote_dir,
                                      const RecoveryConfig& cfg) {
  FileSystem& fs = FileSystem::real();
  RecoverySources out;
  if (config::env("R2_ENDPOINT")) {
    S3Config s3 = S3Config::from_env();
    s3.connect_timeout = std::min(s3.connect_timeout, cfg.probe_timeout);
    s3.stall_timeout = std::min(s3.stall_timeout, cfg.stall_timeout);
    out.store = std::make_unique<S3CheckpointStorage>(std::move(s3));
  } else if (is_directory_following_links(fs, local_remote_dir)) {
    out.store = std::make_unique<FsCheckpointStorage>(local_remote_dir);
    out.tiers.object_key_prefix = config::env_or("R2_PREFIX", "");
  }
  if (config::env("GIT_REMOTE") || is_directory_following_links(fs, data_dir + "/archive.git")) {
    out.git = std::make_unique<GitSync>(GitSyncConfig::from_env(data_dir));
  }
  out.tiers.object_store = out.store.get();
  out.tiers.git = out.git.get();
  return out;
}

BootRecovery recover_at_boot(const std::string& data_dir, const std::string& local_remote_dir,
                             const WalOptions& wal_options) {
  FileSystem& fs = FileSystem::real();
  BootRecovery out;
  RecoveryConfig cfg = RecoveryConfig::from_env(data_dir);
  cfg.wal = wal_options;
  out.configured_mode = cfg.mode;
  const bool clean_over_local =
      cfg.mode == RecoveryMode::kClean && has_local_wal(fs, data_dir + "/wal");
  if (clean_over_local) cfg.mode = RecoveryMode::kDegraded;

  RecoverySources sources;
  if (!clean_over_local) sources = open_recovery_sources(data_dir, local_remote_dir, cfg);
  out.result = run_recovery(cfg, sources.tiers);
  if (clean_over_local) {
    out.result.mode = RecoveryMode::kClean;
    out.result.notes.insert(out.result.notes.begin(),
                            "RECOVERY_MODE clean: DATA_DIR has a WAL, so it was used alone (clean "
                            "starts empty only without one); the remotes were not consulted");
  }
  out.summary = summary_of(out.result);
  return out;
}

nlohmann::json recovery_result_json(const RecoveryResult& r) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : r.sources) {
    sources.push_back({{"source", recovery_source_name(s.source)},
                       {"configured", s.configured},
                       {"reachable", s.reachable},
                       {"used", s.used},
                       {"head_seq", s.head_seq ? nlohmann::json(*s.head_seq) : nlohmann::json()},
                       {"lineage_id", s.lineage_id},
                       {"line", s.line}});
  }
  nlohmann::json plan = nlohmann::json::array();
  for (const auto& p : r.plan)
    plan.push_back({{"key", p.key}, {"bytes", p.bytes}, {"what", p.what}});
  nlohmann::json j = {{"state", recovery_state_name(r.state)},
                      {"source", recovery_source_name(r.source)},
                      {"mode", recovery_mode_name(r.mode)},
                      {"dry_run", r.dry_run},
                      {"target_dir", r.target_dir},
                      {"files_restored", r.files_restored},
                      {"entries_restored", r.entries_restored},
                      {"entries_replayed", r.entries_replayed},
                      {"seq_reached", r.seq_reached},
                      {"objects_downloaded", r.objects_downloaded},
                      {"bytes_downloaded", r.bytes_downloaded},
                      {"lineage_id", r.lineage_id},
                      {"new_lineage", r.new_lineage},
                      {"verified", r.verified},
                      {"missing", r.missing},
                      {"notes", r.notes},
                      {"sources", sources},
                      {"duration_ms", r.duration.count()}};
  if (r.dry_run) {
    j["plan"] = plan;
    j["plan_bytes"] = r.plan_bytes;
  }
  if (!r.error_code.empty()) j["error"] = {{"code", r.error_code}, {"message", r.error}};
  return j;
}

}  // namespace strata::server
