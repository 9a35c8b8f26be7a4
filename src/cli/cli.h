// The command line: each file in src/cli/ registers one command group.
// A command's callback only records what to run in Context::action; main runs
// it after parsing, so usage errors (exit 2) are found before anything runs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "strata/wal.h"

namespace strata::cli {

struct Context {
  std::string data_dir;         // --data-dir, $DATA_DIR or ./data
  std::function<int()> action;  // returns the exit code
  // --lock-timeout of a writing command (milliseconds); unset: the WAL's
  // default (WAL_LOCK_TIMEOUT_MS or 5 s).
  std::optional<uint64_t> lock_timeout_ms;
  std::string wal_dir() const { return data_dir + "/wal"; }
  std::string state_dir() const { return data_dir + "/state"; }
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
void register_archive_commands(CLI::App& app, Context& ctx);
void register_repair_command(CLI::App& app, Context& ctx);

}  // namespace strata::cli
