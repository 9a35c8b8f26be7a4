// `strata repair [--dry-run] [--json]`: the way out of a WAL_CORRUPT open.
// It opens the WAL with skip_corrupt (corrupt records of the unsealed
// segment are dropped, the damaged file is kept beside the segment as
// <segment>.corrupt-<ms>, a torn tail is cut as every writer's open does) and
// says exactly what was dropped. --dry-run only reads (Wal::verify) and says
// what a repair would drop. Damage it cannot fix (a sealed segment, a broken
// chain of segments) is refused with the verify finding and nothing changes.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/wal.h"

namespace strata::cli {
namespace {

struct RepairArgs {
  bool dry_run = false;
  bool json = false;
};

nlohmann::json dropped_json(const DroppedRange& d) {
  nlohmann::json j = {{"file", d.file},
                      {"offset", d.offset},
                      {"bytes", d.bytes},
                      {"kind", d.torn_tail ? "torn_tail" : "corrupt_record"}};
  if (d.first_seq != 0) {
    j["seqs"] = {d.first_seq, d.last_seq};
  } else {
    j["seqs"] = nullptr;
  }
  return j;
}

std::string dropped_line(const DroppedRange& d) {
  std::string seqs =
      d.torn_tail ? "never acknowledged"
      : d.first_seq == 0
          ? "no seq missing around it"
          : (d.first_seq == d.last_seq ? fmt::format("seq {} lost", d.first_seq)
                                       : fmt::format("seqs {}-{} lost", d.first_seq, d.last_seq));
  return fmt::format("{} {} at offset {}: {} bytes ({})",
                     d.torn_tail ? "torn tail of" : "corrupt record in", d.file, d.offset, d.bytes,
                     seqs);
}

int run_repair(const Context& ctx, const RepairArgs& a) {
  if (!is_directory_following_links(FileSystem::real(), ctx.wal_dir())) {
    throw Error(ErrorCode::kNotFound, fmt::format("no WAL in {}", ctx.wal_dir()));
  }
  // Checked first, without the lock: damage a skip_corrupt open cannot fix
  // is refused before anything is written.
  VerifyResult v = Wal::verify(ctx.wal_dir());
  if (!v.ok && !v.repairable) {
    throw Error(
        ErrorCode::kWalCorrupt,
        fmt::format("{}{}: {} (`strata repair` drops corrupt records of the newest, "
                    "unsealed segment only; this needs a restore from a remote tier)",
                    v.bad_file, v.offset_known ? fmt::format(" at offset {}", v.bad_offset) : "",
                    v.problem));
  }
  std::vector<DroppedRange> dropped;
  std::string damaged_copy;
  uint64_t head = 0;
  if (a.dry_run) {
    dropped = v.dropped;
  } else {
    WalOptions options = wal_writer_options(ctx);
    options.skip_corrupt = true;
    OpenReport rep;
    auto wal = Wal::open(options, &rep);
    head = wal->status().head_seq;
    wal->close();
    dropped = rep.dropped;
    damaged_copy = rep.damaged_copy;
  }
  if (a.json) {
    nlohmann::json j;
    j["dry_run"] = a.dry_run;
    j["dropped"] = nlohmann::json::array();
    for (const auto& d : dropped) j["dropped"].push_back(dropped_json(d));
    j["damaged_copy"] =
        damaged_copy.empty() ? nlohmann::json(nullptr) : nlohmann::json(damaged_copy);
    if (!a.dry_run) j["head_seq"] = head;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (dropped.empty()) {
    std::cout << "nothing to repair\n";
    return 0;
  }
  for (const auto& d : dropped) {
    std::cout << (a.dry_run ? "would drop " : "dropped ") << dropped_line(d) << "\n";
  }
  if (!damaged_copy.empty()) std::cout << "damaged file kept as " << damaged_copy << "\n";
  if (!a.dry_run) std::cout << fmt::format("head seq {}\n", head);
  return 0;
}

}  // namespace

void register_repair_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "repair",
      "Drop corrupt records and a torn tail from the WAL (keeping a copy of the damaged file) "
      "and say what was dropped");
  auto a = std::make_shared<RepairArgs>();
  cmd->add_flag("--dry-run", a->dry_run, "Only say what would be dropped; change nothing");
  cmd->add_flag("--json", a->json, "Print JSON");
  add_lock_timeout_option(cmd, ctx);
  cmd->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_repair(ctx, *a); }; });
}

}  // namespace strata::cli
