// RECOVERY_TEMPLATE_DIR: a directory copied into state/ when no tier has
// anything, so a new host starts from a known configuration.
#pragma once

#include <string>

#include "recovery/run_context.h"

namespace strata::recovery {

Offer probe_template(RunContext& ctx);

// Copies the template's regular files and directories into to_dir (which
// must not exist) without following symlinks; names outside the entry path
// rules and anything else are skipped and listed in *skipped. Returns the
// files copied.
uint64_t copy_template(RunContext& ctx, const std::string& to_dir,
                       std::vector<std::string>* skipped);

}  // namespace strata::recovery
