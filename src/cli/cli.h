// The command line: each file in src/cli/ registers one command group.
// A command's callback only records what to run in Context::action; main runs
// it after parsing, so usage errors (exit 2) are found before anything runs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "strata/wal.h"

namespace strata::cli {

struct Context {
  std::string data_dir;         // --data-dir, $DATA_DIR or ./data; never empty
  std::function<int()> action;  // returns the exit code
  // --lock-timeout of a writing command (milliseconds); unset: the WAL's
  // default (WAL_LOCK_TIMEOUT_MS or 5 s).
  std::optional<uint64_t> lock_timeout_ms;
  std::string wal_dir() const { return data_dir + "/wal"; }
  std::string state_dir() const { return data_dir + "/state"; }
  // The object store's stand-in without R2_ENDPOINT, the daemon's
  // (STRATA_LOCAL_REMOTE_DIR, else DATA_DIR/remote).
  std::string local_remote_dir() const;
};

// Exit codes: 0 success, 1 "not found"/check failed, 2 usage, 3 any other
// error, 4 `verify` found only a torn tail (repaired by the next writer).
constexpr int kExitNotFound = 1;
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;
constexpr int kExitTornTail = 4;

// WalOptions for a command that writes to the WAL: the environment's, with
// --lock-timeout applied.
WalOptions wal_writer_options(const Context& ctx);
// Adds --lock-timeout to a command that opens the WAL for writing.
void add_lock_timeout_option(CLI::App* cmd, Context& ctx);

void register_wal_commands(CLI::App& app, Context& ctx);
void register_state_commands(CLI::App& app, Context& ctx);
void register_remote_commands(CLI::App& app, Context& ctx);
void register_bench_commands(CLI::App& app, Context& ctx);
// `bench sync` (bench_sync_command.cpp), added by register_bench_commands.
void add_bench_sync(CLI::App& bench, Context& ctx);
// `bench recover` (bench_recover_command.cpp), likewise.
void add_bench_recover(CLI::App& bench, Context& ctx);
void register_archive_commands(CLI::App& app, Context& ctx);
void register_repair_command(CLI::App& app, Context& ctx);
// `sync`, `checkpoint`, `prune` and `remote verify` (after register_remote_commands).
void register_sync_commands(CLI::App& app, Context& ctx);

// The object-store tier's part of `strata status` (sync_command.cpp); never
// throws: a problem is reported inside.
nlohmann::json sync_status_json(const Context& ctx, Wal& wal);
std::string sync_status_text(const Context& ctx, Wal& wal);
void register_recover_commands(CLI::App& app, Context& ctx);

// Validator for whole numbers 0..UINT64_MAX written in decimal digits only:
// "-1", "+1", "1e3", "0x10" and values past UINT64_MAX are usage errors
// (CLI11 alone turns "-1" and overflows into UINT64_MAX).
const CLI::Validator& unsigned_number();
// The same, at least 1.
const CLI::Validator& positive_number();

// For commands that only read: throws Error(kNotFound) naming what is missing
// unless DATA_DIR and its WAL exist, so a mistyped DATA_DIR is one clear error
// line rather than a new, empty WAL.
void require_existing_wal(const Context& ctx);
void register_serve_command(CLI::App& app, Context& ctx);
void register_config_commands(CLI::App& app, Context& ctx);

}  // namespace strata::cli
