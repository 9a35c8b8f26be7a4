// `strata serve`: the persistence daemon in the foreground (strata/server.h,
// docs/api.md).
#include "cli/cli.h"
#include "strata/server.h"
#include "strata/settings.h"

namespace strata::cli {

void register_serve_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the persistence daemon: recover, schedule the tiers, serve the HTTP API (docs/api.md) "
      "until SIGTERM or Ctrl-C");
  struct Args {
    std::string listen;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on (sets STRATA_LISTEN)");
  cmd->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      if (!a->listen.empty()) config::set_flag("STRATA_LISTEN", a->listen);
      return server::run(ctx.data_dir);
    };
  });
}

}  // namespace strata::cli
