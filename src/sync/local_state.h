// What this data directory remembers about the manifests it wrote, in
// DATA_DIR/sync/state.json, so a sync can tell its own manifest from one
// written by a copy of the directory (same lineage, other writer).
//
// Before a manifest is written its version and SHA-256 are recorded as
// pending (durably); after the write they become the last written. A crash
// in between leaves a pending record that matches the remote manifest, which
// the next sync recognises as its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "strata/fs.h"

namespace strata::sync {

struct WrittenManifest {
  uint64_t version = 0;
  std::string sha256;
  bool operator==(const WrittenManifest&) const = default;
};

struct LocalState {
  std::string lineage_id;
  std::string store;  // describe() of the store it was written to, for messages
  std::optional<WrittenManifest> last;
  std::optional<WrittenManifest> pending;
  // Until the WAL keeps tier marks itself: the seq the store confirmed and
  // the WAL history it belongs to.
  uint64_t confirmed_seq = 0;
  std::string confirmed_history;
  // The last outcome, so `strata status` in another process can show it.
  std::optional<int64_t> last_success_ms;
  std::optional<int64_t> last_error_ms;
  std::string last_error;

  // True when (version, sha) is a manifest this directory wrote or was
  // about to write.
  bool wrote(uint64_t version, const std::string& sha) const {
    WrittenManifest w{version, sha};
    return (last && *last == w) || (pending && *pending == w);
  }
};

// nullopt when the file does not exist. Throws kIoError, or kConfigInvalid
// naming the file when it does not parse.
std::optional<LocalState> load_local_state(FileSystem& fs, const std::string& data_dir);
// Atomically (write_file_atomically), creating DATA_DIR/sync durably.
void save_local_state(FileSystem& fs, const std::string& data_dir, const LocalState& s);

}  // namespace strata::sync
