// Failed recoveries, recorded in DATA_DIR/.recovery/failures.json so that a
// process restarted by a supervisor after every failure stops retrying
// (LOOP_DETECTED) instead of hammering the remotes or flapping forever.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/fs.h"

namespace strata::recovery {

inline constexpr const char* kRecoveryDirName = ".recovery";

struct FailureRecord {
  uint64_t time_ms = 0;
  std::string code;     // error code name
  std::string message;  // first line, for `strata recover --json`
};

// Failures at or after now_ms - window_ms, oldest first. An unreadable record
// file counts as no failures (it is rewritten on the next failure).
std::vector<FailureRecord> recent_failures(FileSystem& fs, const std::string& data_dir,
                                           uint64_t now_ms, uint64_t window_ms);
// Appends one (keeping the newest 100), atomically.
void record_failure(FileSystem& fs, const std::string& data_dir, const FailureRecord& failure);
// Forgets them all (after a success, or `--reset-loop`).
void clear_failures(FileSystem& fs, const std::string& data_dir);

}  // namespace strata::recovery
