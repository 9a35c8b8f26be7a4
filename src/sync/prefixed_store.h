// A view of a store under a key prefix, for stores that do not apply
// R2_PREFIX themselves (the filesystem store), so the tier sees one layout.
#pragma once

#include <string>

#include "strata/storage.h"

namespace strata::sync {

class PrefixedStore : public CheckpointStorage {
 public:
  // prefix: "" or ending in '/'.
  PrefixedStore(CheckpointStorage& inner, std::string prefix)
      : inner_(inner), prefix_(std::move(prefix)) {}

  std::string describe() const override {
    return prefix_.empty() ? inner_.describe() : inner_.describe() + " prefix " + prefix_;
  }
  bool is_available() override { return inner_.is_available(); }
  std::optional<std::string> read_file(std::string_view key) override {
    return inner_.read_file(k(key));
  }
  std::optional<VersionedObject> read_versioned(std::string_view key) override {
    return inner_.read_versioned(k(key));
  }
  bool read_file_to(std::string_view key, const std::string& local_path) override {
    return inner_.read_file_to(k(key), local_path);
  }
  bool stream_file(std::string_view key, const ByteSink& sink) override {
    return inner_.stream_file(k(key), sink);
  }
  void write_file(std::string_view key, std::string_view data,
                  const WriteOptions& options = {}) override {
    inner_.write_file(k(key), data, options);
  }
  void write_file_from(std::string_view key, const std::string& local_path,
                       const WriteOptions& options = {}) override {
    inner_.write_file_from(k(key), local_path, options);
  }
  void delete_file(std::string_view key) override { inner_.delete_file(k(key)); }
  std::vector<std::string> list_files(std::string_view prefix) override {
    auto keys = inner_.list_files(k(prefix));
    for (auto& key : keys) key.erase(0, prefix_.size());
    return keys;
  }
  bool verify_checksum(std::string_view key, std::string_view sha256_hex) override {
    return inner_.verify_checksum(k(key), sha256_hex);
  }
  std::optional<ObjectStat> stat(std::string_view key) override { return inner_.stat(k(key)); }
  std::vector<CheckResult> check() override { return inner_.check(); }

 private:
  std::string k(std::string_view key) const { return prefix_ + std::string(key); }
  CheckpointStorage& inner_;
  std::string prefix_;
};

}  // namespace strata::sync
