#include "sync/remote_keys.h"

#include <fmt/format.h>

namespace strata {

namespace {

constexpr size_t kSeqDigits = 20;

// Parses exactly kSeqDigits decimal digits at the front of s.
std::optional<uint64_t> take_seq(std::string_view* s) {
  if (s->size() < kSeqDigits) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < kSeqDigits; ++i) {
    char c = (*s)[i];
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  s->remove_prefix(kSeqDigits);
  return v;
}

std::optional<std::string> take_tag(std::string_view* s) {
  if (s->size() < sync::kTagHexDigits) return std::nullopt;
  std::string_view t = s->substr(0, sync::kTagHexDigits);
  for (char c : t) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  s->remove_prefix(sync::kTagHexDigits);
  return std::string(t);
}

bool take(std::string_view* s, std::string_view lit) {
  if (!s->starts_with(lit)) return false;
  s->remove_prefix(lit.size());
  return true;
}

}  // namespace

std::string log_object_key(uint64_t first_seq, uint64_t last_seq, std::string_view tag,
                           SyncCompression c) {
  return fmt::format("{}{:020}-{:020}-{}{}", sync::kLogDir, first_seq, last_seq, tag,
                     c == SyncCompression::kZstd ? ".wal.zst" : ".wal");
}

std::string snapshot_object_key(uint64_t seq, std::string_view tag) {
  return fmt::format("{}{:020}-{}.tar.zst", sync::kSnapshotDir, seq, tag);
}

namespace sync {

std::optional<LogKey> parse_log_object_key(std::string_view key) {
  LogKey k;
  if (!take(&key, kLogDir)) return std::nullopt;
  auto first = take_seq(&key);
  if (!first || !take(&key, "-")) return std::nullopt;
  auto last = take_seq(&key);
  if (!last || !take(&key, "-")) return std::nullopt;
  auto tag = take_tag(&key);
  if (!tag) return std::nullopt;
  if (key == ".wal.zst") {
    k.compression = SyncCompression::kZstd;
  } else if (key == ".wal") {
    k.compression = SyncCompression::kNone;
  } else {
    return std::nullopt;
  }
  k.first_seq = *first;
  k.last_seq = *last;
  k.tag = std::move(*tag);
  return k;
}

std::optional<SnapshotKey> parse_snapshot_object_key(std::string_view key) {
  if (!take(&key, kSnapshotDir)) return std::nullopt;
  auto seq = take_seq(&key);
  if (!seq || !take(&key, "-")) return std::nullopt;
  auto tag = take_tag(&key);
  if (!tag || key != ".tar.zst") return std::nullopt;
  return SnapshotKey{*seq, std::move(*tag)};
}

std::string intent_key(uint64_t manifest_version, std::string_view nonce) {
  return fmt::format("{}{:020}-{}.json", kIntentDir, manifest_version, nonce);
}

std::optional<uint64_t> parse_intent_key(std::string_view key) {
  if (!take(&key, kIntentDir)) return std::nullopt;
  auto v = take_seq(&key);
  if (!v || !take(&key, "-")) return std::nullopt;
  auto nonce = take_tag(&key);
  if (!nonce || key != ".json") return std::nullopt;
  return v;
}

}  // namespace sync
}  // namespace strata
