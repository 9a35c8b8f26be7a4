#include "wal/log_open.h"

#include <fmt/format.h>

#include "strata/error.h"
#include "wal/dir_state.h"
#include "wal/log_recovery.h"

namespace strata::wal {

OpenedLog open_log(FileSystem& fs, const std::string& dir, bool skip_corrupt, OpenReport& rep) {
  OpenedLog out;
  // A directory created here is made durable in its parent before anything
  // goes into it, or a power loss could take the whole WAL away.
  create_directories(fs, dir);
  pid_t holder = 0;
  out.lock = fs.try_lock(dir + "/LOCK", &holder);
  if (!out.lock) {
    throw Error(ErrorCode::kWalLockFailed,
                holder > 0
                    ? fmt::format("WAL {} is locked by another process (pid {})", dir, holder)
                    : fmt::format("WAL {} is locked by another process", dir));
  }
  const DirListing listing = list_segments(fs, dir);
  LogPlan plan = plan_log(listing, dir);
  if (plan.problem) throw log_problem_error(*plan.problem);
  remove_redundant(fs, dir, listing, plan, rep);

  out.history_id = read_history_id(fs, dir);
  if (out.history_id.empty()) {
    out.history_id = new_history_id();
    write_history_id(fs, dir, out.history_id);
  }
  out.sealed = std::move(plan.sealed);
  for (const auto& s : out.sealed) out.sealed_bytes += s->size;
  if (plan.tail) {
    const auto& t = *plan.tail;
    RepairedTail r = repair_tail(fs, dir, t.name, t.base, plan.tail_prev_last, skip_corrupt, rep);
    if (r.sealed) {
      out.sealed_bytes += r.sealed->size;
      out.sealed.push_back(std::move(r.sealed));
    } else if (r.file) {
      out.tail = OpenedLog::Tail{t.name, t.base, std::move(r.file), std::move(r.scan)};
    }
  }
  return out;
}

}  // namespace strata::wal
