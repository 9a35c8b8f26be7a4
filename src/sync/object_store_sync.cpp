// ObjectStoreSync: the two-phase sync (read and fence the manifest, write an
// intent, ship and verify, replace the manifest with If-Match, confirm
// locally, clean up). docs/remote-format.md describes the protocol.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/random_id.h"
#include "strata/error.h"
#include "sync/failpoint.h"
#include "sync/remote_keys.h"
#include "sync/retention.h"
#include "sync/sync_impl.h"
#include "sync/wal_source.h"

namespace strata {

namespace {

// Cuts a manifest back to the seqs at or below keep_to (the local log was
// rewritten above them). Returns the seq shipping resumes after: an object
// reaching past keep_to is dropped whole and its range shipped again from
// the local log.
uint64_t cut_manifest(Manifest& m, uint64_t keep_to, std::vector<std::string>* dropped) {
  std::vector<LogObjectInfo> log;
  uint64_t resume = 0;
  for (auto& o : m.log) {
    if (o.last_seq <= keep_to) {
      resume = o.last_seq;
      log.push_back(std::move(o));
    } else {
      dropped->push_back(o.key);
    }
  }
  // A snapshot at or below keep_to holds only common entries.
  std::vector<SnapshotObjectInfo> snaps;
  for (auto& s : m.snapshots) {
    if (s.seq <= keep_to) {
      snaps.push_back(std::move(s));
    } else {
      dropped->push_back(s.key);
    }
  }
  if (log.empty() && !snaps.empty()) resume = snaps.back().seq;
  m.log = std::move(log);
  m.snapshots = std::move(snaps);
  m.head_seq = resume;
  m.head_timestamp_ms = m.log.empty() ? 0 : m.log.back().last_timestamp_ms;
  return resume;
}

}  // namespace

ObjectStoreSync::Impl::Impl(Wal& w, CheckpointStorage& s, ObjectSyncOptions o, Clock c)
    : wal(w),
      base_store(s),
      opt(std::move(o)),
      clock(c ? std::move(c) : Clock([] { return std::chrono::system_clock::now(); })),
      fs(opt.fs ? *opt.fs : FileSystem::real()) {
  opt.validate();
  if (!opt.key_prefix.empty()) {
    prefixed = std::make_unique<sync::PrefixedStore>(base_store, opt.key_prefix);
    store = prefixed.get();
  } else {
    store = &base_store;
  }
  local = sync::load_local_state(fs, opt.data_dir);
  if (local && local->lineage_id != opt.lineage_id) {
    spdlog::warn("sync: {}/sync/state.json belongs to lineage {}, not {}; ignoring it",
                 opt.data_dir, local->lineage_id, opt.lineage_id);
    local.reset();
  }
  confirmed = confirmed_mark();
  if (local) {
    last_success_ms = local->last_success_ms;
    last_error_ms = local->last_error_ms;
    last_error = local->last_error;
    last_failed = last_error_ms && (!last_success_ms || *last_error_ms > *last_success_ms);
  }
}

ObjectStoreSync::Impl::~Impl() {
  stop_worker();
}

void ObjectStoreSync::Impl::stop_worker() {
  {
    MutexLock lk(wait_mu);
    stopping = true;
  }
  wait_cv.notify_all();
  if (worker.joinable()) worker.join();
}

int64_t ObjectStoreSync::Impl::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock().time_since_epoch()).count();
}

ObjectStoreSync::ObjectStoreSync(Wal& wal, CheckpointStorage& store, ObjectSyncOptions options,
                                 Clock clock)
    : impl_(std::make_unique<Impl>(wal, store, std::move(options), std::move(clock))) {}

ObjectStoreSync::~ObjectStoreSync() {
  // The worker calls back into this object: stop it while all of it exists.
  impl_->stop_worker();
}

const ObjectSyncOptions& ObjectStoreSync::options() const {
  return impl_->opt;
}

