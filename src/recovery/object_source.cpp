#include "recovery/object_source.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/random_id.h"
#include "strata/error.h"
#include "strata/hash.h"
#include "strata/storage.h"
#include "sync/snapshot_archive.h"
#include "wal/record_format.h"

namespace strata::recovery {

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One object to fetch: the snapshot (index 0 when there is one) or a log object.
struct Task {
  std::string key;  // with the key prefix
  const LogObjectInfo* log = nullptr;
  const SnapshotObjectInfo* snapshot = nullptr;
};

struct Slot {
  bool done = false;
  std::exception_ptr error;
  std::string raw;  // a log object's records, checked
};

// Shared between the importing thread and the download workers; the workers
// own a reference, so a worker still inside a store call after the build
// gave up (timeout) touches nothing that is gone.
struct Pipeline {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Task> tasks;
  std::vector<Slot> slots;
  size_t next = 0;      // the next task a worker takes
  size_t consumed = 0;  // tasks the importer is done with
  size_t window = 8;    // tasks downloaded ahead of the importer at most
  std::atomic<bool> cancel{false};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> objects{0};
  std::atomic<int64_t> last_progress_ns{0};
  CheckpointStorage* store = nullptr;
  FileSystem* fs = nullptr;
  std::string snapshot_file;  // where the snapshot is downloaded to
  std::string lineage;
};

// The paths the restored log writes or deletes after the snapshot, and the
// directories its writes need. A snapshot file at such a path, or below a
// path the log writes or deletes, is replaced or removed by the replay
// whatever it held, so extracting it would only cost a file create (about a
// millisecond on this machine's ext4) that the replay then overwrites.
class ReplacedPaths {
 public:
  void add(const wal::RecordView& v) {
    std::string path(v.path);
    if (v.op != EntryOp::kDelete) {
      for (size_t slash = path.find('/'); slash != std::string::npos;
           slash = path.find('/', slash + 1))
        made_dirs_.insert(path.substr(0, slash));
    }
    touched_.insert(std::move(path));
  }
  bool replaced(std::string_view rel) const {
    const std::string p(rel);
    if (touched_.contains(p) || made_dirs_.contains(p)) return true;
    for (size_t slash = p.find('/'); slash != std::string::npos; slash = p.find('/', slash + 1))
      if (touched_.contains(p.substr(0, slash))) return true;
    return false;
  }
  bool empty() const { return touched_.empty(); }

