// The default CheckpointStorage::read_versioned: a stat and a read that must
// agree, for stores that cannot return an etag with the bytes.
#include <fmt/format.h>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/storage.h"

namespace strata {

std::optional<VersionedObject> CheckpointStorage::read_versioned(std::string_view key) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto st = stat(key);
    if (!st) return std::nullopt;
    auto data = read_file(key);
    if (!data) continue;  // removed in between: look again
    auto sha = st->metadata.find("sha256");
    // Bytes that hash to the stat's sha256 are that version's (or a version
    // with identical content, for which the etag is as good).
    if (sha != st->metadata.end() && sha->second == sha256_hex(*data)) {
      return VersionedObject{std::move(*data), st->etag};
    }
  }
  throw Error(ErrorCode::kStorageIntegrity,
              fmt::format("read {} from {}: the object kept changing while being read, or its "
                          "bytes do not match its sha256 metadata",
                          key, describe()));
}

}  // namespace strata
