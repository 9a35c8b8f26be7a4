// WAL commands: append, get, replay, status, metrics, snapshot, verify,
// truncate-after, compact.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/json_output.h"
#include "cli/read_only_wal.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/hash.h"
#include "strata/materializer.h"
#include "strata/utf8.h"
#include "strata/wal.h"
#include "strata/wal_reader.h"

namespace strata::cli {
namespace {

std::unique_ptr<Wal> open_wal(const Context& ctx) {
  return Wal::open(wal_writer_options(ctx));
}

// The read-only commands: no lock (they work while a writer or `strata
// serve` holds the WAL, and on a read-only mount) and nothing created (a
// missing WAL is NOT_FOUND).
std::unique_ptr<WalReader> open_reader(const Context& ctx) {
  return WalReader::open(WalOptions::from_env(ctx.wal_dir()));
}

// The whole of --data-file. Anything that cannot be read to its end (missing,
// a directory, no permission, a read error) is a usage error naming the file:
// storing an empty entry instead would lose the data silently. Pipes
// (`--data-file <(cmd)`) are read to their end like files.
std::string read_data_file(const std::string& path) {
  auto bad = [&](int err) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("cannot read --data-file {}: {}", path, std::strerror(err)));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw bad(errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) throw bad(errno);
  if (S_ISDIR(st.st_mode)) throw bad(EISDIR);
  std::string out;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw bad(errno);
    }
    if (n == 0) return out;
    out.append(chunk, static_cast<size_t>(n));
  }
}

// One JSON line of `append --jsonl` to an entry; throws kInvalidArgument.
Entry entry_from_json_line(const std::string& line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
    throw Error(ErrorCode::kInvalidArgument, fmt::format("not valid JSON ({})", e.what()));
  }
  if (!j.is_object()) throw Error(ErrorCode::kInvalidArgument, "expected a JSON object");
  auto str = [&](const char* key, bool required) -> std::optional<std::string> {
    if (!j.contains(key)) {
      if (required) throw Error(ErrorCode::kInvalidArgument, fmt::format("missing \"{}\"", key));
      return std::nullopt;
    }
    if (!j[key].is_string()) {
      throw Error(ErrorCode::kInvalidArgument, fmt::format("\"{}\" must be a string", key));
    }
    return j[key].get<std::string>();
  };
  for (const auto& [key, _] : j.items()) {
    if (key != "type" && key != "op" && key != "path" && key != "data" && key != "data_b64") {
      throw Error(ErrorCode::kInvalidArgument, fmt::format("unknown field \"{}\"", key));
    }
  }
  Entry e;
  e.type = parse_entry_type(*str("type", true));
  e.op = parse_entry_op(*str("op", true));
  e.path = *str("path", true);
  auto data = str("data", false);
  auto b64 = str("data_b64", false);
  if (data && b64)
    throw Error(ErrorCode::kInvalidArgument, "give \"data\" or \"data_b64\", not both");
  if (data) e.data = *data;
  if (b64) e.data = base64_decode(*b64);
  validate_entry_path(e.path);
  return e;
}

