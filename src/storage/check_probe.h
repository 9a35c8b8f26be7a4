// The part of CheckpointStorage::check() every store shares: a probe object
// written, read back and deleted through the store's own operations.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include "strata/storage.h"

namespace strata::storage {

// A failed check step: "CODE: message" for a strata::Error, else what().
CheckResult failed_check(std::string name, const std::exception& e);

// Appends "write", "read" and "delete" for a probe object
// strata-check/probe-<pid>-<random>; stops at the first failing step. Never
// throws a store error: each becomes a failed step.
void check_probe_round_trip(CheckpointStorage& store, std::vector<CheckResult>& out);

}  // namespace strata::storage
