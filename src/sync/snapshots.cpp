// State snapshots: DATA_DIR/state brought up to the head, archived with the
// snapshot archive module (tar + zstd), uploaded and verified before a
// manifest lists it.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "strata/hash.h"
#include "strata/materializer.h"
#include "sync/remote_keys.h"
#include "sync/snapshot_archive.h"
#include "sync/sync_impl.h"

namespace strata {

bool ObjectStoreSync::Impl::snapshot_due(const Manifest& base, uint64_t now) const {
  const SnapshotObjectInfo* last = base.latest_snapshot();
  uint64_t since_bytes = 0;
  for (const auto& o : base.log) {
    if (!last || o.last_seq > last->seq) since_bytes += o.raw_bytes;
  }
  if (since_bytes == 0) return false;  // nothing new since the last snapshot
  if (since_bytes >= opt.snapshot_every_bytes) return true;
  uint64_t since = last ? last->created_at_ms : base.log.front().created_at_ms;
  return now >= since && now - since >= opt.snapshot_interval_ms;
}

SnapshotObjectInfo ObjectStoreSync::Impl::take_snapshot(uint64_t now) {
  // The state must not move while it is archived: materializing and
  // archiving happen under run_mu, and a daemon that materializes elsewhere
  // passes its own hook that serializes with its materializer.
  uint64_t seq = 0;
  if (opt.materialize) {
    seq = opt.materialize();
  } else {
    Materializer mat(opt.data_dir, opt.fs);
    seq = mat.run(wal).applied_seq;
  }
  const std::string dir = opt.data_dir + "/sync";
  create_directories(fs, dir);
  const std::string path = dir + "/upload-snapshot.tar.zst";
  struct Remove {
    std::string path;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } cleanup{path};
  sync::SnapshotMeta meta;
  meta.seq = seq;
  meta.lineage_id = opt.lineage_id;
  meta.created_ms = now;
  sync::SnapshotWriteOptions wo;
  wo.zstd_level = opt.zstd_level;
  wo.fs = opt.fs;
  sync::SnapshotWriteResult w =
      sync::write_snapshot_archive(opt.data_dir + "/state", meta, path, wo);
  for (const auto& s : w.skipped) {
    spdlog::warn("sync: snapshot at seq {} skips {}: {}", seq, s.path, s.reason);
  }

  SnapshotObjectInfo info;
  info.seq = seq;
  info.key = snapshot_object_key(seq, sync::tag_of(w.archive_sha256));
  info.stored_bytes = w.archive_bytes;
  info.sha256 = w.archive_sha256;
  info.created_at_ms = now;
  if (seq > 0) {
    if (auto e = wal.read_entry(seq)) info.timestamp_ms = e->timestamp_ms;
  }
  WriteOptions meta_out;
  meta_out.metadata = {{"strata-format", std::to_string(kRemoteFormatVersion)},
                       {"seq", std::to_string(seq)},
                       {"files", std::to_string(w.files)},
                       {"lineage", opt.lineage_id}};
  store->write_file_from(info.key, path, meta_out);
  LogObjectInfo as_object;
  as_object.key = info.key;
  as_object.stored_bytes = info.stored_bytes;
  as_object.sha256 = info.sha256;
  verify_uploaded({as_object});
  return info;
}

}  // namespace strata
