// One logical S3 call: address, sign, send, classify, retry, and report to
// the circuit breaker.
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "storage/s3_impl.h"
#include "storage/xml.h"
#include "strata/hash.h"

namespace strata {

namespace {

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool contains(const std::vector<long>& v, long x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string clip(std::string s, size_t n) {
  if (s.size() > n) {
    s.resize(n);
    s += "...";
  }
  return s;
}

// Why an attempt failed, and whether another attempt may help.
struct AttemptFailure {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  bool retryable = false;
  bool outage = false;  // counts against the breaker
};

}  // namespace

S3CheckpointStorage::Impl::Impl(S3Config c, FileSystem& f)
    : cfg(std::move(c)),
      fs(f),
      ep(storage::parse_endpoint(cfg.endpoint, "R2_ENDPOINT")),
      path_style(cfg.use_path_style()),
      creds{cfg.access_key_id, cfg.secret_access_key, cfg.session_token},
      http(storage::HttpOptions{cfg.ca_bundle, cfg.connect_timeout, cfg.stall_timeout}),
      breaker(cfg.breaker_threshold, cfg.breaker_reset),
      rng(std::random_device{}()) {}

std::string S3CheckpointStorage::Impl::where(std::string_view full) const {
  return fmt::format("s3://{}/{}", cfg.bucket, full);
}

std::string S3CheckpointStorage::Impl::redact(std::string text) const {
  for (const std::string* secret : {&cfg.secret_access_key, &cfg.session_token}) {
    if (secret->size() < 4) continue;
    size_t pos;
    while ((pos = text.find(*secret)) != std::string::npos) {
      text.replace(pos, secret->size(), "[redacted]");
    }
  }
  return text;
}

void S3CheckpointStorage::Impl::fail(ErrorCode code, std::string message) const {
  throw Error(code, redact(std::move(message)));
}

Error S3CheckpointStorage::Impl::http_error(const S3Call& call, const storage::HttpResponse& r,
                                            int attempts) const {
  std::string s3code = storage::xml_first(r.body, "Code").value_or("");
  std::string s3msg = clip(storage::xml_first(r.body, "Message").value_or(""), 300);
  std::string what =
      fmt::format("{} {}: HTTP {}{}{}{}", call.op, where(call.key), r.status,
                  s3code.empty() ? "" : " ", s3code, s3msg.empty() ? "" : ": " + s3msg);
  if (attempts > 1) what += fmt::format(" (after {} attempts)", attempts);
  ErrorCode code = ErrorCode::kStorageRejected;
  long st = r.status;
  if (st == 401 || s3code == "InvalidAccessKeyId" || s3code == "SignatureDoesNotMatch" ||
      s3code == "ExpiredToken" || s3code == "InvalidToken" || s3code == "TokenRefreshRequired") {
    code = ErrorCode::kStorageBadCredentials;
    if (s3code == "SignatureDoesNotMatch") what += " (check R2_SECRET_ACCESS_KEY)";
    if (s3code == "InvalidAccessKeyId") what += " (check R2_ACCESS_KEY_ID)";
  } else if (st == 403) {
    code = ErrorCode::kStorageAccessDenied;
    if (s3code.empty()) {
      what += " (a HEAD answer carries no error code: wrong credentials look the same)";
    }
  } else if (st == 404) {
    code = ErrorCode::kStorageNotFound;
    if (s3code == "NoSuchBucket") what += fmt::format(" (bucket {} does not exist)", cfg.bucket);
  } else if (st == 412 || s3code == "ConditionalRequestConflict") {
    code = ErrorCode::kStoragePreconditionFailed;
  } else if (st == 429 || s3code == "SlowDown") {
    code = ErrorCode::kStorageThrottled;
  } else if (st >= 500) {
    code = ErrorCode::kStorageServerError;
  } else if (st >= 300 && st < 400) {
    auto region = r.header("x-amz-bucket-region");
    what += region ? fmt::format(" (the bucket lives in region {}; set R2_REGION)", *region)
                   : " (redirected: check R2_ENDPOINT, R2_REGION and R2_FORCE_PATH_STYLE)";
  }
  return Error(code, redact(what));
}

S3Answer S3CheckpointStorage::Impl::execute(const S3Call& call) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  uint64_t body_size = call.body_file != nullptr ? call.body_size : call.body.size();
  auto deadline = start + cfg.call_timeout +
                  std::chrono::milliseconds(body_size * 1000 / cfg.min_rate_bytes_per_s);
  std::string what = fmt::format("{} {}", call.op, where(call.key));
  breaker.acquire(what);

  // Whatever happens below, the breaker hears exactly one outcome.
  enum class Outcome { kNone, kSuccess, kFailure } outcome = Outcome::kNone;
  struct Report {
    storage::CircuitBreaker& b;
    Outcome& o;
    ~Report() {
      if (o == Outcome::kSuccess)
        b.on_success();
      else if (o == Outcome::kFailure)
        b.on_failure();
      else
        b.on_neutral();
    }
  } report{breaker, outcome};

