#include "git/manifest.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/error.h"

namespace strata::git {

std::string Manifest::to_json() const {
  nlohmann::json skipped_json = nlohmann::json::array();
  for (const auto& s : skipped) skipped_json.push_back({{"path", s.path}, {"reason", s.reason}});
  nlohmann::json j = {
      {"format", format},           {"snapshot_id", snapshot_id}, {"created_at", created_at},
      {"wal_seq", wal_seq},         {"lineage_id", lineage_id},   {"file_count", file_count},
      {"total_bytes", total_bytes}, {"sources", sources},         {"empty_dirs", empty_dirs},
      {"skipped", skipped_json},
  };
  // Invalid UTF-8 in a file name must not make the snapshot fail.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

// nlohmann converts -5 to 18446744073709551611 for get<uint64_t>(); a
// manifest from a remote is hostile input, so the JSON type is checked.
uint64_t unsigned_field(const nlohmann::json& j, const char* key, std::string_view where) {
  const nlohmann::json& v = j.at(key);
  if (!v.is_number_unsigned()) {
    throw Error(ErrorCode::kGitError,
                fmt::format("{}: not a valid snapshot manifest: \"{}\" must be a whole number "
                            "0..{}, got {}",
                            where, key, UINT64_MAX, v.dump()));
  }
  return v.get<uint64_t>();
}

}  // namespace

Manifest Manifest::parse(std::string_view text, std::string_view where) {
  try {
    auto j = nlohmann::json::parse(text);
    Manifest m;
    if (!j.is_object() || !j.at("format").is_number_integer()) {
      throw Error(ErrorCode::kGitError,
                  fmt::format("{}: not a valid snapshot manifest: no integer \"format\"", where));
    }
    m.format = j.at("format").get<int>();
    if (m.format != kManifestFormat) {
      throw Error(ErrorCode::kGitError,
                  fmt::format("{}: manifest format {} is not supported (expected {})", where,
                              m.format, kManifestFormat));
    }
    m.snapshot_id = j.at("snapshot_id").get<std::string>();
    m.created_at = j.at("created_at").get<std::string>();
    m.wal_seq = unsigned_field(j, "wal_seq", where);
    m.lineage_id = j.value("lineage_id", "");
    m.file_count = unsigned_field(j, "file_count", where);
    m.total_bytes = unsigned_field(j, "total_bytes", where);
    m.sources = j.value("sources", std::vector<std::string>{"state"});
    m.empty_dirs = j.value("empty_dirs", std::vector<std::string>{});
    for (const auto& s : j.value("skipped", nlohmann::json::array())) {
      m.skipped.push_back({s.value("path", ""), s.value("reason", "")});
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kGitError,
                fmt::format("{}: not a valid snapshot manifest: {}", where, e.what()));
  }
}

}  // namespace strata::git