std::optional<RemoteManifest> ObjectStoreSync::Impl::read_remote() {
  auto v = store->read_versioned(kManifestKey);
  if (!v) return std::nullopt;
  RemoteManifest r;
  r.manifest = parse_manifest(v->data, store->describe() + " " + std::string(kManifestKey));
  r.etag = std::move(v->etag);
  r.bytes = std::move(v->data);
  MutexLock lk(mu);
  manifest_version = r.manifest.manifest_version;
  latest_snapshot.reset();
  if (const auto* s = r.manifest.latest_snapshot()) latest_snapshot = *s;
  return r;
}

void ObjectStoreSync::Impl::check_fence(const std::optional<RemoteManifest>& remote, bool adopt) {
  if (adopt) return;
  const std::string where = store->describe();
  if (!remote) {
    if (local && local->last) {
      throw Error(ErrorCode::kLineageConflict,
                  fmt::format("{} has no {}, but this data directory wrote manifest version {} "
                              "there: it was deleted or the store was replaced; nothing was "
                              "written (strata sync --adopt starts a new history there)",
                              where, kManifestKey, local->last->version));
    }
    return;
  }
  const Manifest& m = remote->manifest;
  if (m.lineage_id != opt.lineage_id) {
    throw Error(ErrorCode::kLineageConflict,
                fmt::format("{} belongs to lineage {} (manifest version {}, head seq {}), not to "
                            "this data directory's lineage {}; nothing was written (strata sync "
                            "--adopt takes the prefix over and drops that lineage's objects)",
                            where, m.lineage_id, m.manifest_version, m.head_seq, opt.lineage_id));
  }
  if (local && local->last && !local->wrote(m.manifest_version, m.manifest_sha256)) {
    throw Error(
        ErrorCode::kLineageConflict,
        fmt::format("{}: manifest version {} (head seq {}) was not written by this data "
                    "directory, which last wrote version {}: another copy of lineage {} is "
                    "syncing to this prefix; nothing was written (strata sync --adopt "
                    "makes this copy the writer)",
                    where, m.manifest_version, m.head_seq, local->last->version, opt.lineage_id));
  }
  // The pending manifest is on the remote: its write landed though this
  // directory did not hear so (a kill, or a reply lost after the store took
  // it). It is the last written from now on; left pending, the next sync's
  // own pending record would replace it, and a failure of that write would
  // leave a remote manifest this directory no longer knows as its own
  // (LINEAGE_CONFLICT for good, found by the crash harness's lost replies).
  if (local && local->pending &&
      *local->pending == sync::WrittenManifest{m.manifest_version, m.manifest_sha256}) {
    local->last = local->pending;
    local->pending.reset();
    save_local();
  }
}

// The WAL keeps the mark with its history: truncate_after lowers it, so it
// always holds for the entries the log has now.
uint64_t ObjectStoreSync::Impl::confirmed_mark() {
  return wal.confirmed(kObjectTier);
}

void ObjectStoreSync::Impl::set_confirmed_mark(uint64_t seq, const std::string& history) {
  if (!local) local = sync::LocalState{};
  local->confirmed_seq = seq;
  local->confirmed_history = history;
  save_local();
  wal.confirm(kObjectTier, seq);
  confirmed = seq;
  wait_cv.notify_all();
}

void ObjectStoreSync::Impl::save_local() {
  local->lineage_id = opt.lineage_id;
  local->store = store->describe();
  sync::save_local_state(fs, opt.data_dir, *local);
}

void ObjectStoreSync::Impl::note_failure(const Error& e) {
  {
    MutexLock lk(mu);
    counters.sync_failures++;
    if (e.code() == ErrorCode::kLineageConflict) counters.lineage_conflicts++;
    last_error_ms = now_ms();
    last_error = fmt::format("{}: {}", e.code_name(), e.what());
    last_failed = true;
  }
  note_outcome();
}

// Best effort: the outcome is for status output, never worth failing over.
void ObjectStoreSync::Impl::note_outcome() {
  if (!local) local = sync::LocalState{};
  {
    MutexLock lk(mu);
    local->last_success_ms = last_success_ms;
    local->last_error_ms = last_error_ms;
    local->last_error = last_error;
  }
  try {
    save_local();
  } catch (const Error& e) {
    spdlog::warn("sync: could not record the sync's outcome in {}/sync: {}", opt.data_dir,
                 e.what());
  }
}

