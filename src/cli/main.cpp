#include <cstdio>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/version.h"
#include "strata_revision.h"

int main(int argc, char** argv) {
  // Logs go to stderr so stdout stays machine-readable.
  auto logger = spdlog::stderr_color_mt("strata");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::warn);

  strata::cli::Context ctx;
  CLI::App app{"strata: three-tier durability for an application's state"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.set_version_flag("--version",
                       std::string("strata ") + STRATA_VERSION + " (" + STRATA_REVISION + ")",
                       "Print the version and the source revision, then exit");
  ctx.data_dir = strata::config::env_or("DATA_DIR", "./data");
  app.add_option("--data-dir", ctx.data_dir, "Data directory (default $DATA_DIR or ./data)");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log informational messages to stderr");

  strata::cli::register_wal_commands(app, ctx);
  strata::cli::register_state_commands(app, ctx);
  strata::cli::register_remote_commands(app, ctx);
  strata::cli::register_bench_commands(app, ctx);
  strata::cli::register_archive_commands(app, ctx);
  strata::cli::register_repair_command(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return strata::cli::kExitUsage;
  }
  if (verbose) spdlog::set_level(spdlog::level::info);

  try {
    return ctx.action ? ctx.action() : 0;
  } catch (const strata::Error& e) {
    std::cerr << "strata: " << e.code_name() << ": " << e.what() << "\n";
    const bool usage = e.code() == strata::ErrorCode::kInvalidArgument ||
                       e.code() == strata::ErrorCode::kInvalidPath;
    return usage ? strata::cli::kExitUsage : strata::cli::kExitError;
  } catch (const std::exception& e) {
    std::cerr << "strata: " << e.what() << "\n";
    return strata::cli::kExitError;
  }
}