  // Addressing: the bucket goes in the path or in the host name.
  std::string host = path_style ? ep.authority() : cfg.bucket + "." + ep.authority();
  std::string path;
  if (path_style) {
    path = call.key.empty() ? "/" + cfg.bucket : storage::encode_path("/" + cfg.bucket, call.key);
  } else {
    path = storage::encode_path("", call.key);
  }
  std::string query = storage::canonical_query(call.query);
  std::string url =
      fmt::format("{}://{}{}{}{}", ep.scheme, host, path, query.empty() ? "" : "?", query);
  std::string payload_hash =
      call.payload_hash.empty() ? std::string(kEmptySha256) : call.payload_hash;

  AttemptFailure last;
  int attempt = 0;
  for (; attempt < cfg.max_attempts; ++attempt) {
    if (attempt > 0) {
      std::chrono::milliseconds delay;
      {
        std::lock_guard lock(rng_mu);
        delay = storage::backoff_delay({cfg.backoff_base, cfg.backoff_cap}, attempt - 1, rng);
      }
      if (Clock::now() + delay >= deadline) break;
      spdlog::info("storage: retrying {} in {} ms after: {}", what, delay.count(),
                   redact(last.message));
      std::this_thread::sleep_for(delay);
      ++retries;
    }
    if (call.before_attempt) call.before_attempt();

    auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    std::string date = storage::amz_date(now_s);
    storage::SignableRequest sr;
    sr.method = call.method;
    sr.encoded_path = path;
    sr.query = call.query;
    sr.payload_hash = payload_hash;
    sr.headers = {{"host", host}, {"x-amz-date", date}, {"x-amz-content-sha256", payload_hash}};
    if (!creds.session_token.empty()) {
      sr.headers.emplace_back("x-amz-security-token", creds.session_token);
    }
    for (const auto& h : call.headers) sr.headers.push_back(h);
    storage::Signature sig = storage::sign(sr, creds, cfg.region, "s3", date);

    storage::HttpRequest req;
    req.method = call.method;
    req.url = url;
    req.headers = sr.headers;
    req.headers.emplace_back("Authorization", sig.authorization);
    req.body = call.body;
    req.body_file = call.body_file;
    req.body_offset = call.body_offset;
    req.body_size = call.body_size;
    req.sink = call.sink;

    ++requests;
    storage::HttpResult res = http.perform(req, deadline, cfg.min_rate_bytes_per_s);
    const auto& r = res.response;

    switch (res.transport) {
      case storage::Transport::kOk: {
        bool ok_status = r.status >= 200 && r.status < 300;
        if (ok_status && call.error_in_ok_body && r.body.find("<Error>") != std::string::npos) {
          std::string code = storage::xml_first(r.body, "Code").value_or("InternalError");
          last = {ErrorCode::kStorageServerError,
                  fmt::format("{}: HTTP 200 with error {} in the body", what, code), true, true};
          continue;
        }
        if (ok_status || contains(call.accept, r.status)) {
          outcome = Outcome::kSuccess;
          return S3Answer{r, attempt + 1};
        }
        std::string s3code = storage::xml_first(r.body, "Code").value_or("");
        if (storage::retryable_status(r.status) || s3code == "RequestTimeout" ||
            s3code == "SlowDown" || s3code == "InternalError") {
          Error e = http_error(call, r, 1);
          last = {e.code(), e.what(), true, true};
          continue;
        }
        // The store answered and refused: it is up, and asking again with the
        // same request gets the same answer.
        outcome = Outcome::kSuccess;
        throw http_error(call, r, attempt + 1);
      }
      case storage::Transport::kNetwork:
        last = {ErrorCode::kStorageNetwork,
                fmt::format("{}: cannot reach {}: {}", what, ep.authority(), res.error), true,
                true};
        continue;
      case storage::Transport::kTimeout:
        last = {ErrorCode::kTimeout, fmt::format("{}: {} ({})", what, res.error, ep.authority()),
                true, true};
        continue;
      case storage::Transport::kDeadline:
        last = {
            ErrorCode::kTimeout,
            fmt::format(
                "{}: no complete answer within the call budget of {} ms", what,
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - start).count()),
            false, true};
        break;
      case storage::Transport::kTls:
        last = {ErrorCode::kStorageNetwork,
                fmt::format("{}: TLS verification of {} failed: {} (certificate verification "
                            "cannot be disabled; point R2_CA_BUNDLE at the CA that signed it)",
                            what, ep.host, res.error),
                false, true};
        break;
      case storage::Transport::kLocal:
        fail(ErrorCode::kIoError, fmt::format("{}: {}", what, res.error));
      case storage::Transport::kOther:
        last = {ErrorCode::kStorageNetwork, fmt::format("{}: {}", what, res.error), false, true};
        break;
    }
    ++attempt;
    break;
  }
  if (last.outage) outcome = Outcome::kFailure;
  std::string msg = last.message;
  if (attempt > 1 && msg.find("attempts)") == std::string::npos) {
    msg += fmt::format(" (after {} attempts)", attempt);
  }
  fail(last.code, std::move(msg));
}

}  // namespace strata
