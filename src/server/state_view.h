// The materialized state as the daemon serves it: DATA_DIR/state/ brought up
// to the WAL head on demand (GET /v1/state/..., before each Git snapshot),
// one catch-up at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/thread_annotations.h"
#include "strata/materializer.h"
#include "strata/wal.h"

namespace strata::server {

struct StateFile {
  std::string data;
  uint64_t seq = 0;  // the state this file was read from: every entry up to seq applied
};

class StateView {
 public:
  explicit StateView(const std::string& data_dir);
  // Applies every entry after the recorded seq; returns the seq reached.
  uint64_t catch_up(Wal& wal) EXCLUDES(mu_);
  // The file at path (validated with validate_entry_path: kInvalidPath) after
  // a catch-up; nullopt when the state has no regular file there.
  std::optional<StateFile> read(Wal& wal, const std::string& path) EXCLUDES(mu_);
  uint64_t applied_seq() EXCLUDES(mu_);
  const std::string& dir() const { return dir_; }

 private:
  Mutex mu_;
  Materializer materializer_ GUARDED_BY(mu_);
  const std::string dir_;  // materializer_.state_dir(), which never changes
};

}  // namespace strata::server
