// Shipping: the backlog (after, up_to] is cut into objects of about
// object_bytes of records, read from the WAL in order, then compressed,
// hashed and uploaded by `parallelism` workers at once. Objects an
// interrupted sync already uploaded are reused after a HEAD proves them
// intact. Every uploaded object is verified before the manifest may list it.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <thread>

#include "strata/error.h"
#include "sync/failpoint.h"
#include "sync/remote_keys.h"
#include "sync/sync_impl.h"
#include "sync/wal_source.h"

namespace strata {

namespace {

WriteOptions object_metadata(const LogObjectInfo& o, const std::string& lineage) {
  WriteOptions w;
  w.metadata = {{"strata-format", std::to_string(kRemoteFormatVersion)},
                {"first-seq", std::to_string(o.first_seq)},
                {"last-seq", std::to_string(o.last_seq)},
                {"entries", std::to_string(o.entries)},
                {"raw-sha256", o.raw_sha256},
                {"compression", std::string(sync_compression_name(o.compression))},
                {"lineage", lineage}};
  return w;
}

// A HEAD's answer matches what was built: the object there is this one.
bool stat_matches(const std::optional<ObjectStat>& st, uint64_t size, const std::string& sha) {
  if (!st || st->size != size) return false;
  auto it = st->metadata.find("sha256");
  return it != st->metadata.end() && it->second == sha;
}

}  // namespace

std::vector<LogObjectInfo> ObjectStoreSync::Impl::ship(uint64_t after, uint64_t up_to,
                                                       const SweepResult& seen,
                                                       const SyncRequest& req, SyncResult* res) {
  if (up_to <= after) return {};

  struct Shared {
    std::mutex mu;
    uint64_t next_after;
    size_t next_index = 0;
    bool done = false;
    std::exception_ptr error;
    std::vector<LogObjectInfo> results;
    std::vector<bool> uploaded;
    SyncProgress progress;
  } sh;
  sh.next_after = after;
  const auto t0 = std::chrono::steady_clock::now();
  // An estimate for progress: the entries still to go at the average size of
  // the log so far.
  {
    WalStatus ws = wal.status();
    uint64_t entries = ws.head_seq > ws.first_seq ? ws.head_seq - ws.first_seq + 1 : 1;
    uint64_t per = ws.total_bytes / entries;
    sh.progress.bytes_total = per * (up_to - after);
    sh.progress.objects_total =
        std::max<uint64_t>(1, (sh.progress.bytes_total + opt.object_bytes - 1) / opt.object_bytes);
  }

  auto work = [&] {
    sync::Compressor compressor(opt.compression, opt.zstd_level);
    while (true) {
      sync::FramedBatch batch;
      size_t index = 0;
      uint64_t start = 0;
      {
        std::lock_guard lk(sh.mu);
        if (sh.done || sh.error) return;
        batch = sync::read_for_shipping(wal, sh.next_after, opt.object_bytes, up_to);
        if (batch.count == 0) {
          sh.done = true;
          return;
        }
        index = sh.next_index++;
        start = sh.next_after + 1;
        sh.next_after = batch.last_seq;
        if (sh.results.size() <= index) {
          sh.results.resize(index + 1);
          sh.uploaded.resize(index + 1);
        }
      }
      sync::BuiltObject built =
          compressor.build(std::move(batch), start, static_cast<uint64_t>(now_ms()));
      const LogObjectInfo& info = built.info;
      bool reused = false;
      if (seen.unlisted.count(info.key) != 0 &&
          stat_matches(store->stat(info.key), info.stored_bytes, info.sha256)) {
        reused = true;
      } else {
        store->write_file(info.key, built.stored, object_metadata(info, opt.lineage_id));
        sync::failpoint("after-upload-object");
      }
      std::lock_guard lk(sh.mu);
      sh.results[index] = info;
      sh.uploaded[index] = !reused;
      if (reused) {
        res->objects_reused++;
      } else {
        res->objects_uploaded++;
        res->stored_bytes += info.stored_bytes;
      }
      res->raw_bytes += info.raw_bytes;
      sh.progress.objects_done++;
      sh.progress.bytes_done += info.raw_bytes;
      sh.progress.objects_total = std::max(sh.progress.objects_total, sh.progress.objects_done);
      sh.progress.bytes_total = std::max(sh.progress.bytes_total, sh.progress.bytes_done);
      sh.progress.elapsed = std::chrono::steady_clock::now() - t0;
      if (req.progress) req.progress(sh.progress);
    }
  };
  auto guarded = [&] {
    try {
      work();
    } catch (...) {
      std::lock_guard lk(sh.mu);
      if (!sh.error) sh.error = std::current_exception();
    }
  };

  const uint32_t n = opt.parallelism;
  std::vector<std::thread> threads;
  for (uint32_t i = 1; i < n; ++i) threads.emplace_back(guarded);
  guarded();
  for (auto& t : threads) t.join();
  if (sh.error) std::rethrow_exception(sh.error);
  sync::failpoint("after-upload");

  std::vector<LogObjectInfo> to_verify;
  for (size_t i = 0; i < sh.results.size(); ++i) {
    if (sh.uploaded[i]) to_verify.push_back(sh.results[i]);
  }
  verify_uploaded(to_verify);
  sync::failpoint("after-verify");
  return std::move(sh.results);
}

void ObjectStoreSync::Impl::verify_uploaded(const std::vector<LogObjectInfo>& objects) {
  for (const auto& o : objects) {
    if (opt.verify_read_back) {
      if (!store->verify_checksum(o.key, o.sha256)) {
        throw Error(ErrorCode::kCheckpointVerifyFailed,
                    fmt::format("{} {}: read back, its bytes do not hash to {} (uploaded moments "
                                "ago); the manifest was not written",
                                store->describe(), o.key, o.sha256));
      }
      continue;
    }
    auto st = store->stat(o.key);
    if (!stat_matches(st, o.stored_bytes, o.sha256)) {
      throw Error(
          ErrorCode::kCheckpointVerifyFailed,
          fmt::format("{} {}: after upload the store reports {} where {} bytes with "
                      "sha256 {} were sent; the manifest was not written",
                      store->describe(), o.key,
                      st ? fmt::format("{} bytes, sha256 {}", st->size,
                                       st->metadata.count("sha256") ? st->metadata.at("sha256")
                                                                    : std::string("(none)"))
                         : std::string("no object"),
                      o.stored_bytes, o.sha256));
    }
  }
}

}  // namespace strata