void add_append(CLI::App& app, Context& ctx) {
  auto* cmd =
      app.add_subcommand("append", "Append one entry (or JSON lines from stdin); prints seqs");
  add_lock_timeout_option(cmd, ctx);
  struct Args {
    std::string type, op, path, data, data_file;
    bool jsonl = false;
    bool data_file_given = false;  // `--data-file ""` is a file name too
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--type", a->type, "session, bead, memory or config");
  cmd->add_option("--op", a->op, "create, update or delete");
  cmd->add_option("--path", a->path, "Relative path of the state file");
  auto* d = cmd->add_option("--data", a->data, "Contents as a string");
  auto* df = cmd->add_option("--data-file", a->data_file, "Read the contents from a file");
  d->excludes(df);
  auto* jl =
      cmd->add_flag("--jsonl", a->jsonl,
                    "Read {\"type\",\"op\",\"path\",\"data\"|\"data_b64\"} lines from stdin");
  jl->excludes(d)->excludes(df);
  cmd->callback([&ctx, a, cmd] {
    if (!a->jsonl && (a->type.empty() || a->op.empty() || a->path.empty())) {
      throw CLI::RequiredError("--type, --op and --path (or --jsonl)");
    }
    if (a->jsonl && (!a->type.empty() || !a->op.empty() || !a->path.empty())) {
      throw CLI::ValidationError("--jsonl",
                                 "takes entries from stdin, not from --type/--op/--path");
    }
    a->data_file_given = cmd->get_option("--data-file")->count() > 0;
    ctx.action = [&ctx, a] {
      if (!a->jsonl) {
        Entry e;
        e.type = parse_entry_type(a->type);
        e.op = parse_entry_op(a->op);
        e.path = a->path;
        e.data = a->data_file_given ? read_data_file(a->data_file) : a->data;
        validate_entry_path(e.path);
        auto wal = open_wal(ctx);
        try {
          std::cout << wal->append(e) << std::endl;
        } catch (const Error& err) {
          // An entry over WAL_MAX_ENTRY_BYTES is bad input (exit 2); the same
          // code from elsewhere (a remote's blob at restore) is not.
          if (err.code() != ErrorCode::kEntryTooLarge) throw;
          std::cerr << "strata: " << err.code_name() << ": " << escape_for_display(err.what())
                    << "\n";
          return kExitUsage;
        }
        wal->close();
        return 0;
      }
      auto wal = open_wal(ctx);
      std::string line;
      uint64_t lineno = 0, bad = 0;
      while (std::getline(std::cin, line)) {
        lineno++;
        if (line.empty()) continue;
        try {
          uint64_t seq = wal->append(entry_from_json_line(line));
          // "SEQ line N", flushed: the entry is durable now.
          std::cout << seq << " line " << lineno << std::endl;
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kInvalidArgument && e.code() != ErrorCode::kInvalidPath &&
              e.code() != ErrorCode::kEntryTooLarge) {
            throw;  // the WAL itself refused: stop, later lines would fail too
          }
          bad++;
          std::cerr << "strata: line " << lineno << ": " << e.code_name() << ": "
                    << escape_for_display(e.what()) << "\n";
        }
      }
      wal->close();
      // Bad lines are bad input, as for the single-entry form.
      return bad ? kExitUsage : 0;
    };
  });
}

void add_get(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("get", "Print one entry as JSON (exit 1 if there is none)");
  auto seq = std::make_shared<uint64_t>(0);
  cmd->add_option("SEQ", *seq, "Sequence number")->required()->check(unsigned_number());
  cmd->callback([&ctx, seq] {
    ctx.action = [&ctx, seq] {
      require_existing_wal(ctx);
      auto wal = open_reader(ctx);
      auto e = wal->read_entry(*seq);
      if (!e) {
        std::cerr << fmt::format("strata: NOT_FOUND: no entry with seq {}\n", *seq);
        return kExitNotFound;
      }
      EntryView v{e->seq, e->timestamp_ms, e->type, e->op, e->path, e->data};
      std::cout << entry_json(v).dump() << "\n";
      return 0;
    };
  });
}

void add_replay(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("replay", "Print entries as JSON lines in seq order");
  auto since = std::make_shared<uint64_t>(0);
  auto limit = std::make_shared<uint64_t>(0);
  cmd->add_option("--since", *since, "Only entries with seq greater than this")
      ->check(unsigned_number());
  cmd->add_option("--limit", *limit, "At most this many entries (0: all)")
      ->check(unsigned_number());
  cmd->callback([&ctx, since, limit] {
    ctx.action = [&ctx, since, limit] {
      require_existing_wal(ctx);
      auto wal = open_reader(ctx);
      wal->replay_view(*since, *limit, [](const EntryView& e) {
        std::cout << entry_json(e).dump() << "\n";
        return true;
      });
      std::cout.flush();
      return 0;
    };
  });
}

