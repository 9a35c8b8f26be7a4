// Building a staged data directory from one source: a base state (a
// snapshot, the template, or nothing), a log written with its original seqs,
// the state rebuilt by replay, and the check that the state is exactly the
// base plus the log.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "recovery/git_source.h"
#include "recovery/local_source.h"
#include "recovery/run_context.h"
#include "recovery/staging.h"
#include "recovery/state_check.h"
#include "recovery/wal_import.h"

namespace strata::recovery {

// A staged build in progress. The staged WAL is closed by finish(), so the
// commit can move it.
class StagedBuild {
 public:
  StagedBuild(RunContext& ctx, Staging& staging);

  // The base state: staging/state as it is when finish() is called
  // (restored snapshot, copied template, or empty), standing for every
  // entry up to base_seq.
  void set_base(uint64_t base_seq, std::string history);
  ImportedLog& log() { return *log_; }
  // Sets the staged WAL's mark for `tier` (at most its head) when finishing:
  // what that remote holds of this log, so later syncs continue from it.
  void set_mark(std::string tier, uint64_t seq) { marks_.emplace_back(std::move(tier), seq); }

  // Appends local records after the log's head while they follow on without
  // a gap and stay within the target. Returns the entries added.
  uint64_t extend_with_local(LocalWal& local, std::string_view why);

  // Materializes, verifies (Wal::verify and the state digest) and closes the
  // staged WAL. Fills seq, entries_restored, entries_replayed.
  void finish(Built& built);

 private:
  RunContext& ctx_;
  Staging& staging_;
  uint64_t base_seq_ = 0;
  std::unique_ptr<ImportedLog> log_;
  std::vector<std::pair<std::string, uint64_t>> marks_;
};

// The local WAL's records from seq 1 (complete_from_one), up to the target.
Built build_local_copy(RunContext& ctx, Staging& staging, LocalWal& local);
// A Git snapshot, then the local entries after it that follow on.
Built build_git(RunContext& ctx, Staging& staging, const SnapshotInfo& snapshot, LocalWal& local,
                bool use_local);
// The template directory, or (template_dir empty) nothing: a fresh history.
Built build_fresh(RunContext& ctx, Staging& staging, bool from_template);

}  // namespace strata::recovery
