// The self-check at boot (the original's upstream check), run after the
// configuration is valid and before anything in DATA_DIR is written:
//  - every WAL segment's header is a format version this build reads (a
//    newer one is refused: kFormatUnsupported naming the file; nothing is
//    written, so an upgrade can be rolled back by starting the old build);
//  - DATA_DIR/state.seq is one this build understands;
//  - the file system has room (WAL_MIN_FREE_BYTES).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/fs.h"

namespace strata::server {

struct SelfCheckReport {
  std::vector<std::string> lines;     // what was checked, one line each
  std::vector<std::string> warnings;  // problems that do not stop the boot
};

// Throws kFormatUnsupported for a newer on-disk format, kWalCorrupt for a
// segment that is not a strata segment at all, kIoError when DATA_DIR is not
// usable.
SelfCheckReport self_check(const std::string& data_dir, uint64_t min_free_bytes,
                           FileSystem& fs = FileSystem::real());

}  // namespace strata::server
