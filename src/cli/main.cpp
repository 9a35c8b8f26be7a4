#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "cli/log_sink.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/server.h"
#include "strata/settings.h"
#include "strata/utf8.h"
#include "strata/version.h"
#include "strata_revision.h"

namespace {

// The deepest command that was parsed: where an unknown word was meant as
// a subcommand name.
CLI::App* deepest_parsed(CLI::App* app) {
  for (CLI::App* sub : app->get_subcommands()) return deepest_parsed(sub);
  return app;
}

// The one line a failure prints; the message is escaped, as names in it may
// come from anywhere.
int fail(std::string_view code, std::string_view message, int exit_code) {
  strata::cli::drop_logs();
  std::cerr << "strata: " << code << ": " << strata::escape_for_display(message) << "\n";
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr so stdout stays machine-readable.
  strata::cli::install_log_sink(false);

  strata::cli::Context ctx;
  CLI::App app{"strata: three-tier durability for an application's state"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.set_version_flag("--version",
                       std::string("strata ") + STRATA_VERSION + " (" + STRATA_REVISION + ")",
                       "Print the version and the source revision, then exit");
  ctx.data_dir = strata::config::env_or("DATA_DIR", "./data");
  auto* data_dir_opt =
      app.add_option("--data-dir", ctx.data_dir, "Data directory (default $DATA_DIR or ./data)")
          ->check(CLI::Validator(
              [](std::string& s) { return s.empty() ? std::string("must not be empty") : ""; },
              "DIR"));
  std::string config_file;
  app.add_option("--config", config_file,
                 "TOML file of settings, keys named as the variables (default $STRATA_CONFIG)");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log informational messages to stderr");

  strata::cli::register_wal_commands(app, ctx);
  strata::cli::register_state_commands(app, ctx);
  strata::cli::register_remote_commands(app, ctx);
  strata::cli::register_bench_commands(app, ctx);
  strata::cli::register_archive_commands(app, ctx);
  strata::cli::register_sync_commands(app, ctx);
  strata::cli::register_recover_commands(app, ctx);
  strata::cli::register_repair_command(app, ctx);
  strata::cli::register_serve_command(app, ctx);
  strata::cli::register_config_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports "A subcommand is required" (or an unexpected argument)
    // when a word names no command; say which word.
    CLI::App* at = deepest_parsed(&app);
    std::vector<std::string> rest = at->remaining();
    const bool wants_command = dynamic_cast<const CLI::RequiredError*>(&e) != nullptr ||
                               dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
    if (wants_command && !at->get_subcommands([](CLI::App*) { return true; }).empty() &&
        !rest.empty() && !rest.front().starts_with("-")) {
      std::string cmd = at == &app ? "strata" : "strata " + at->get_name();
      std::cerr << "strata: unknown command '" << strata::escape_for_display(rest.front())
                << "' (see " << cmd << " --help)\n";
      return strata::cli::kExitUsage;
    }
    app.exit(e);
    return strata::cli::kExitUsage;
  }
  if (verbose) {
    spdlog::set_level(spdlog::level::info);
    strata::cli::set_log_mode(strata::cli::LogMode::kLive);
  }

  // Settings in layers: flags > environment > the configuration file.
  try {
    if (config_file.empty()) config_file = strata::config::env_or("STRATA_CONFIG", "");
    if (!config_file.empty()) strata::server::load_settings_file(config_file);
    if (data_dir_opt->count() > 0) strata::config::set_flag("DATA_DIR", ctx.data_dir);
    ctx.data_dir = strata::config::env_or("DATA_DIR", "./data");
  } catch (const strata::Error& e) {
    return fail(e.code_name(), e.what(), strata::cli::kExitUsage);
  }

  try {
    const int rc = ctx.action ? ctx.action() : 0;
    // A command that fails by exit code has printed its own line(s).
    if (rc == 0) {
      strata::cli::release_logs();
    } else {
      strata::cli::drop_logs();
    }
    return rc;
  } catch (const strata::Error& e) {
    // Bad input that wrote nothing: the same exit code whichever rule it broke.
    const bool usage = e.code() == strata::ErrorCode::kInvalidArgument ||
                       e.code() == strata::ErrorCode::kInvalidPath;
    return fail(e.code_name(), e.what(), usage ? strata::cli::kExitUsage : strata::cli::kExitError);
  } catch (const std::filesystem::filesystem_error& e) {
    return fail(strata::error_code_name(strata::ErrorCode::kIoError), e.what(),
                strata::cli::kExitError);
  } catch (const std::exception& e) {
    return fail(strata::error_code_name(strata::ErrorCode::kInternal), e.what(),
                strata::cli::kExitError);
  }
}