SyncResult ObjectStoreSync::Impl::run_sync(const SyncRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  SyncResult res;
  const uint64_t mark = confirmed_mark();
  res.previous_confirmed_seq = res.confirmed_seq = mark;

  // Phase 0: the manifest and the fence. Nothing is written before both pass.
  auto remote = read_remote();
  check_fence(remote, req.adopt);

  // Only durable entries are shipped: a record the local disk can still lose
  // must not reach the remote, or the seq would come back with other content.
  wal.flush();
  WalStatus ws = wal.status();
  uint64_t head = ws.durable_seq;

  Manifest base;
  std::vector<std::string> dropped;  // keys the new manifest stops listing
  uint64_t ship_after = 0;
  if (remote && !req.adopt) {
    base = remote->manifest;
    if (base.history_id == ws.history_id) {
      if (base.head_seq > head) {
        throw Error(ErrorCode::kLineageConflict,
                    fmt::format("{} holds seqs up to {} of this log's history, but the local log "
                                "ends at {}: this data directory lost entries (restored from an "
                                "older copy?); nothing was written (recover from the remote, or "
                                "strata sync --adopt to replace the remote with this log)",
                                store->describe(), base.head_seq, head));
      }
      ship_after = base.head_seq;
    } else {
      // truncate_after rewrote the log above some seq; what this directory
      // confirmed before is common to both histories.
      ship_after = cut_manifest(base, std::min(mark, base.head_seq), &dropped);
    }
  } else if (remote) {
    for (const auto& o : remote->manifest.log) dropped.push_back(o.key);
    for (const auto& s : remote->manifest.snapshots) dropped.push_back(s.key);
  }

  // A log that no longer reaches back to where the remote needs it (its old
  // segments were pruned) can only continue from a snapshot of the state.
  bool restart_from_snapshot = false;
  if (head > ship_after) {
    WalSnapshot snap = wal.snapshot();
    uint64_t oldest = snap.sealed.empty() ? snap.active.base_seq : snap.sealed.front().base_seq;
    restart_from_snapshot = oldest > ship_after + 1;
  }

  const uint64_t now = static_cast<uint64_t>(now_ms());
  const bool want_snapshot = req.force_snapshot || restart_from_snapshot || snapshot_due(base, now);
  // Retention applies to every manifest written, so the window moves even
  // when nothing new arrives.
  const bool retention_drops =
      !sync::plan_retention(base.log, base.snapshots, now, opt.retention_ms).drop.empty();

  if (head <= ship_after && dropped.empty() && !retention_drops && !want_snapshot &&
      !(req.adopt && remote) && remote) {
    // Nothing new: the manifest read above was the only request. A mark
    // behind the manifest is a crash between writing it and confirming.
    if (mark < base.head_seq) {
      set_confirmed_mark(base.head_seq, ws.history_id);
      res.confirmed_seq = base.head_seq;
    }
    if (local && local->pending && local->pending->version == remote->manifest.manifest_version) {
      local->last = local->pending;
      local->pending.reset();
      save_local();
    }
    res.manifest_version = remote->manifest.manifest_version;
    res.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    return res;
  }

  SweepResult seen;
  if (sweep_due ||
      std::chrono::steady_clock::now() - last_sweep > std::chrono::milliseconds(opt.orphan_ms)) {
    seen = sweep(remote);
    res.orphans_deleted = seen.deleted;
    sweep_due = false;
    last_sweep = std::chrono::steady_clock::now();
  }

  // Phase 1: the intent says an upload is under way, so a sweep elsewhere
  // leaves the objects alone until it is stale.
  const uint64_t version = (remote ? remote->manifest.manifest_version : 0) + 1;
  const std::string intent = sync::intent_key(version, random_hex(8));
  {
    nlohmann::json j = {{"format_version", kRemoteFormatVersion},
                        {"lineage_id", opt.lineage_id},
                        {"manifest_version", version},
                        {"from_seq", ship_after + 1},
                        {"to_seq", head},
                        {"created_at_ms", now}};
    store->write_file(intent, j.dump() + "\n");
  }

  // Phase 2: upload and verify: the snapshot (state at N), then the log.
  std::vector<SnapshotObjectInfo> new_snapshots;
  const SnapshotObjectInfo* last_snap = base.latest_snapshot();
  if (want_snapshot) {
    SnapshotObjectInfo s = take_snapshot(now);
    // Materializing may have applied entries appended after the flush: make
    // them durable before the remote may hold them.
    wal.flush();
    ws = wal.status();
    // The log must reach the snapshot's seq (the manifest's head covers both).
    head = std::max(head, std::min(s.seq, ws.durable_seq));
    if (last_snap && s.seq <= last_snap->seq) {
      // No entry since the last snapshot: the upload was the same state.
      if (s.key != last_snap->key) seen.stale_unlisted.push_back(s.key);
    } else {
      if (restart_from_snapshot) {
        for (const auto& o : base.log) dropped.push_back(o.key);
        for (const auto& old : base.snapshots) dropped.push_back(old.key);
        base.log.clear();
        base.snapshots.clear();
        base.head_seq = s.seq;
        base.head_timestamp_ms = s.timestamp_ms;
        ship_after = s.seq;
      }
      res.snapshot = s;
      new_snapshots.push_back(std::move(s));
    }
  }
  if (restart_from_snapshot && ship_after < head && new_snapshots.empty()) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("the remote needs entries from seq {}, but the local log no longer "
                            "holds them and no snapshot could replace them; nothing was written",
                            ship_after + 1));
  }
  std::vector<LogObjectInfo> objects = ship(ship_after, head, seen, req, &res);

  // Phase 3: the new manifest.
  Manifest m;
  m.manifest_version = version;
  m.lineage_id = opt.lineage_id;
  m.history_id = ws.history_id;
  m.written_at_ms = now;
  m.log = std::move(base.log);
  m.snapshots = std::move(base.snapshots);
  m.head_seq = base.head_seq;
  m.head_timestamp_ms = base.head_timestamp_ms;
  if (!objects.empty()) {
    m.head_seq = objects.back().last_seq;
    m.head_timestamp_ms = objects.back().last_timestamp_ms;
  }
  for (auto& o : objects) m.log.push_back(std::move(o));
  for (auto& s : new_snapshots) {
    if (s.seq > m.head_seq) {
      m.head_seq = s.seq;
      m.head_timestamp_ms = s.timestamp_ms;
    }
    m.snapshots.push_back(std::move(s));
  }
  auto kept = sync::plan_retention(m.log, m.snapshots, now, opt.retention_ms);
  m.log = std::move(kept.log);
  m.snapshots = std::move(kept.snapshots);
  dropped.insert(dropped.end(), kept.drop.begin(), kept.drop.end());
  // encode_manifest checks the chain rules again: nothing invalid is written.
  std::string bytes = encode_manifest(m);

  if (!local) local = sync::LocalState{};
  local->pending = sync::WrittenManifest{version, m.manifest_sha256};
  save_local();

  // R2 takes about one write per second to a key.
  auto since = std::chrono::steady_clock::now() - last_manifest_write;
  auto min_gap = std::chrono::milliseconds(opt.manifest_min_interval_ms);
  if (since < min_gap) std::this_thread::sleep_for(min_gap - since);
  WriteOptions w;
  if (remote) {
    w.if_match = remote->etag;
  } else {
    w.if_absent = true;
  }
  try {
    store->write_file(kManifestKey, bytes, w);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kStoragePreconditionFailed) throw;
    throw Error(ErrorCode::kLineageConflict,
                fmt::format("{} {} changed while this sync ran (another writer replaced it); "
                            "nothing was confirmed ({})",
                            store->describe(), kManifestKey, e.what()));
  }
  last_manifest_write = std::chrono::steady_clock::now();
  sync::failpoint("after-manifest");

  local->last = local->pending;
  local->pending.reset();
  set_confirmed_mark(m.head_seq, ws.history_id);
  res.confirmed_seq = m.head_seq;
  res.wrote_manifest = true;
  res.manifest_version = version;
  {
    MutexLock lk(mu);
    manifest_version = version;
    counters.manifests_written++;
    latest_snapshot.reset();
    if (const auto* s = m.latest_snapshot()) latest_snapshot = *s;
  }

  // Phase 4: clean up. Failures here leave garbage the sweep removes later,
  // never a wrong manifest.
  sync::failpoint("before-intent-delete");
  try {
    store->delete_file(intent);
  } catch (const Error& e) {
    spdlog::warn("sync: could not delete intent {} ({}); a later sync removes it", intent,
                 e.what());
    sweep_due = true;
  }
  std::set<std::string> now_listed;
  for (const auto& o : m.log) now_listed.insert(o.key);
  for (const auto& s : m.snapshots) now_listed.insert(s.key);
  for (const auto& key : seen.stale_unlisted) {
    if (now_listed.count(key) != 0) continue;
    try {
      store->delete_file(key);
      res.orphans_deleted++;
    } catch (const Error& e) {
      spdlog::warn("sync: could not delete unlisted {} ({})", key, e.what());
    }
  }
  sync::failpoint("before-retention-delete");
  for (const auto& key : dropped) {
    // Identical content shipped again has the same name: it is listed anew.
    if (now_listed.count(key) != 0) continue;
    try {
      store->delete_file(key);
      res.retention_deleted++;
    } catch (const Error& e) {
      spdlog::warn("sync: could not delete {} ({}); a later sync removes it", key, e.what());
      sweep_due = true;
    }
  }
  res.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return res;
}

