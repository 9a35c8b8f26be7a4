// `strata remote verify`: the manifest's own checks, then every object it
// lists read back and hashed (in parallel), problems reported in manifest
// order so the first one named is deterministic.
#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "sync/sync_impl.h"

namespace strata {

std::optional<Manifest> read_remote_manifest(CheckpointStorage& base, std::string_view key_prefix) {
  sync::PrefixedStore store(base, std::string(key_prefix));
  auto bytes = store.read_file(kManifestKey);
  if (!bytes) return std::nullopt;
  return parse_manifest(*bytes, store.describe() + " " + std::string(kManifestKey));
}

RemoteVerifyResult ObjectStoreSync::verify_remote(const ProgressFn& progress) {
  MutexLock run(impl_->run_mu);
  return verify_remote_prefix(*impl_->store, "", impl_->opt.parallelism, progress);
}

RemoteVerifyResult verify_remote_prefix(CheckpointStorage& base, std::string_view key_prefix,
                                        uint32_t parallelism, const ProgressFn& progress) {
  sync::PrefixedStore view(base, std::string(key_prefix));
  CheckpointStorage& store = key_prefix.empty() ? base : view;
  RemoteVerifyResult r;
  std::optional<Manifest> remote;
  try {
    remote = read_remote_manifest(store);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kManifestInvalid && e.code() != ErrorCode::kStorageIntegrity) throw;
    r.manifest_found = true;
    r.problems.push_back({std::string(kManifestKey), e.what()});
    return r;
  }
  if (!remote) {
    r.problems.push_back(
        {std::string(kManifestKey), "missing: nothing was synced to " + store.describe() + " yet"});
    return r;
  }
  r.manifest_found = true;
  r.manifest = std::move(*remote);

  struct Item {
    std::string key;
    uint64_t size;
    std::string sha;
  };
  std::vector<Item> items;
  for (const auto& s : r.manifest.snapshots) items.push_back({s.key, s.stored_bytes, s.sha256});
  for (const auto& o : r.manifest.log) items.push_back({o.key, o.stored_bytes, o.sha256});

  std::vector<std::string> problem(items.size());
  std::atomic<size_t> next{0};
  std::mutex mu;
  SyncProgress p;
  p.objects_total = items.size();
  for (const auto& it : items) p.bytes_total += it.size;
  const auto t0 = std::chrono::steady_clock::now();
  std::exception_ptr error;
  auto work = [&] {
    try {
      for (size_t i = next++; i < items.size(); i = next++) {
        const Item& it = items[i];
        auto st = store.stat(it.key);
        if (!st) {
          problem[i] = "missing";
        } else if (st->size != it.size) {
          problem[i] = fmt::format("size {} but the manifest says {} (truncated or replaced)",
                                   st->size, it.size);
        } else if (!store.verify_checksum(it.key, it.sha)) {
          problem[i] = fmt::format(
              "its bytes do not hash to the manifest's sha256 {} (replaced "
              "or damaged)",
              it.sha);
        }
        std::lock_guard lk(mu);
        p.objects_done++;
        p.bytes_done += it.size;
        p.elapsed = std::chrono::steady_clock::now() - t0;
        if (progress) progress(p);
      }
    } catch (...) {
      std::lock_guard lk(mu);
      if (!error) error = std::current_exception();
      next = items.size();
    }
  };
  std::vector<std::thread> threads;
  for (uint32_t i = 1; i < std::min<uint64_t>(parallelism, items.size()); ++i) {
    threads.emplace_back(work);
  }
  work();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  for (size_t i = 0; i < items.size(); ++i) {
    if (!problem[i].empty()) r.problems.push_back({items[i].key, problem[i]});
  }
  r.objects_checked = items.size();
  r.bytes_checked = p.bytes_total;
  r.ok = r.problems.empty();
  return r;
}

}  // namespace strata
