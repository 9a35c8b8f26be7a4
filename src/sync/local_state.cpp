#include "sync/local_state.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "strata/error.h"

namespace strata::sync {

namespace {

std::string dir_of(const std::string& data_dir) {
  return data_dir + "/sync";
}

nlohmann::json written_json(const std::optional<WrittenManifest>& w) {
  if (!w) return nullptr;
  return {{"version", w->version}, {"sha256", w->sha256}};
}

std::optional<WrittenManifest> written_from(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return WrittenManifest{j.at("version").get<uint64_t>(), j.at("sha256").get<std::string>()};
}

}  // namespace

std::optional<LocalState> load_local_state(FileSystem& fs, const std::string& data_dir) {
  const std::string path = dir_of(data_dir) + "/state.json";
  auto text = read_small_file(fs, path);
  if (!text) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(*text);
    LocalState s;
    s.lineage_id = j.at("lineage_id").get<std::string>();
    s.store = j.value("store", "");
    s.last = written_from(j.at("last_written"));
    s.pending = written_from(j.at("pending"));
    s.confirmed_seq = j.value("confirmed_seq", uint64_t{0});
    s.confirmed_history = j.value("confirmed_history", "");
    if (j.contains("last_success_ms") && !j["last_success_ms"].is_null()) {
      s.last_success_ms = j["last_success_ms"].get<int64_t>();
    }
    if (j.contains("last_error_ms") && !j["last_error_ms"].is_null()) {
      s.last_error_ms = j["last_error_ms"].get<int64_t>();
    }
    s.last_error = j.value("last_error", "");
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("{}: not a sync state file ({}); move it away to let the next sync "
                            "treat the remote manifest as this directory's own",
                            path, e.what()));
  }
}

void save_local_state(FileSystem& fs, const std::string& data_dir, const LocalState& s) {
  const std::string dir = dir_of(data_dir);
  create_directories(fs, dir);
  nlohmann::json j = {{"lineage_id", s.lineage_id},
                      {"store", s.store},
                      {"last_written", written_json(s.last)},
                      {"pending", written_json(s.pending)},
                      {"confirmed_seq", s.confirmed_seq},
                      {"confirmed_history", s.confirmed_history},
                      {"last_success_ms", nullptr},
                      {"last_error_ms", nullptr},
                      {"last_error", s.last_error}};
  if (s.last_success_ms) j["last_success_ms"] = *s.last_success_ms;
  if (s.last_error_ms) j["last_error_ms"] = *s.last_error_ms;
  write_file_atomically(fs, dir + "/state.json", j.dump(2) + "\n");
}

}  // namespace strata::sync