SyncResult ObjectStoreSync::sync(const SyncRequest& request) {
  MutexLock run(impl_->run_mu);
  try {
    SyncResult r = impl_->run_sync(request);
    if (impl_->opt.prune_after_sync && r.confirmed_seq > r.previous_confirmed_seq) {
      try {
        r.segments_pruned = prune(false).deleted.size();
      } catch (const Error& e) {
        spdlog::warn("sync: pruning after the sync failed: {}", e.what());
      }
    }
    {
      MutexLock lk(impl_->mu);
      auto& c = impl_->counters;
      c.syncs++;
      if (!r.wrote_manifest) c.empty_syncs++;
      c.objects_uploaded += r.objects_uploaded;
      c.objects_reused += r.objects_reused;
      c.raw_bytes_shipped += r.raw_bytes;
      c.stored_bytes_shipped += r.stored_bytes;
      c.retention_objects_deleted += r.retention_deleted;
      c.orphans_deleted += r.orphans_deleted;
      if (r.snapshot) c.snapshots_uploaded++;
      impl_->last_success_ms = impl_->now_ms();
      impl_->last_failed = false;
    }
    impl_->note_outcome();
    return r;
  } catch (const Error& e) {
    impl_->note_failure(e);
    impl_->sweep_due = true;
    throw;
  }
}

