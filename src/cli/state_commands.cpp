// State commands: materialize.
#include <iostream>

#include <fmt/format.h>

#include "cli/cli.h"
#include "strata/materializer.h"
#include "strata/wal.h"

namespace strata::cli {

void register_state_commands(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("materialize", "Bring DATA_DIR/state/ up to the WAL head");
  add_lock_timeout_option(cmd, ctx);
  cmd->callback([&ctx] {
    ctx.action = [&ctx] {
      auto wal = Wal::open(wal_writer_options(ctx));
      Materializer m(ctx.data_dir);
      MaterializeResult r = m.run(*wal);
      std::cout << r.applied_seq << "\n";
      // A rebuild is logged as a warning naming the reason (r.rebuild_reason).
      return 0;
    };
  });
}

}  // namespace strata::cli
