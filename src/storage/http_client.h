// HTTP over libcurl with a shared pool of easy handles and one shared
// connection cache, so consecutive requests to a store reuse TCP (and TLS)
// connections instead of opening one per request.
//
// One perform() is one attempt: no retries here (the S3 layer decides), but
// every attempt is bounded by a connect timeout, a stall timeout (no byte
// moved either way) and the caller's deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/fs.h"

namespace strata::storage {

struct HttpRequest {
  std::string method;                                        // GET, HEAD, PUT, POST, DELETE
  std::string url;                                           // already canonical (see sigv4.h)
  std::vector<std::pair<std::string, std::string>> headers;  // sent verbatim
  // Body: body_file != nullptr sends body_size bytes of that file from
  // body_offset, otherwise `body` is sent (empty: no body).
  std::string_view body;
  File* body_file = nullptr;
  uint64_t body_offset = 0;
  uint64_t body_size = 0;
  // Receives a 2xx response body as it arrives (error bodies always go to
  // HttpResponse::body). Returns false to abort the transfer.
  std::function<bool(const char* data, size_t len)> sink;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::optional<std::string> header(std::string_view lower_name) const;
};

enum class Transport {
  kOk,        // an HTTP response arrived (any status)
  kNetwork,   // refused, reset, DNS, truncated body: retryable
  kTimeout,   // connect timeout or stall: retryable
  kDeadline,  // the caller's deadline passed: not retried
  kTls,       // certificate verification failed: not retried
  kLocal,     // reading the body or the sink failed: not retried
  kOther,     // anything else libcurl reports: not retried
};

struct HttpResult {
  Transport transport = Transport::kOk;
  std::string error;  // libcurl's description; never contains headers
  HttpResponse response;
};

struct HttpOptions {
  std::string ca_bundle;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds stall_timeout{20000};
};

class HttpClient {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Runs one attempt. The deadline moves out by (download size / min_rate)
  // once the response announces its size, so large downloads that keep
  // moving are not cut off by a budget sized for small requests.
  HttpResult perform(const HttpRequest& request, Clock::time_point deadline,
                     uint64_t min_rate_bytes_per_s);

  uint64_t connections_opened() const { return connections_.load(); }

 private:
  struct Share;
  void* acquire_handle();
  void release_handle(void* handle);

  HttpOptions options_;
  std::unique_ptr<Share> share_;
  std::mutex pool_mu_;
  std::vector<void*> idle_;
  std::atomic<uint64_t> connections_{0};
};

}  // namespace strata::storage
