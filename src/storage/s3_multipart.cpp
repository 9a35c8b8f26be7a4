// Multipart upload for objects above R2_MULTIPART_THRESHOLD: equal-sized
// parts (the last may be shorter, as R2 requires), R2_PART_CONCURRENCY of
// them in flight (each part is its own retried call), then completed; on
// failure the upload is aborted so the store does not keep orphaned parts.
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "storage/local_file.h"
#include "storage/s3_impl.h"
#include "storage/xml.h"
#include "strata/hash.h"

namespace strata {

void S3CheckpointStorage::Impl::multipart_put(const std::string& full, std::string_view data,
                                              const storage::LocalFile* file, uint64_t size,
                                              const std::string& sha_hex,
                                              const WriteOptions& options) {
  S3Call create;
  create.op = "CREATE-MULTIPART";
  create.key = full;
  create.method = "POST";
  create.query = {{"uploads", ""}};
  create.headers = object_headers(sha_hex, options);
  auto created = execute(create);
  std::string upload_id = storage::xml_first(created.response.body, "UploadId").value_or("");
  if (upload_id.empty()) {
    fail(ErrorCode::kStorageRejected,
         fmt::format("CREATE-MULTIPART {}: the answer has no UploadId", where(full)));
  }

  auto abort = [&] {
    try {
      S3Call del;
      del.op = "ABORT-MULTIPART";
      del.key = full;
      del.method = "DELETE";
      del.query = {{"uploadId", upload_id}};
      del.accept = {404};
      execute(del);
    } catch (const std::exception& e) {
      spdlog::warn(
          "storage: could not abort multipart upload of {} ({}); the store may keep "
          "its parts until a lifecycle rule removes them",
          where(full), e.what());
    }
  };

  try {
    const uint64_t part_size = cfg.part_size;
    const int parts = static_cast<int>((size + part_size - 1) / part_size);
    std::vector<std::string> etags(static_cast<size_t>(parts));
    std::atomic<int> next{1};
    std::atomic<bool> failed{false};
    std::mutex error_mu;
    std::exception_ptr error;
    auto upload = [&] {
      try {
        for (int n = next++; n <= parts && !failed; n = next++) {
          uint64_t off = static_cast<uint64_t>(n - 1) * part_size;
          uint64_t len = std::min(part_size, size - off);
          S3Call part;
          part.op = fmt::format("UPLOAD-PART {}/{}", n, parts);
          part.key = full;
          part.method = "PUT";
          part.query = {{"partNumber", std::to_string(n)}, {"uploadId", upload_id}};
          if (file != nullptr) {
            part.body_file = &file->file();
            part.body_offset = off;
            part.body_size = len;
            part.payload_hash = file->sha256_hex(off, len);
          } else {
            part.body = data.substr(off, len);
            part.payload_hash = sha256_hex(part.body);
          }
          auto a = execute(part);
          auto etag = a.response.header("etag");
          if (!etag || etag->empty()) {
            fail(ErrorCode::kStorageRejected,
                 fmt::format("UPLOAD-PART {} of {}: the answer has no ETag", n, where(full)));
          }
          etags[static_cast<size_t>(n - 1)] = *etag;
        }
      } catch (...) {
        failed = true;
        std::lock_guard lk(error_mu);
        if (!error) error = std::current_exception();
      }
    };
    // Parts of one upload go out cfg.part_concurrency at a time; each is
    // its own retried call. The first failure stops the others from
    // starting new parts and aborts the upload.
    const int workers = std::max(1, std::min<int>(static_cast<int>(cfg.part_concurrency), parts));
    std::vector<std::thread> threads;
    for (int i = 1; i < workers; ++i) threads.emplace_back(upload);
    upload();
    for (auto& t : threads) t.join();
    if (error) std::rethrow_exception(error);

    std::string complete = "<CompleteMultipartUpload>";
    for (int n = 1; n <= parts; ++n) {
      complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", n,
                              storage::xml_escape(etags[static_cast<size_t>(n - 1)]));
    }
    complete += "</CompleteMultipartUpload>";

    S3Call done;
    done.op = "COMPLETE-MULTIPART";
    done.key = full;
    done.method = "POST";
    done.query = {{"uploadId", upload_id}};
    done.headers = {{"content-type", "application/xml"}};
    // Conditional writes of multipart objects are decided at completion.
    if (options.if_absent) done.headers.emplace_back("if-none-match", "*");
    if (options.if_match) done.headers.emplace_back("if-match", "\"" + *options.if_match + "\"");
    done.body = complete;
    done.payload_hash = sha256_hex(complete);
    done.error_in_ok_body = true;
    done.accept = {412};
    auto a = execute(done);
    if (a.response.status == 412) {
      if (a.attempts > 1 && own_write_landed(full, sha_hex)) return;
      fail(ErrorCode::kStoragePreconditionFailed,
           fmt::format("COMPLETE-MULTIPART {}: HTTP 412: {}", where(full),
                       options.if_absent ? "an object already exists under this key"
                                         : "the object's etag no longer matches"));
    }
  } catch (...) {
    abort();
    throw;
  }
}

}  // namespace strata
