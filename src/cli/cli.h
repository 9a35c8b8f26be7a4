// The command line: each file in src/cli/ registers one command group.
// A command's callback only records what to run in Context::action; main runs
// it after parsing, so usage errors (exit 2) are found before anything runs.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "strata/wal.h"

namespace strata::cli {

struct Context {
  std::string data_dir;         // --data-dir, $DATA_DIR or ./data
  std::function<int()> action;  // returns the exit code
  std::string wal_dir() const { return data_dir + "/wal"; }
  std::string state_dir() const { return data_dir + "/state"; }
};

// Exit codes: 0 success, 1 "not found"/check failed, 2 usage, 3 any other error.
constexpr int kExitNotFound = 1;
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;

void register_wal_commands(CLI::App& app, Context& ctx);
void register_state_commands(CLI::App& app, Context& ctx);
void register_remote_commands(CLI::App& app, Context& ctx);
void register_bench_commands(CLI::App& app, Context& ctx);
void register_archive_commands(CLI::App& app, Context& ctx);
// `sync`, `checkpoint`, `prune` and `remote verify` (after register_remote_commands).
void register_sync_commands(CLI::App& app, Context& ctx);

// The object-store tier's part of `strata status` (sync_command.cpp); never
// throws: a problem is reported inside.
nlohmann::json sync_status_json(const Context& ctx, Wal& wal);
std::string sync_status_text(const Context& ctx, Wal& wal);

}  // namespace strata::cli