void add_status(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("status", "Show the WAL's state");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([&ctx, json] {
    ctx.action = [&ctx, json] {
      require_existing_wal(ctx);
      // A Wal that only reads: the object-store tier's status takes one.
      auto wal = read_only_wal(open_reader(ctx), WalOptions::from_env(ctx.wal_dir()));
      WalStatus s = wal->status();
      // A damaged state.seq is reported, not fatal: the WAL's status is what
      // this command is for.
      std::optional<uint64_t> applied;
      std::string state_error;
      try {
        applied = Materializer(ctx.data_dir).applied_seq();
      } catch (const Error& e) {
        state_error = fmt::format("{}: {}", e.code_name(), e.what());
      }
      if (*json) {
        auto j = status_json(s);
        j["state_applied_seq"] = applied ? nlohmann::json(*applied) : nlohmann::json(nullptr);
        if (!state_error.empty()) j["state_error"] = state_error;
        j["object_sync"] = sync_status_json(ctx, *wal);
        std::cout << j.dump(2) << "\n";
        return 0;
      }
      std::cout << fmt::format(
          "wal:            {}\n"
          "head seq:       {}\n"
          "first seq:      {}\n"
          "segments:       {} ({} bytes)\n"
          "sync:           {}\n"
          "disk pressure:  {}{}\n"
          "free space:     {} bytes\n"
          "state applied:  {}\n",
          escape_for_display(s.dir), s.head_seq, s.first_seq, s.segments, s.total_bytes,
          sync_mode_name(s.sync), disk_pressure_name(s.pressure),
          s.low_free_space ? " (low free space: writes refused)" : "", s.free_bytes,
          applied ? std::to_string(*applied) : "unknown (" + escape_for_display(state_error) + ")");
      std::cout << sync_status_text(ctx, *wal);
      return 0;
    };
  });
}

void add_metrics(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "metrics", "Show this reading process's WAL counters (a writer's are in its own process)");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([&ctx, json] {
    ctx.action = [&ctx, json] {
      require_existing_wal(ctx);
      auto wal = open_reader(ctx);
      auto j = metrics_json(wal->metrics());
      if (*json) {
        std::cout << j.dump(2) << "\n";
      } else {
        for (const auto& [k, v] : j.items()) std::cout << fmt::format("{:28} {}\n", k, v.dump());
      }
      return 0;
    };
  });
}

void add_snapshot(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("snapshot", "Describe the log: head seq, segments, SHA-256s");
  // Accepted for symmetry with the other commands; JSON is the only format,
  // so the flag binds no variable.
  cmd->add_flag("--json")->description("Print JSON (the only format)");
  cmd->callback([&ctx] {
    ctx.action = [&ctx] {
      require_existing_wal(ctx);
      auto wal = open_reader(ctx);
      WalSnapshot s = wal->snapshot();
      nlohmann::json j;
      j["head_seq"] = s.head_seq;
      j["sealed"] = nlohmann::json::array();
      for (const auto& seg : s.sealed) j["sealed"].push_back(segment_json(seg));
      j["active"] = segment_json(s.active);
      std::cout << j.dump(2) << "\n";
      return 0;
    };
  });
}

void add_verify(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "verify",
      "Check every record and sealed segment's SHA-256 (exit 1: corrupt, 4: only a torn tail)");
  cmd->callback([&ctx] {
    ctx.action = [&ctx] {
      require_existing_wal(ctx);
      VerifyResult r = Wal::verify(ctx.wal_dir());
      if (r.torn_tail_only()) {
        // What a crash leaves: nothing acknowledged is lost, and the next
        // writer's open cuts it. Not corruption.
        std::cerr << escape_for_display(fmt::format("strata: WAL_TORN_TAIL: {} at offset {}: {}",
                                                    r.bad_file, r.bad_offset, r.problem))
                  << "\n";
        return kExitTornTail;
      }
      if (!r.ok) {
        const std::string where = r.offset_known
                                      ? fmt::format("{} at offset {}", r.bad_file, r.bad_offset)
                                      : fmt::format("segment {}", r.bad_file);
        std::cerr << escape_for_display(
                         fmt::format("strata: WAL_CORRUPT: {}: {}", where, r.problem))
                  << "\n";
        return kExitNotFound;
      }
      std::cout << fmt::format("ok: {} segments, {} records\n", r.segments, r.records);
      return 0;
    };
  });
}

