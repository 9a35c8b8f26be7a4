// `strata remote`: use the checkpoint store by hand. The store is S3 when
// R2_ENDPOINT is set (configured by the R2_* variables, docs/storage.md),
// otherwise the filesystem store at STRATA_LOCAL_REMOTE_DIR (default
// DATA_DIR/remote), the daemon's.
#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/cli.h"
#include "strata/error.h"
#include "strata/storage.h"
#include "strata/utf8.h"

namespace strata::cli {

namespace {

std::unique_ptr<CheckpointStorage> open_store(const Context& ctx) {
  return open_checkpoint_storage_from_env(ctx.local_remote_dir());
}

struct RemoteArgs {
  std::string prefix;
  std::string key;
  std::string file;
  std::string output;
  bool if_absent = false;
};

}  // namespace

void register_remote_commands(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RemoteArgs>();
  CLI::App* remote =
      app.add_subcommand("remote",
                         "Use the checkpoint store directly (S3/R2 when R2_ENDPOINT is set, else "
                         "STRATA_LOCAL_REMOTE_DIR, default DATA_DIR/remote)");
  remote->require_subcommand(1);

  CLI::App* ls = remote->add_subcommand("ls", "List keys (one per line) under PREFIX");
  ls->add_option("PREFIX", args->prefix, "Key prefix (default: every key)");
  ls->callback([&ctx, args] {
    ctx.action = [&ctx, args] {
      auto store = open_store(ctx);
      // One key a line, escaped: a store (S3 especially) may list names with
      // control characters, which must neither drive the terminal nor split
      // one key into two lines.
      for (const auto& key : store->list_files(args->prefix)) {
        std::cout << escape_for_display(key) << "\n";
      }
      return 0;
    };
  });

  CLI::App* get = remote->add_subcommand("get", "Print an object, or write it to FILE with -o");
  get->add_option("KEY", args->key, "Object key")->required();
  get->add_option("-o,--output", args->output, "Write to this file (atomically) instead of stdout");
  get->callback([&ctx, args] {
    ctx.action = [&ctx, args]() -> int {
      auto store = open_store(ctx);
      if (!args->output.empty()) {
        if (!store->read_file_to(args->key, args->output)) {
          std::cerr << "strata: STORAGE_NOT_FOUND: no object " << escape_for_display(args->key)
                    << " in " << escape_for_display(store->describe()) << "\n";
          return kExitNotFound;
        }
        return 0;
      }
      // Streamed: the object is never held whole in memory.
      const bool found = store->stream_file(args->key, [](const char* p, size_t n) {
        if (std::fwrite(p, 1, n, stdout) != n) throw_errno("write", "stdout", errno);
      });
      if (!found) {
        std::cerr << "strata: STORAGE_NOT_FOUND: no object " << escape_for_display(args->key)
                  << " in " << escape_for_display(store->describe()) << "\n";
        return kExitNotFound;
      }
      if (std::fflush(stdout) != 0) throw_errno("write", "stdout", errno);
      return 0;
    };
  });

  CLI::App* put = remote->add_subcommand("put", "Upload FILE as KEY");
  put->add_option("KEY", args->key, "Object key")->required();
  put->add_option("FILE", args->file, "Local file")->required()->check(CLI::ExistingFile);
  put->add_flag("--if-absent", args->if_absent,
                "Fail with STORAGE_PRECONDITION_FAILED if KEY exists (If-None-Match: *)");
  put->callback([&ctx, args] {
    ctx.action = [&ctx, args] {
      auto store = open_store(ctx);
      WriteOptions options;
      options.if_absent = args->if_absent;
      store->write_file_from(args->key, args->file, options);
      return 0;
    };
  });

  CLI::App* rm = remote->add_subcommand("rm", "Delete KEY (deleting a missing key succeeds)");
  rm->add_option("KEY", args->key, "Object key")->required();
  rm->callback([&ctx, args] {
    ctx.action = [&ctx, args] {
      auto store = open_store(ctx);
      store->delete_file(args->key);
      return 0;
    };
  });

  CLI::App* check = remote->add_subcommand(
      "check", "Is the store reachable, are the credentials right, can it write, read and delete");
  check->callback([&ctx] {
    ctx.action = [&ctx] {
      auto store = open_store(ctx);
      std::cout << "store: " << escape_for_display(store->describe()) << "\n";
      bool all_ok = true;
      for (const auto& r : store->check()) {
        all_ok = all_ok && r.ok;
        std::cout << fmt::format("{:<4} {:<12} {}\n", r.ok ? "ok" : "FAIL", r.name,
                                 escape_for_display(r.detail));
      }
      return all_ok ? 0 : kExitNotFound;
    };
  });
}

}  // namespace strata::cli
