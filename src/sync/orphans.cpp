// The orphan sweep: stale intents (an upload that never finished) are
// removed, and objects no manifest lists (uploaded by a sync that died before
// its manifest, or left when a delete failed) are collected; those older than
// SYNC_ORPHAN_MS are deleted by the sync once its own manifest is written and
// does not list them (an interrupted sync's objects may be reused first). The
// age rule keeps a sync still uploading elsewhere from being robbed.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>

#include "sync/remote_keys.h"
#include "sync/sync_impl.h"

namespace strata {

SweepResult ObjectStoreSync::Impl::sweep(const std::optional<RemoteManifest>& remote) {
  SweepResult out;
  std::set<std::string> listed;
  if (remote) {
    for (const auto& o : remote->manifest.log) listed.insert(o.key);
    for (const auto& s : remote->manifest.snapshots) listed.insert(s.key);
  }
  const auto now = clock();
  auto stale = [&](const std::string& key) {
    auto st = store->stat(key);
    if (!st) return false;
    return now - st->mtime > std::chrono::milliseconds(opt.orphan_ms);
  };
  auto remove = [&](const std::string& key, std::string_view why) {
    try {
      store->delete_file(key);
      out.deleted++;
      spdlog::info("sync: deleted {} {} ({})", why, key, store->describe());
    } catch (const Error& e) {
      spdlog::warn("sync: could not delete {} {}: {}", why, key, e.what());
    }
  };

  for (const auto& key : store->list_files(sync::kIntentDir)) {
    if (!sync::parse_intent_key(key)) continue;  // not ours: left alone
    if (stale(key)) remove(key, "stale intent");
  }
  for (const auto& dir : {sync::kLogDir, sync::kSnapshotDir}) {
    for (const auto& key : store->list_files(dir)) {
      if (listed.count(key) != 0) continue;
      bool ours = dir == sync::kLogDir ? sync::parse_log_object_key(key).has_value()
                                       : sync::parse_snapshot_object_key(key).has_value();
      if (!ours) continue;
      out.unlisted.insert(key);
      if (stale(key)) out.stale_unlisted.push_back(key);
    }
  }
  return out;
}

}  // namespace strata