 private:
  std::unordered_set<std::string> touched_;    // written or deleted
  std::unordered_set<std::string> made_dirs_;  // a file there is removed for a write below it
};

[[noreturn]] void integrity(const std::string& key, const std::string& why) {
  throw Error(ErrorCode::kStorageIntegrity, fmt::format("r2 object {}: {}", key, why));
}

// Streams one object, refusing bytes past `size`, into sink; checks the
// SHA-256 at the end unless sha256 is "".
void fetch(Pipeline& p, const std::string& key, uint64_t size, const std::string& sha256,
           const std::function<void(const char*, size_t)>& sink) {
  Sha256 sha;
  uint64_t got = 0;
  const bool found = p.store->stream_file(key, [&](const char* data, size_t len) {
    if (p.cancel) throw Error(ErrorCode::kTimeout, "download cancelled");
    if (got + len > size)
      integrity(key,
                fmt::format("the store sends more than the {} bytes the manifest gives", size));
    if (!sha256.empty()) sha.update(data, len);
    sink(data, len);
    got += len;
    p.bytes += len;
    p.last_progress_ns = steady_ns();
  });
  if (!found) integrity(key, "listed in the manifest but missing from the store");
  if (got != size) integrity(key, fmt::format("{} bytes, the manifest says {}", got, size));
  if (sha256.empty()) return;  // the caller checks the bytes itself
  const std::string hex = to_hex(sha.finish());
  if (hex != sha256)
    integrity(key, fmt::format("SHA-256 {} does not match the manifest's {}", hex, sha256));
}

void run_task(Pipeline& p, size_t i) {
  const Task& t = p.tasks[i];
  Slot& slot = p.slots[i];  // only this worker writes it until done is set
  if (t.log) {
    std::string stored;
    stored.reserve(static_cast<size_t>(t.log->stored_bytes));
    // decode_log_object checks size, SHA-256, records and seqs.
    fetch(p, t.key, t.log->stored_bytes, "", [&](const char* d, size_t n) { stored.append(d, n); });
    slot.raw = decode_log_object(stored, *t.log);
  } else {
    // Extracted by the importer once it knows which members the log
    // replaces (build_object).
    auto f = p.fs->open(p.snapshot_file, OpenMode::kCreate);
    uint64_t at = 0;
    fetch(p, t.key, t.snapshot->stored_bytes, t.snapshot->sha256, [&](const char* d, size_t n) {
      f->pwrite(d, n, at);
      at += n;
    });
  }
  p.objects++;
}

void worker(std::shared_ptr<Pipeline> p) {
  while (true) {
    size_t i = 0;
    {
      std::unique_lock lk(p->mu);
      p->cv.wait(lk, [&] {
        return p->cancel || p->next >= p->tasks.size() || p->next < p->consumed + p->window;
      });
      if (p->cancel || p->next >= p->tasks.size()) return;
      i = p->next++;
    }
    std::exception_ptr error;
    try {
      run_task(*p, i);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard lk(p->mu);
    p->slots[i].error = error;
    p->slots[i].done = true;
    p->cv.notify_all();
  }
}

// Cancels the workers when the build ends, however it ends; they are waited
// for when the run ends (one may be inside a store call).
struct Workers {
  RunContext& ctx;
  std::shared_ptr<Pipeline> p;
  std::vector<std::thread> threads;
  ~Workers() {
    p->cancel = true;
    p->cv.notify_all();
    for (auto& t : threads) ctx.adopt_straggler(std::move(t));
  }
};

}  // namespace

ObjectOffer probe_object(RunContext& ctx) {
  ObjectOffer o;
  CheckpointStorage* store = ctx.tiers.object_store;
  if (!begin_offer(o.offer, RecoverySource::kObjectStore, store != nullptr)) return o;
  const std::string key = ctx.tiers.object_key_prefix + std::string(kManifestKey);
  try {
    std::optional<std::string> bytes = ctx.bounded<std::optional<std::string>>(
        ctx.config.probe_timeout, "RECOVERY_PROBE_TIMEOUT_MS",
        "reading " + key + " from " + store->describe(),
        [store, key] { return store->read_file(key); });
    o.offer.reachable = true;
    if (!bytes) {
      o.offer.line = fmt::format("no manifest ({}) at {}", key, store->describe());
      return o;
    }
    o.manifest = parse_manifest(*bytes, key);
  } catch (const Error& e) {
    o.offer.error = e;
    o.offer.line =
        fmt::format("{}: {}", o.offer.reachable ? "unusable" : "unreachable", describe(e));
    return o;
  }
  const Manifest& m = *o.manifest;
  o.offer.has_data = m.head_seq > 0 || !m.snapshots.empty();
  o.offer.lineage = m.lineage_id;
  o.offer.head_seq = m.head_seq;
  o.offer.head_time_ms = m.head_timestamp_ms;
  o.offer.line = fmt::format("manifest v{}: head {}, {} log objects, {} snapshots",
                             m.manifest_version, m.head_seq, m.log.size(), m.snapshots.size());
  return o;
}

std::string object_range(const Manifest& m) {
  std::vector<uint64_t> seqs;
  for (const auto& s : m.snapshots) seqs.push_back(s.seq);
  const uint64_t oldest =
      m.log_start() == 1 ? 1 : (m.snapshots.empty() ? 0 : m.snapshots.front().seq);
  const uint64_t oldest_time =
      m.log_start() == 1 ? 0 : (m.snapshots.empty() ? 0 : m.snapshots.front().timestamp_ms);
  return fmt::format("r2: seqs {}-{} (snapshots at [{}]), times {}-{} (ms)", oldest, m.head_seq,
                     fmt::join(seqs, ", "), oldest_time, m.head_timestamp_ms);
}

std::optional<ObjectPlan> plan_object(const Manifest& m, const Target& t) {
  ObjectPlan plan;
  if (t.seq && *t.seq > m.head_seq) return std::nullopt;
  if (t.time_ms && *t.time_ms > m.head_timestamp_ms) return std::nullopt;
  for (auto it = m.snapshots.rbegin(); it != m.snapshots.rend(); ++it) {
    if ((!t.seq || it->seq <= *t.seq) && (!t.time_ms || it->timestamp_ms <= *t.time_ms)) {
      plan.snapshot = &*it;
      break;
    }
  }
  if (plan.snapshot == nullptr && m.log_start() != 1) return std::nullopt;
  plan.base_seq = plan.snapshot ? plan.snapshot->seq : 0;
  if (plan.snapshot) plan.bytes += plan.snapshot->stored_bytes;
  for (const auto& o : m.log) {
    if (o.last_seq <= plan.base_seq) continue;
    if (t.seq && o.first_seq > *t.seq) break;
    plan.logs.push_back(&o);
    plan.bytes += o.stored_bytes;
    if (t.time_ms && o.last_timestamp_ms > *t.time_ms) break;  // the target lies in this one
  }
  return plan;
}

Built build_object(RunContext& ctx, Staging& staging, const Manifest& m, const ObjectPlan& plan,
                   LocalWal& local, bool use_local) {
  Built b;
  b.lineage = m.lineage_id;
  auto p = std::make_shared<Pipeline>();
  p->store = ctx.tiers.object_store;
  p->fs = &ctx.fs;
  p->window = 2 * ctx.config.parallelism;
  p->snapshot_file = staging.dir() + "/snapshot.tar.zst";
  p->lineage = m.lineage_id;
  sync::SnapshotReadOptions o;
  if (plan.snapshot) {
    o.max_archive_bytes = plan.snapshot->stored_bytes;
    o.expect_sha256 = plan.snapshot->sha256;
    o.expect_seq = plan.snapshot->seq;
    o.expect_lineage = m.lineage_id;
    o.max_file_bytes = ctx.config.wal.max_entry_bytes;
    o.reserve_free_bytes = ctx.config.wal.stop_free_bytes;
    o.fs = &ctx.fs;
    p->tasks.push_back({ctx.tiers.object_key_prefix + plan.snapshot->key, nullptr, plan.snapshot});
  }
  for (const LogObjectInfo* l : plan.logs)
    p->tasks.push_back({ctx.tiers.object_key_prefix + l->key, l, nullptr});
  p->slots.resize(p->tasks.size());
  p->last_progress_ns = steady_ns();
  Workers workers{ctx, p, {}};
  const size_t n = std::min<size_t>(ctx.config.parallelism, p->tasks.size());
  for (size_t i = 0; i < n; ++i) workers.threads.emplace_back(worker, p);

  // Waits for task i, watching for stalls and the deadline; rethrows its error.
  auto wait_for = [&](size_t i) {
    std::unique_lock lk(p->mu);
    while (!p->slots[i].done) {
      p->cv.wait_for(lk, std::chrono::milliseconds(100));
      lk.unlock();
      ctx.progress("r2", p->objects, p->tasks.size(), p->bytes, plan.bytes);
      const auto idle = std::chrono::nanoseconds(steady_ns() - p->last_progress_ns);
      if (idle > ctx.config.stall_timeout)
        throw Error(ErrorCode::kTimeout,
                    fmt::format("r2: no byte arrived for {} ms (RECOVERY_STALL_TIMEOUT_MS) while "
                                "downloading {}",
                                ctx.config.stall_timeout.count(), p->tasks[i].key));
      ctx.check_deadline("downloading " + p->tasks[i].key);
      lk.lock();
    }
    if (p->slots[i].error) std::rethrow_exception(p->slots[i].error);
  };
  auto consumed = [&](size_t i) {
    std::lock_guard lk(p->mu);
    p->consumed = i + 1;
    p->slots[i].raw.clear();
    p->slots[i].raw.shrink_to_fit();
    p->cv.notify_all();
  };

  size_t i = 0;
  if (plan.snapshot) {
    wait_for(0);  // downloaded and checked
    consumed(0);
    i = 1;
  }
  ReplacedPaths replaced;
  StagedBuild sb(ctx, staging);
  // The remote's history id only when the whole remote log is restored:
  // a log cut at a target is another history.
  const bool same_history = !ctx.target.any() || ctx.target.seq == m.head_seq;
  sb.set_base(plan.base_seq, same_history ? m.history_id : random_hex(8));
  // The remote holds this log up to its head: the next sync ships only what
  // follows (a cut log is another history, which the remote does not hold).
  if (same_history) sb.set_mark("object", m.head_seq);
  bool first = true;
  for (; i < p->tasks.size(); ++i) {
    wait_for(i);
    const std::string& raw = p->slots[i].raw;
    // The records to keep: after the base (an object may straddle the
    // snapshot's seq), up to the target.
    size_t from = 0, to = 0, off = 0;
    bool past = false;
    while (off < raw.size()) {
      wal::RecordView v;
      size_t size = 0;
      wal::decode_record(raw.data() + off, raw.size() - off, raw.size(), &v, &size);
      if (first && plan.base_seq == 0 && ctx.target.past(v.seq, v.timestamp_ms))
        throw Error(
            ErrorCode::kRecoveryOutOfRange,
            fmt::format("cannot restore {}: the first entry (seq {}) is later; restorable: {}",
                        ctx.target.describe(), v.seq, object_range(m)));
      first = false;
      if (ctx.target.past(v.seq, v.timestamp_ms)) {
        past = true;
        break;
      }
      if (v.seq <= plan.base_seq) {
        from = off + size;
      } else if (plan.snapshot) {
        replaced.add(v);
      }
      off += size;
      to = off;
    }
    if (to > from) sb.log().append(std::string_view(raw).substr(from, to - from), p->tasks[i].key);
    consumed(i);
    if (past) break;
  }
  if (plan.snapshot) {
    // Only the entries kept above (after the snapshot, up to the target)
    // say what the replay replaces.
    if (!replaced.empty())
      o.skip_file = [&replaced](std::string_view rel) { return replaced.replaced(rel); };
    const sync::SnapshotReadResult r =
        sync::read_snapshot_archive(p->snapshot_file, staging.dir() + "/state", o);
    ctx.fs.remove(p->snapshot_file);
    b.files_restored = r.files;
    if (r.files_skipped > 0)
      b.notes.push_back(fmt::format(
          "{} of the snapshot's {} files were checked but not extracted: the log replaces them",
          r.files_skipped, r.files));
  }
  b.objects = p->objects;
  b.bytes = p->bytes;
  if (use_local && !ctx.target.any()) {
    const uint64_t added = sb.extend_with_local(local, "the local WAL");
    if (added > 0)
      b.notes.push_back(fmt::format("local entries {}-{} replayed after the remote's head",
                                    m.head_seq + 1, m.head_seq + added));
  }
  sb.finish(b);
  return b;
}

}  // namespace strata::recovery
