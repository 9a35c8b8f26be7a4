// Names of the objects this tier writes under the prefix
// (docs/remote-format.md): log objects and snapshots named by the seqs they
// hold, zero-padded so a listing sorts by seq, plus a tag (the first 16 hex
// digits of the SHA-256 of their stored bytes) so that different content is
// never written under one name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strata/object_sync.h"
#include "wal/record_format.h"

namespace strata::sync {

inline constexpr std::string_view kLogDir = "log/";
inline constexpr std::string_view kSnapshotDir = "snapshots/";
inline constexpr std::string_view kIntentDir = "_intents/";
inline constexpr size_t kTagHexDigits = 16;
// The smallest framed record (empty path and data).
inline constexpr uint64_t kMinRecordBytes = wal::kRecordOverhead;

struct LogKey {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::string tag;
  SyncCompression compression = SyncCompression::kNone;
};
std::optional<LogKey> parse_log_object_key(std::string_view key);

struct SnapshotKey {
  uint64_t seq = 0;
  std::string tag;
};
std::optional<SnapshotKey> parse_snapshot_object_key(std::string_view key);

// "_intents/<manifest version, 20 digits>-<16 hex>.json"
std::string intent_key(uint64_t manifest_version, std::string_view nonce);
std::optional<uint64_t> parse_intent_key(std::string_view key);

// The tag of some stored bytes' SHA-256 hex.
inline std::string tag_of(std::string_view sha256_hex) {
  return std::string(sha256_hex.substr(0, kTagHexDigits));
}

}  // namespace strata::sync
