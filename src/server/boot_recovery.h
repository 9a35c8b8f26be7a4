// Recovery at boot (issue #13, the cascade of strata/recovery.h): the step
// between the self-check and opening the WAL. It runs run_recovery in
// RECOVERY_MODE with the tiers the daemon is configured with, so a data
// directory that lost its disk, or a new host, comes back by itself before
// the first request; an intact local WAL is used in place (nothing
// downloaded).
//
// RECOVERY_MODE=clean starts empty only when DATA_DIR has no WAL: a daemon is
// restarted often, and clean on every restart would set its data aside each
// time. With a local WAL, clean boots from it alone (the remotes are not
// consulted), as degraded would with no remote configured.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/git_sync.h"
#include "strata/recovery.h"
#include "strata/storage.h"
#include "strata/wal.h"

namespace strata::server {

// The sources recovery reads, configured as the daemon runs its tiers (the
// boot and `strata recover` both use this): the object store from R2_* (its
// connect and stall timeouts capped by cfg's probe and stall timeouts, so a
// dead endpoint fails over quickly) or, without R2_ENDPOINT, the filesystem
// store at local_remote_dir when it exists (a stand-in never written is not a
// source); the Git archive from GIT_REMOTE, or DATA_DIR/archive.git when it
// exists. tiers points into store and git.
struct RecoverySources {
  std::unique_ptr<CheckpointStorage> store;
  std::unique_ptr<GitSync> git;
  RecoveryTiers tiers;
};
RecoverySources open_recovery_sources(const std::string& data_dir,
                                      const std::string& local_remote_dir,
                                      const RecoveryConfig& cfg);

struct BootRecovery {
  RecoveryResult result;
  RecoveryMode configured_mode = RecoveryMode::kDegraded;
  std::string summary;  // one line: "RUNNING from r2 (mode degraded): seq 120, ..."
};

// Runs recovery for data_dir before the daemon opens its WAL (wal_options:
// how the daemon opens it). local_remote_dir is the object store's stand-in
// (used when R2_ENDPOINT is unset and it exists). Never throws for what a
// source holds: a FAILED or LOOP_DETECTED result is returned for the caller
// to refuse the boot with. Throws kConfigInvalid for a bad RECOVERY_* value.
BootRecovery recover_at_boot(const std::string& data_dir, const std::string& local_remote_dir,
                             const WalOptions& wal_options);

// The whole RecoveryResult as JSON (`strata recover --json`, /v1/status's
// "recovery").
nlohmann::json recovery_result_json(const RecoveryResult& r);

}  // namespace strata::server
