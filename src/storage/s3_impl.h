// Internals of S3CheckpointStorage shared by its source files: one logical
// call (sign, send, retry, breaker) in s3_request.cpp; the operations in
// s3_storage.cpp; multipart upload in s3_multipart.cpp.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/circuit_breaker.h"
#include "storage/endpoint.h"
#include "storage/http_client.h"
#include "storage/local_file.h"
#include "storage/retry.h"
#include "storage/sigv4.h"
#include "storage/validation.h"
#include "strata/error.h"
#include "strata/storage.h"

namespace strata {

struct S3Call {
  std::string op;   // "PUT", "GET", "LIST", ... for messages and logs
  std::string key;  // full object key (prefix included); "" for the bucket
  std::string method;
  storage::Params query;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, all signed
  std::string_view body;
  File* body_file = nullptr;
  uint64_t body_offset = 0;
  uint64_t body_size = 0;
  std::string payload_hash;  // hex SHA-256 of the body; "" means empty body
  std::function<bool(const char*, size_t)> sink;
  std::function<void()> before_attempt;  // resets a sink before each attempt
  // Statuses the caller handles itself (returned, not thrown), e.g. 404, 412.
  std::vector<long> accept;
  // S3 may answer CompleteMultipartUpload with 200 and an <Error> body.
  bool error_in_ok_body = false;
};

struct S3Answer {
  storage::HttpResponse response;
  int attempts = 0;
};

struct S3CheckpointStorage::Impl {
  Impl(S3Config c, FileSystem& f);

  S3Config cfg;
  FileSystem& fs;  // local files: uploads' sources, downloads' targets
  storage::Endpoint ep;
  bool path_style;
  storage::Credentials creds;
  storage::HttpClient http;
  storage::CircuitBreaker breaker;
  std::mutex rng_mu;
  std::mt19937_64 rng;
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> retries{0};

  std::string full_key(std::string_view key) const { return cfg.prefix + std::string(key); }
  // "s3://bucket/key" for messages.
  std::string where(std::string_view full) const;
  // Replaces any occurrence of a secret in text (defence in depth: nothing
  // should put one there, but an error message is the last place to find out).
  std::string redact(std::string text) const;
  [[noreturn]] void fail(ErrorCode code, std::string message) const;

  // Runs one logical call with retries under the breaker. Returns 2xx answers
  // and statuses in call.accept; throws a typed Error for everything else.
  S3Answer execute(const S3Call& call);

  // Maps a non-success HTTP answer to an Error.
  Error http_error(const S3Call& call, const storage::HttpResponse& r, int attempts) const;

  // Lists at most one key under the prefix: reachable, credentials accepted,
  // bucket present, or a typed Error saying which is not.
  void list_one();
  // One object's call (GET, HEAD, DELETE) that handles 404 itself.
  static S3Call object_call(const std::string& method, const std::string& full);
  // Whether an answer to an object_call names an object: false for 404. A 404
  // whose code is NoSuchBucket throws instead, as a missing bucket is a broken
  // configuration, not an absent object.
  bool found(const S3Call& call, const S3Answer& a) const;
  // Throws kStorageIntegrity when the hex SHA-256 `got` of a GET's body does
  // not match the x-amz-meta-sha256 the writer stored; an object without one
  // (written by another tool) is not checked. `kept` (may be empty) names what
  // was left untouched, for the message.
  void check_stored_sha256(const std::string& full, const S3Answer& a, const std::string& got,
                           std::string_view kept) const;

  // Multipart upload of either a memory buffer or a file (file != nullptr).
  void multipart_put(const std::string& full, std::string_view data, const storage::LocalFile* file,
                     uint64_t size, const std::string& sha_hex, const WriteOptions& options);
  std::vector<std::pair<std::string, std::string>> object_headers(
      const std::string& sha_hex, const WriteOptions& options) const;
  void put_single(const std::string& full, std::string_view data, File* file, uint64_t size,
                  const std::string& sha_hex, const WriteOptions& options);
  // After a retried conditional write answered 412, decides whether the
  // earlier attempt (whose answer was lost) is what made it fail.
  bool own_write_landed(const std::string& full, const std::string& sha_hex);
};

}  // namespace strata
