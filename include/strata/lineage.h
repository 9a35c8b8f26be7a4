// The lineage id: which history a data directory holds. Every tier labels
// what it stores with it (the Git archive's manifests, object-store
// checkpoints), so a tier never mistakes another data directory's copies
// for this one's. Kept in DATA_DIR/lineage-id, made once at first use and
// never changed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "strata/fs.h"

namespace strata::lineage {

inline constexpr std::string_view kFileName = "lineage-id";

// New ids are ULIDs (26 Crockford base32 digits, ordered by creation time);
// ids made by earlier versions, 32 lowercase hex digits, stay valid.
bool is_valid(std::string_view id);

// The id in data_dir/lineage-id; nullopt when the file does not exist.
// Never creates anything (not the file, not data_dir). Throws kIoError when
// the file holds something that is not an id (it names the file).
std::optional<std::string> read(FileSystem& fs, const std::string& data_dir);

// The existing id, or a new ULID written atomically (data_dir is created
// durably if missing). Processes racing to create it all return the one
// that was written first.
std::string load_or_create(FileSystem& fs, const std::string& data_dir);

}  // namespace strata::lineage
