// The object store (R2, S3, the filesystem store) as a recovery source, in
// the sync tier's remote format (docs/remote-format.md): the manifest, the
// newest snapshot at or before the target, the log objects after it.
// Everything from the store is hostile until checked: the manifest by
// parse_manifest (self-checksum, chain rules, future versions), every object
// by its size and SHA-256 as it streams in (bytes beyond the size the
// manifest gives are refused before they are kept), log objects by
// decode_log_object (records, CRCs, seqs), the snapshot by the hostile-safe
// archive reader.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "recovery/builders.h"
#include "recovery/local_source.h"
#include "recovery/run_context.h"
#include "recovery/staging.h"
#include "strata/object_sync.h"

namespace strata::recovery {

struct ObjectOffer {
  Offer offer;
  std::optional<Manifest> manifest;
};

// Reads and checks the manifest within RECOVERY_PROBE_TIMEOUT_MS. Never
// throws: an unreachable store or an invalid manifest is an offer with an
// error.
ObjectOffer probe_object(RunContext& ctx);

// What restoring the target takes from the manifest.
struct ObjectPlan {
  const SnapshotObjectInfo* snapshot = nullptr;  // nullptr: start from the empty state
  std::vector<const LogObjectInfo*> logs;        // in seq order
  uint64_t base_seq = 0;                         // the snapshot's seq (0 without one)
  uint64_t bytes = 0;                            // to download
};

// nullopt when the target lies outside what the manifest can restore.
std::optional<ObjectPlan> plan_object(const Manifest& m, const Target& target);
// "r2: snapshots at seqs 1000, 2000; log 1-3000 (times ...)": for refusals.
std::string object_range(const Manifest& m);

// Downloads the plan (RECOVERY_PARALLELISM at a time), checks it and builds
// the staged directory; with use_local, local entries after the manifest's
// head that follow on are added.
Built build_object(RunContext& ctx, Staging& staging, const Manifest& m, const ObjectPlan& plan,
                   LocalWal& local, bool use_local);

}  // namespace strata::recovery