void add_truncate(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("truncate-after", "Remove every entry after SEQ");
  add_lock_timeout_option(cmd, ctx);
  auto seq = std::make_shared<uint64_t>(0);
  cmd->add_option("SEQ", *seq, "Last seq to keep")->required()->check(unsigned_number());
  cmd->callback([&ctx, seq] {
    ctx.action = [&ctx, seq] {
      require_existing_wal(ctx);
      auto wal = open_wal(ctx);
      wal->truncate_after(*seq);
      std::cout << fmt::format("head seq {}\n", wal->status().head_seq);
      return 0;
    };
  });
}

// The remote tiers whose marks hold compaction back: those configured for
// this data directory (the Git tier when GIT_REMOTE is set, the object store
// when R2_ENDPOINT is), and any tier that has ever confirmed entries here.
std::vector<std::string> compaction_tiers(const Context& ctx) {
  std::set<std::string> tiers;
  if (config::env("GIT_REMOTE")) tiers.insert("git");
  if (config::env("R2_ENDPOINT")) tiers.insert("object");
  for (const auto& m : Wal::read_tier_marks(ctx.wal_dir())) tiers.insert(m.tier);
  return {tiers.begin(), tiers.end()};
}

void add_compact(CLI::App& app, Context& ctx) {
  auto* cmd =
      app.add_subcommand("compact", "Keep only the latest entry per path in sealed segments");
  add_lock_timeout_option(cmd, ctx);
  auto force = std::make_shared<bool>(false);
  cmd->add_flag("--force", *force,
                "Also drop entries no remote tier has confirmed (they exist nowhere else)");
  cmd->callback([&ctx, force] {
    ctx.action = [&ctx, force] {
      auto options = wal_writer_options(ctx);
      options.tiers = compaction_tiers(ctx);
      auto wal = Wal::open(options);
      const uint64_t floor = wal->retention_floor();
      CompactResult r = wal->compact(*force);
      std::cout << fmt::format("dropped {} entries; segments {} -> {}; bytes {} -> {}\n",
                               r.entries_dropped, r.segments_before, r.segments_after,
                               r.bytes_before, r.bytes_after);
      if (!*force) {
        if (options.tiers.empty()) {
          std::cout << "(no remote tier is configured or has confirmed entries, so none is "
                       "dropped without --force)\n";
        } else {
          std::string marks;
          for (const auto& t : options.tiers) {
            marks += fmt::format("{}{} {}", marks.empty() ? "" : ", ", t, wal->confirmed(t));
          }
          std::cout << fmt::format(
              "(entries are dropped only up to seq {}, the lowest mark of the remote tiers: {})\n",
              floor, marks);
        }
      }
      return 0;
    };
  });
}

}  // namespace

WalOptions wal_writer_options(const Context& ctx) {
  WalOptions options = WalOptions::from_env(ctx.wal_dir());
  if (ctx.lock_timeout_ms) options.lock_timeout_ms = *ctx.lock_timeout_ms;
  return options;
}

void add_lock_timeout_option(CLI::App* cmd, Context& ctx) {
  cmd->add_option_function<double>(
         "--lock-timeout",
         [&ctx](double seconds) {
           if (!(seconds >= 0) || seconds > 86400) {
             throw CLI::ValidationError("--lock-timeout", "must be between 0 and 86400 seconds");
           }
           ctx.lock_timeout_ms = static_cast<uint64_t>(seconds * 1000);
         },
         "Seconds to wait for another process holding the WAL's lock (default "
         "WAL_LOCK_TIMEOUT_MS or 5)")
      ->type_name("SECONDS");
}

void register_wal_commands(CLI::App& app, Context& ctx) {
  add_append(app, ctx);
  add_get(app, ctx);
  add_replay(app, ctx);
  add_status(app, ctx);
  add_metrics(app, ctx);
  add_snapshot(app, ctx);
  add_verify(app, ctx);
  add_truncate(app, ctx);
  add_compact(app, ctx);
}

}  // namespace strata::cli
