// Crash points for the tests: STRATA_SYNC_FAILPOINT=<name>[:<n>] makes the
// process SIGKILL itself the n-th time (default the first) it reaches the
// named point, exactly as if it had been killed there. Read once, only by
// the sync tier; unset in normal use, where a check costs one comparison.
//
// Points: after-upload-object (after the n-th log object uploaded),
// after-upload (all uploaded, none verified), after-verify, after-manifest
// (written, not yet confirmed locally), before-intent-delete,
// before-retention-delete.
#pragma once

#include <string_view>

namespace strata::sync {

void failpoint(std::string_view name);

}  // namespace strata::sync
