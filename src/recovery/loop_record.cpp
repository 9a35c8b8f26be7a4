#include "recovery/loop_record.h"

#include <nlohmann/json.hpp>

#include "strata/error.h"
#include "strata/recovery.h"

namespace strata::recovery {

namespace {

constexpr size_t kKeep = 100;

std::string record_path(const std::string& data_dir) {
  return data_dir + "/" + kRecoveryDirName + "/failures.json";
}

std::vector<FailureRecord> read_all(FileSystem& fs, const std::string& data_dir) {
  std::vector<FailureRecord> out;
  std::optional<std::string> text;
  try {
    text = read_small_file(fs, record_path(data_dir));
  } catch (const Error&) {
    return out;
  }
  if (!text) return out;
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("time_ms") || !e["time_ms"].is_number_unsigned()) continue;
    out.push_back({e["time_ms"].get<uint64_t>(), e.value("code", ""), e.value("message", "")});
  }
  return out;
}

}  // namespace

std::vector<FailureRecord> recent_failures(FileSystem& fs, const std::string& data_dir,
                                           uint64_t now_ms, uint64_t window_ms) {
  std::vector<FailureRecord> out;
  for (auto& f : read_all(fs, data_dir)) {
    if (f.time_ms + window_ms >= now_ms) out.push_back(std::move(f));
  }
  return out;
}

void record_failure(FileSystem& fs, const std::string& data_dir, const FailureRecord& failure) {
  std::vector<FailureRecord> all = read_all(fs, data_dir);
  all.push_back(failure);
  if (all.size() > kKeep) all.erase(all.begin(), all.end() - kKeep);
  nlohmann::json j = nlohmann::json::array();
  for (const auto& f : all)
    j.push_back({{"time_ms", f.time_ms}, {"code", f.code}, {"message", f.message}});
  create_directories(fs, data_dir + "/" + kRecoveryDirName);
  write_file_atomically(fs, record_path(data_dir),
                        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void clear_failures(FileSystem& fs, const std::string& data_dir) {
  const std::string path = record_path(data_dir);
  if (fs.exists(path)) {
    fs.remove(path);
    fs.sync_dir(parent_path(path));
  }
}

}  // namespace strata::recovery

namespace strata {

void reset_recovery_loop(const std::string& data_dir, FileSystem* fs) {
  recovery::clear_failures(fs ? *fs : FileSystem::real(), data_dir);
}

}  // namespace strata