std::optional<Manifest> ObjectStoreSync::read_manifest() {
  auto r = impl_->read_remote();
  if (!r) return std::nullopt;
  return std::move(r->manifest);
}

SyncStatus ObjectStoreSync::status() {
  SyncStatus s;
  s.store = impl_->store->describe();
  s.lineage_id = impl_->opt.lineage_id;
  WalStatus ws = impl_->wal.status();
  s.head_seq = ws.head_seq;
  s.confirmed_seq = impl_->confirmed.load();
  s.lag_entries = s.head_seq > s.confirmed_seq ? s.head_seq - s.confirmed_seq : 0;
  if (s.lag_entries > 0) {
    if (auto ts = sync::first_timestamp_after(impl_->wal, s.confirmed_seq)) {
      double age = static_cast<double>(impl_->now_ms() - static_cast<int64_t>(*ts)) / 1000.0;
      s.lag_seconds = age > 0 ? age : 0;
    }
  }
  MutexLock lk(impl_->mu);
  s.manifest_version = impl_->manifest_version;
  s.last_success_ms = impl_->last_success_ms;
  s.last_error_ms = impl_->last_error_ms;
  s.last_error = impl_->last_error;
  s.last_attempt_failed = impl_->last_failed;
  s.latest_snapshot = impl_->latest_snapshot;
  return s;
}

SyncMetrics ObjectStoreSync::metrics() {
  MutexLock lk(impl_->mu);
  SyncMetrics m = impl_->counters;
  if (auto* s3 = dynamic_cast<S3CheckpointStorage*>(&impl_->base_store)) {
    m.storage_retries = s3->stats().retries;
  }
  return m;
}

}  // namespace strata
