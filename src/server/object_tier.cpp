#include "server/object_tier.h"

#include <fmt/format.h>

#include "strata/config.h"
#include "strata/lineage.h"

namespace strata::server {

namespace {

// The object-store sync tier (strata/object_sync.h) as a scheduled job: each
// run is one sync(), which uploads, verifies, replaces the manifest, confirms
// "object" in the WAL, applies retention and prunes local segments.
class ObjectSyncTier : public ObjectTier {
 public:
  ObjectSyncTier(Wal& wal, std::unique_ptr<CheckpointStorage> store, ObjectSyncOptions options,
                 bool stand_in)
      : wal_(wal),
        store_(std::move(store)),
        target_(store_->describe()),
        stand_in_(stand_in),
        sync_(wal, *store_, std::move(options)) {}

  std::string name() const override { return "object"; }
  std::string target() const override { return target_; }
  bool stand_in() const override { return stand_in_; }

  std::optional<uint64_t> initial_confirmed_seq() override {
    const uint64_t c = wal_.confirmed("object");
    if (c == 0) return std::nullopt;
    return c;
  }

  JobResult run() override { return result_of(sync_.sync()); }

  bool wait_confirmed(uint64_t seq, std::chrono::milliseconds timeout) override {
    return sync_.wait_confirmed(seq, timeout).confirmed;
  }

  JobResult snapshot() override {
    SyncRequest req;
    req.force_snapshot = true;
    return result_of(sync_.sync(req));
  }

  uint64_t confirmed_now() override { return sync_.status().confirmed_seq; }

  nlohmann::json sync_detail() override {
    const SyncStatus s = sync_.status();
    const SyncMetrics m = sync_.metrics();
    nlohmann::json j = {{"store", s.store},
                        {"lineage_id", s.lineage_id},
                        {"manifest_version", s.manifest_version},
                        {"snapshots_uploaded", m.snapshots_uploaded},
                        {"segments_pruned", m.segments_pruned},
                        {"bytes_pruned", m.bytes_pruned},
                        {"retention_objects_deleted", m.retention_objects_deleted},
                        {"lineage_conflicts", m.lineage_conflicts},
                        {"compression_ratio", m.compression_ratio()}};
    if (s.latest_snapshot) {
      j["latest_snapshot"] = {{"key", s.latest_snapshot->key}, {"seq", s.latest_snapshot->seq}};
    } else {
      j["latest_snapshot"] = nullptr;
    }
    return j;
  }

 private:
  static JobResult result_of(const SyncResult& s) {
    JobResult r;
    if (s.confirmed_seq > 0) r.confirmed_seq = s.confirmed_seq;
    r.bytes = s.stored_bytes;
    r.idle = !s.wrote_manifest;
    r.detail = {{"wrote_manifest", s.wrote_manifest},
                {"manifest_version", s.manifest_version},
                {"confirmed_seq", s.confirmed_seq},
                {"previous_confirmed_seq", s.previous_confirmed_seq},
                {"objects_uploaded", s.objects_uploaded},
                {"objects_reused", s.objects_reused},
                {"raw_bytes", s.raw_bytes},
                {"stored_bytes", s.stored_bytes},
                {"retention_deleted", s.retention_deleted},
                {"orphans_deleted", s.orphans_deleted},
                {"segments_pruned", s.segments_pruned},
                {"duration_ms", s.duration.count()}};
    if (s.snapshot) {
      r.detail["snapshot"] = {{"key", s.snapshot->key},
                              {"seq", s.snapshot->seq},
                              {"stored_bytes", s.snapshot->stored_bytes},
                              {"sha256", s.snapshot->sha256}};
    } else {
      r.detail["snapshot"] = nullptr;
    }
    if (!s.wrote_manifest) {
      r.summary = fmt::format("nothing new (confirmed seq {})", s.confirmed_seq);
    } else {
      r.summary = fmt::format(
          "manifest v{}: confirmed seq {} -> {}, {} object(s) uploaded ({} bytes), {} reused{}{}",
          s.manifest_version, s.previous_confirmed_seq, s.confirmed_seq, s.objects_uploaded,
          s.stored_bytes, s.objects_reused,
          s.snapshot ? fmt::format(", snapshot at seq {}", s.snapshot->seq) : "",
          s.segments_pruned ? fmt::format(", {} local segment(s) pruned", s.segments_pruned) : "");
    }
    return r;
  }

  Wal& wal_;
  std::unique_ptr<CheckpointStorage> store_;
  const std::string target_;
  const bool stand_in_;
  ObjectStoreSync sync_;
};

}  // namespace

std::unique_ptr<ObjectTier> make_object_tier(Wal& wal, const std::string& data_dir,
                                             const std::string& local_remote_dir,
                                             std::function<uint64_t()> materialize) {
  // With R2_ENDPOINT the S3 client applies R2_PREFIX itself; the filesystem
  // stand-in gets it from the tier.
  const bool real = config::env("R2_ENDPOINT").has_value();
  ObjectSyncOptions o = ObjectSyncOptions::from_env(
      data_dir, lineage::load_or_create(FileSystem::real(), data_dir), real);
  // The daemon always runs the Git tier (a local stand-in without
  // GIT_REMOTE): its mark holds pruning back too.
  o.git_tier = true;
  o.materialize = std::move(materialize);
  return std::make_unique<ObjectSyncTier>(wal, open_checkpoint_storage_from_env(local_remote_dir),
                                          std::move(o), !real);
}

}  // namespace strata::server
