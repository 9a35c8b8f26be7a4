// checkpoint.json: encoding, parsing and the rules both enforce
// (docs/remote-format.md is the reference).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/object_sync.h"
#include "sync/remote_keys.h"

namespace strata {

namespace {

constexpr std::string_view kFormatName = "strata-checkpoint";
// The manifest ends with this field, so its checksum can cover the exact
// bytes before it without any canonical re-serialization.
constexpr std::string_view kShaFieldOpen = ",\"manifest_sha256\":\"";
constexpr std::string_view kShaFieldClose = "\"}\n";
constexpr size_t kTrailerSize = kShaFieldOpen.size() + 64 + kShaFieldClose.size();

using ojson = nlohmann::ordered_json;

[[noreturn]] void invalid(std::string_view where, std::string_view why) {
  throw Error(ErrorCode::kManifestInvalid,
              fmt::format("manifest {}: {}; refusing it (nothing is written over it)", where, why));
}

bool is_sha_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_printable_id(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\') return false;
  }
  return true;
}

// Field accessors that name the field and the object in every refusal.
struct Reader {
  std::string_view where;
  std::string context;  // "log[3]" etc.

  const nlohmann::json& field(const nlohmann::json& j, const char* name) const {
    auto it = j.find(name);
    if (it == j.end()) invalid(where, fmt::format("{}\"{}\" is missing", prefix(), name));
    return *it;
  }
  uint64_t u64(const nlohmann::json& j, const char* name) const {
    const auto& v = field(j, name);
    if (!v.is_number_unsigned()) {
      invalid(where, fmt::format("{}\"{}\" is not a non-negative integer", prefix(), name));
    }
    return v.get<uint64_t>();
  }
  std::string str(const nlohmann::json& j, const char* name) const {
    const auto& v = field(j, name);
    if (!v.is_string()) invalid(where, fmt::format("{}\"{}\" is not a string", prefix(), name));
    return v.get<std::string>();
  }
  std::string sha(const nlohmann::json& j, const char* name) const {
    std::string s = str(j, name);
    if (!is_sha_hex(s)) {
      invalid(where, fmt::format("{}\"{}\" is not 64 lower-case hex digits", prefix(), name));
    }
    return s;
  }
  std::string prefix() const { return context.empty() ? "" : context + ": "; }
};

// Calls parse(reader, element) for each element of the array field `name`,
// refusing a non-array or a non-object element; the reader passed on names
// "name[i]" in every refusal.
template <class Parse>
void for_each_object(const Reader& r, const nlohmann::json& j, const char* name, Parse parse) {
  const auto& array = r.field(j, name);
  if (!array.is_array()) invalid(r.where, fmt::format("\"{}\" is not an array", name));
  for (size_t i = 0; i < array.size(); ++i) {
    Reader e{r.where, fmt::format("{}[{}]", name, i)};
    if (!array[i].is_object()) invalid(r.where, fmt::format("{} is not an object", e.context));
    parse(e, array[i]);
  }
}

SyncCompression parse_compression(std::string_view s, const Reader& r) {
  if (s == "zstd") return SyncCompression::kZstd;
  if (s == "none") return SyncCompression::kNone;
  invalid(r.where, fmt::format("{}compression \"{}\" is not zstd or none", r.prefix(), s));
}

void check_log_key(const LogObjectInfo& o, const Reader& r) {
  auto parsed = sync::parse_log_object_key(o.key);
  if (!parsed) {
    invalid(r.where, fmt::format("{}key \"{}\" is not a log object name (log/<first>-<last>-<tag>"
                                 ".wal[.zst])",
                                 r.prefix(), o.key));
  }
  if (parsed->first_seq != o.first_seq || parsed->last_seq != o.last_seq) {
    invalid(r.where,
            fmt::format("{}key \"{}\" names seqs {}-{} but the entry says {}-{}", r.prefix(), o.key,
                        parsed->first_seq, parsed->last_seq, o.first_seq, o.last_seq));
  }
  if (parsed->compression != o.compression) {
    invalid(r.where, fmt::format("{}key \"{}\" does not match compression {}", r.prefix(), o.key,
                                 sync_compression_name(o.compression)));
  }
}

// The rules every manifest obeys, whether parsed or about to be written.
void check_rules(const Manifest& m, std::string_view where) {
  Reader r{where, ""};
  if (m.format_version != kRemoteFormatVersion) {
    invalid(where,
            fmt::format("format_version {} is not {}", m.format_version, kRemoteFormatVersion));
  }
  if (m.manifest_version == 0) invalid(where, "manifest_version must be at least 1");
  if (!is_printable_id(m.lineage_id, 128)) {
    invalid(where, "lineage_id must be 1-128 printable ASCII characters");
  }
  if (!m.history_id.empty() && !is_printable_id(m.history_id, 128)) {
    invalid(where, "history_id must be printable ASCII (at most 128 characters)");
  }
  std::set<std::string> keys;
  for (size_t i = 0; i < m.log.size(); ++i) {
    const LogObjectInfo& o = m.log[i];
    r.context = fmt::format("log[{}]", i);
    try {
      validate_key(o.key);
    } catch (const Error& e) {
      invalid(where, fmt::format("{}{}", r.prefix(), e.what()));
    }
    check_log_key(o, r);
    if (!keys.insert(o.key).second) invalid(where, fmt::format("{}key listed twice", r.prefix()));
    if (o.first_seq == 0 || o.last_seq < o.first_seq) {
      invalid(where, fmt::format("{}seq range {}-{} is empty or starts at 0", r.prefix(),
                                 o.first_seq, o.last_seq));
    }
    if (o.entries == 0 || o.entries > o.last_seq - o.first_seq + 1) {
      invalid(where, fmt::format("{}{} entries do not fit seqs {}-{}", r.prefix(), o.entries,
                                 o.first_seq, o.last_seq));
    }
    // Divided, not multiplied: entries * kMinRecordBytes wraps around 2^64
    // (2^62 entries passed with raw_bytes 38; fuzz/regressions/manifest/).
    if (o.entries > o.raw_bytes / sync::kMinRecordBytes) {
      invalid(where, fmt::format("{}raw_bytes {} is too small for {} records", r.prefix(),
                                 o.raw_bytes, o.entries));
    }
    if (o.compression == SyncCompression::kNone &&
        (o.stored_bytes != o.raw_bytes || o.sha256 != o.raw_sha256)) {
      invalid(where, fmt::format("{}an uncompressed object's stored size and SHA-256 must equal "
                                 "the raw ones",
                                 r.prefix()));
    }
    if (!is_sha_hex(o.sha256) || !is_sha_hex(o.raw_sha256)) {
      invalid(where,
              fmt::format("{}sha256/raw_sha256 must be 64 lower-case hex digits", r.prefix()));
    }
    if (i > 0 && o.first_seq != m.log[i - 1].last_seq + 1) {
      invalid(where, fmt::format("{}starts at seq {} but the previous object ends at {} ({} in "
                                 "the log)",
                                 r.prefix(), o.first_seq, m.log[i - 1].last_seq,
                                 o.first_seq > m.log[i - 1].last_seq + 1 ? "a gap" : "an overlap"));
    }
  }
  uint64_t prev_seq = 0;
  for (size_t i = 0; i < m.snapshots.size(); ++i) {
    const SnapshotObjectInfo& s = m.snapshots[i];
    r.context = fmt::format("snapshots[{}]", i);
    try {
      validate_key(s.key);
    } catch (const Error& e) {
      invalid(where, fmt::format("{}{}", r.prefix(), e.what()));
    }
    auto parsed = sync::parse_snapshot_object_key(s.key);
    if (!parsed || parsed->seq != s.seq) {
      invalid(where, fmt::format("{}key \"{}\" is not snapshots/<seq>-<tag>.tar.zst for seq {}",
                                 r.prefix(), s.key, s.seq));
    }
    if (!keys.insert(s.key).second) invalid(where, fmt::format("{}key listed twice", r.prefix()));
    if (!is_sha_hex(s.sha256)) {
      invalid(where, fmt::format("{}sha256 must be 64 lower-case hex digits", r.prefix()));
    }
    if (i > 0 && s.seq <= prev_seq) {
      invalid(where, fmt::format("{}seq {} is not above the previous snapshot's {}", r.prefix(),
                                 s.seq, prev_seq));
    }
    if (s.seq > m.head_seq) {
      invalid(where, fmt::format("{}seq {} is above head_seq {}", r.prefix(), s.seq, m.head_seq));
    }
    prev_seq = s.seq;
  }
  // The chain: the log continues the oldest snapshot (or starts at seq 1)
  // and reaches the head.
  if (!m.log.empty()) {
    if (m.log.back().last_seq != m.head_seq) {
      invalid(where, fmt::format("the last log object ends at seq {} but head_seq is {}",
                                 m.log.back().last_seq, m.head_seq));
    }
    uint64_t start = m.log.front().first_seq;
    if (start != 1 && (m.snapshots.empty() || m.snapshots.front().seq + 1 < start)) {
      invalid(where, fmt::format("the log starts at seq {} but no snapshot covers the seqs before "
                                 "it",
                                 start));
    }
  } else {
    uint64_t covered = m.snapshots.empty() ? 0 : m.snapshots.back().seq;
    if (m.head_seq != covered) {
      invalid(where, fmt::format("head_seq {} is not covered: no log objects and the newest "
                                 "snapshot is at seq {}",
                                 m.head_seq, covered));
    }
  }
}

ojson log_json(const LogObjectInfo& o) {
  ojson j;
  j["key"] = o.key;
  j["first_seq"] = o.first_seq;
  j["last_seq"] = o.last_seq;
  j["entries"] = o.entries;
  j["last_timestamp_ms"] = o.last_timestamp_ms;
  j["raw_bytes"] = o.raw_bytes;
  j["stored_bytes"] = o.stored_bytes;
  j["sha256"] = o.sha256;
  j["raw_sha256"] = o.raw_sha256;
  j["compression"] = sync_compression_name(o.compression);
  j["created_at_ms"] = o.created_at_ms;
  return j;
}

ojson snapshot_json(const SnapshotObjectInfo& s) {
  ojson j;
  j["key"] = s.key;
  j["seq"] = s.seq;
  j["timestamp_ms"] = s.timestamp_ms;
  j["stored_bytes"] = s.stored_bytes;
  j["sha256"] = s.sha256;
  j["created_at_ms"] = s.created_at_ms;
  return j;
}

}  // namespace

