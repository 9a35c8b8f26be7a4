// `strata config check [--json]`: every setting's effective value, where it
// came from (flag, environment, file, default), secrets masked; exit 2 with
// one line naming the key when anything is invalid.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "strata/error.h"
#include "strata/server.h"
#include "strata/settings.h"

namespace strata::cli {

namespace {

int config_check(const Context& ctx, bool json) {
  try {
    server::check_configuration(ctx.data_dir);
  } catch (const Error& e) {
    std::cerr << "strata: " << e.code_name() << ": " << e.what() << "\n";
    return e.code() == ErrorCode::kConfigInvalid ? kExitUsage : kExitError;
  }
  const std::string file = config::file_path();
  const auto all = config::resolve_all();
  auto shown = [](const config::Resolved& r) {
    if (!r.value && *r.setting->default_text) return std::string(r.setting->default_text);
    return config::shown_value(r);
  };
  if (json) {
    nlohmann::json out = {{"ok", true},
                          {"file", file.empty() ? nlohmann::json(nullptr) : nlohmann::json(file)},
                          {"settings", nlohmann::json::array()}};
    for (const auto& r : all) {
      out["settings"].push_back(
          {{"name", r.setting->name},
           {"value", r.value || *r.setting->default_text ? nlohmann::json(shown(r))
                                                         : nlohmann::json(nullptr)},
           {"source", config::source_name(r.source)},
           {"tier", r.setting->tier},
           {"default", r.setting->default_text},
           {"secret", r.setting->secret},
           {"meaning", r.setting->meaning}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "configuration file: "
            << (file.empty() ? "none (--config FILE or STRATA_CONFIG)" : file) << "\n";
  std::cout << fmt::format("{:<28} {:<36} {:<12} {}\n", "SETTING", "VALUE", "SOURCE", "TIER");
  for (const auto& r : all) {
    std::string value = shown(r);
    if (value.size() > 36) value = value.substr(0, 33) + "...";
    std::cout << fmt::format("{:<28} {:<36} {:<12} {}\n", r.setting->name, value,
                             config::source_name(r.source), r.setting->tier);
  }
  std::cout << "ok: every setting is valid\n";
  return 0;
}

}  // namespace

void register_config_commands(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("config", "Configuration: `strata config check [--json]`");
  cmd->require_subcommand(1);
  auto* check = cmd->add_subcommand(
      "check", "Validate every setting; print effective values and where each came from");
  struct Args {
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  check->add_flag("--json", a->json, "One JSON document");
  check->callback([&ctx, a] { ctx.action = [&ctx, a] { return config_check(ctx, a->json); }; });
}

}  // namespace strata::cli