std::string_view sync_compression_name(SyncCompression c) {
  return c == SyncCompression::kZstd ? "zstd" : "none";
}

std::string encode_manifest(Manifest& m) {
  check_rules(m, "about to be written");
  ojson j;
  j["format"] = kFormatName;
  j["format_version"] = m.format_version;
  j["manifest_version"] = m.manifest_version;
  j["lineage_id"] = m.lineage_id;
  j["history_id"] = m.history_id;
  j["written_at_ms"] = m.written_at_ms;
  j["head_seq"] = m.head_seq;
  j["head_timestamp_ms"] = m.head_timestamp_ms;
  j["log"] = ojson::array();
  for (const auto& o : m.log) j["log"].push_back(log_json(o));
  j["snapshots"] = ojson::array();
  for (const auto& s : m.snapshots) j["snapshots"].push_back(snapshot_json(s));
  std::string body = j.dump();
  body.pop_back();  // the closing '}': the checksum field goes last
  m.manifest_sha256 = sha256_hex(body);
  body += kShaFieldOpen;
  body += m.manifest_sha256;
  body += kShaFieldClose;
  return body;
}

Manifest parse_manifest(std::string_view bytes, std::string_view where) {
  if (bytes.empty()) invalid(where, "empty (0 bytes)");
  // Parse first, so a manifest from a newer format is refused as such even
  // if that format checksums differently.
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    invalid(where, fmt::format("not JSON ({})", e.what()));
  }
  if (!j.is_object()) invalid(where, "not a JSON object");
  Reader r{where, ""};
  if (r.str(j, "format") != kFormatName) {
    invalid(where, fmt::format("\"format\" is not \"{}\"", kFormatName));
  }
  uint64_t version = r.u64(j, "format_version");
  if (version > kRemoteFormatVersion) {
    invalid(where, fmt::format("format_version {} is from the future (this strata reads up to {}); "
                               "upgrade strata to read it",
                               version, kRemoteFormatVersion));
  }
  if (version == 0) invalid(where, "format_version 0 does not exist");

  if (bytes.size() < kTrailerSize + 2) {
    invalid(where, fmt::format("{} bytes is too short to hold its manifest_sha256", bytes.size()));
  }
  std::string_view tail = bytes.substr(bytes.size() - kTrailerSize);
  std::string_view body = bytes.substr(0, bytes.size() - kTrailerSize);
  if (!tail.starts_with(kShaFieldOpen) || !tail.ends_with(kShaFieldClose)) {
    invalid(where, "it does not end with its \"manifest_sha256\" field");
  }
  std::string_view stated = tail.substr(kShaFieldOpen.size(), 64);
  if (!is_sha_hex(stated)) invalid(where, "manifest_sha256 is not 64 lower-case hex digits");
  std::string actual = sha256_hex(body);
  if (actual != stated) {
    invalid(where, fmt::format("its SHA-256 {} does not match the manifest_sha256 {} it states "
                               "(damaged or edited)",
                               actual, stated));
  }

  Manifest m;
  m.format_version = static_cast<uint32_t>(version);
  m.manifest_version = r.u64(j, "manifest_version");
  m.lineage_id = r.str(j, "lineage_id");
  m.history_id = r.str(j, "history_id");
  m.written_at_ms = r.u64(j, "written_at_ms");
  m.head_seq = r.u64(j, "head_seq");
  m.head_timestamp_ms = r.u64(j, "head_timestamp_ms");
  m.manifest_sha256 = std::string(stated);
  for_each_object(r, j, "log", [&](const Reader& e, const nlohmann::json& v) {
    LogObjectInfo o;
    o.key = e.str(v, "key");
    o.first_seq = e.u64(v, "first_seq");
    o.last_seq = e.u64(v, "last_seq");
    o.entries = e.u64(v, "entries");
    o.last_timestamp_ms = e.u64(v, "last_timestamp_ms");
    o.raw_bytes = e.u64(v, "raw_bytes");
    o.stored_bytes = e.u64(v, "stored_bytes");
    o.sha256 = e.sha(v, "sha256");
    o.raw_sha256 = e.sha(v, "raw_sha256");
    o.compression = parse_compression(e.str(v, "compression"), e);
    o.created_at_ms = e.u64(v, "created_at_ms");
    m.log.push_back(std::move(o));
  });
  for_each_object(r, j, "snapshots", [&](const Reader& e, const nlohmann::json& v) {
    SnapshotObjectInfo s;
    s.key = e.str(v, "key");
    s.seq = e.u64(v, "seq");
    s.timestamp_ms = e.u64(v, "timestamp_ms");
    s.stored_bytes = e.u64(v, "stored_bytes");
    s.sha256 = e.sha(v, "sha256");
    s.created_at_ms = e.u64(v, "created_at_ms");
    m.snapshots.push_back(std::move(s));
  });
  check_rules(m, where);
  return m;
}

}  // namespace strata
