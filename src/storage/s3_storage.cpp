// S3CheckpointStorage: the CheckpointStorage operations as S3 REST calls.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "storage/check_probe.h"
#include "storage/local_file.h"
#include "storage/s3_impl.h"
#include "storage/xml.h"
#include "strata/hash.h"

namespace strata {

namespace {

std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

std::chrono::system_clock::time_point parse_http_date(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) == nullptr) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string lower_hex(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

S3CheckpointStorage::S3CheckpointStorage(S3Config config, FileSystem& fs) {
  config.validate();
  impl_ = std::make_unique<Impl>(std::move(config), fs);
  if (impl_->ep.scheme == "http" && !storage::is_ip_literal(impl_->ep.host) &&
      impl_->ep.host != "localhost") {
    spdlog::warn(
        "storage: R2_ENDPOINT uses plain http; object data crosses the network "
        "unencrypted");
  }
}

S3CheckpointStorage::~S3CheckpointStorage() = default;

std::string S3CheckpointStorage::describe() const {
  return impl_->cfg.describe();
}
BreakerState S3CheckpointStorage::breaker_state() const {
  return impl_->breaker.state();
}
const S3Config& S3CheckpointStorage::config() const {
  return impl_->cfg;
}

S3Stats S3CheckpointStorage::stats() const {
  return S3Stats{impl_->requests.load(), impl_->retries.load(), impl_->http.connections_opened()};
}

bool S3CheckpointStorage::is_available() {
  try {
    impl_->list_one();
    return true;
  } catch (const std::exception& e) {
    spdlog::info("storage: {} unavailable: {}", describe(), e.what());
    return false;
  }
}

std::vector<std::pair<std::string, std::string>> S3CheckpointStorage::Impl::object_headers(
    const std::string& sha_hex, const WriteOptions& options) const {
  std::vector<std::pair<std::string, std::string>> h;
  h.emplace_back("content-type", "application/octet-stream");
  h.emplace_back("x-amz-meta-sha256", sha_hex);
  for (const auto& [name, value] : options.metadata) h.emplace_back("x-amz-meta-" + name, value);
  return h;
}

void S3CheckpointStorage::Impl::list_one() {
  S3Call call;
  call.op = "LIST";
  call.method = "GET";
  call.query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", cfg.prefix}};
  execute(call);
}

S3Call S3CheckpointStorage::Impl::object_call(const std::string& method, const std::string& full) {
  S3Call call;
  call.op = method;
  call.key = full;
  call.method = method;
  call.accept = {404};
  return call;
}

bool S3CheckpointStorage::Impl::found(const S3Call& call, const S3Answer& a) const {
  if (a.response.status != 404) return true;
  if (storage::xml_first(a.response.body, "Code") == "NoSuchBucket") {
    throw http_error(call, a.response, a.attempts);
  }
  return false;
}

void S3CheckpointStorage::Impl::check_stored_sha256(const std::string& full, const S3Answer& a,
                                                    const std::string& got,
                                                    std::string_view kept) const {
  auto want = a.response.header("x-amz-meta-sha256");
  if (!want || lower_hex(*want) == got) return;
  fail(ErrorCode::kStorageIntegrity,
       fmt::format("GET {}: content SHA-256 {} does not match the stored sha256 {}{}", where(full),
                   got, *want, kept.empty() ? "" : fmt::format("; {} left untouched", kept)));
}

bool S3CheckpointStorage::Impl::own_write_landed(const std::string& full,
                                                 const std::string& sha_hex) {
  auto a = execute(object_call("HEAD", full));
  return a.response.status == 200 && a.response.header("x-amz-meta-sha256") == sha_hex;
}

void S3CheckpointStorage::Impl::put_single(const std::string& full, std::string_view data,
                                           File* file, uint64_t size, const std::string& sha_hex,
                                           const WriteOptions& options) {
  S3Call call;
  call.op = "PUT";
  call.key = full;
  call.method = "PUT";
  call.headers = object_headers(sha_hex, options);
  if (options.if_absent) call.headers.emplace_back("if-none-match", "*");
  if (options.if_match) call.headers.emplace_back("if-match", "\"" + *options.if_match + "\"");
  call.body = data;
  call.body_file = file;
  call.body_size = file != nullptr ? size : data.size();
  call.payload_hash = sha_hex;
  call.accept = {412};
  auto a = execute(call);
  if (a.response.status == 412) {
    // A retry of a write whose first answer was lost fails its own condition.
    if (a.attempts > 1 && own_write_landed(full, sha_hex)) return;
    fail(ErrorCode::kStoragePreconditionFailed,
         fmt::format("PUT {}: HTTP 412: {}", where(full),
                     options.if_absent ? "an object already exists under this key"
                                       : "the object's etag no longer matches"));
  }
}

void S3CheckpointStorage::write_file(std::string_view key, std::string_view data,
                                     const WriteOptions& options) {
  validate_key(key);
  validate_metadata(options.metadata);
  std::string full = impl_->full_key(key);
  std::string sha = sha256_hex(data);
  if (data.size() > impl_->cfg.multipart_threshold) {
    impl_->multipart_put(full, data, nullptr, data.size(), sha, options);
  } else {
    impl_->put_single(full, data, nullptr, data.size(), sha, options);
  }
}

void S3CheckpointStorage::write_file_from(std::string_view key, const std::string& local_path,
                                          const WriteOptions& options) {
  validate_key(key);
  validate_metadata(options.metadata);
  storage::LocalFile file = storage::LocalFile::open_read(impl_->fs, local_path);
  uint64_t size = file.size();
  // The signature covers the body's hash, so the file is read twice: once to
  // hash, once to send. Either way it never sits in memory whole.
  std::string sha = file.sha256_hex(0, size);
  std::string full = impl_->full_key(key);
  if (size > impl_->cfg.multipart_threshold) {
    impl_->multipart_put(full, {}, &file, size, sha, options);
  } else {
    impl_->put_single(full, {}, &file.file(), size, sha, options);
  }
}

namespace {

// Accumulates a GET body and checks it against the sha256 the writer stored.
struct HashingSink {
  Sha256 hash;
  uint64_t bytes = 0;
  void reset() {
    hash = Sha256();
    bytes = 0;
  }
};

}  // namespace

std::optional<std::string> S3CheckpointStorage::read_file(std::string_view key) {
  auto v = read_versioned(key);
  if (!v) return std::nullopt;
  return std::move(v->data);
}

std::optional<VersionedObject> S3CheckpointStorage::read_versioned(std::string_view key) {
  validate_key(key);
  std::string full = impl_->full_key(key);
  std::string data;
  S3Call call = Impl::object_call("GET", full);
  call.before_attempt = [&] { data.clear(); };
  call.sink = [&](const char* p, size_t n) {
    data.append(p, n);
    return true;
  };
  auto a = impl_->execute(call);
  if (!impl_->found(call, a)) return std::nullopt;
  impl_->check_stored_sha256(full, a, sha256_hex(data), {});
  return VersionedObject{std::move(data), unquote(a.response.header("etag").value_or(""))};
}

bool S3CheckpointStorage::read_file_to(std::string_view key, const std::string& local_path) {
  validate_key(key);
  std::string full = impl_->full_key(key);
  AtomicFile out(impl_->fs, local_path);
  HashingSink hs;
  std::optional<Error> write_error;
  S3Call call = Impl::object_call("GET", full);
  call.before_attempt = [&] {
    out.reset();
    hs.reset();
  };
  call.sink = [&](const char* p, size_t n) {
    hs.hash.update(p, n);
    hs.bytes += n;
    try {  // no exception may cross libcurl's C frames
      out.append(std::string_view(p, n));
    } catch (const Error& e) {
      write_error = e;
      return false;
    }
    return true;
  };
  S3Answer a;
  try {
    a = impl_->execute(call);
  } catch (const Error&) {
    if (write_error) throw *write_error;  // the local file failed, not the store
    throw;
  }
  if (!impl_->found(call, a)) return false;
  impl_->check_stored_sha256(full, a, to_hex(hs.hash.finish()), local_path);
  out.commit();
  return true;
}

bool S3CheckpointStorage::stream_file(std::string_view key, const ByteSink& sink) {
  validate_key(key);
  std::string full = impl_->full_key(key);
  HashingSink hs;
  std::exception_ptr sink_error;
  S3Call call = Impl::object_call("GET", full);
  call.before_attempt = [&] {
    if (hs.bytes > 0) {
      // What the sink got cannot be taken back, so a retry would repeat it.
      impl_->fail(ErrorCode::kStorageNetwork,
                  fmt::format("GET {}: the transfer broke after {} bytes were passed on; not "
                              "retried",
                              impl_->where(full), hs.bytes));
    }
  };
  call.sink = [&](const char* p, size_t n) {
    try {  // no exception may cross libcurl's C frames
      sink(p, n);
    } catch (...) {
      sink_error = std::current_exception();
      return false;
    }
    hs.hash.update(p, n);
    hs.bytes += n;
    return true;
  };
  S3Answer a;
  try {
    a = impl_->execute(call);
  } catch (const Error&) {
    if (sink_error) std::rethrow_exception(sink_error);
    throw;
  }
  if (!impl_->found(call, a)) return false;
  impl_->check_stored_sha256(full, a, to_hex(hs.hash.finish()), {});
  return true;
}

void S3CheckpointStorage::delete_file(std::string_view key) {
  validate_key(key);
  S3Call call = Impl::object_call("DELETE", impl_->full_key(key));
  impl_->found(call, impl_->execute(call));  // deleting an absent object is no error
}

std::vector<std::string> S3CheckpointStorage::list_files(std::string_view prefix) {
  if (!prefix.empty()) {
    // A listing prefix may end in '/' ("wal/"); the rest follows the key rules.
    std::string_view body = prefix.back() == '/' ? prefix.substr(0, prefix.size() - 1) : prefix;
    validate_key(body);
  }
  const std::string& base = impl_->cfg.prefix;
  std::string full_prefix = base + std::string(prefix);
  std::vector<std::string> keys;
  std::string token;
  for (int page = 0;; ++page) {
    S3Call call;
    call.op = "LIST";
    call.method = "GET";
    call.query = {{"list-type", "2"}, {"prefix", full_prefix}};
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    auto a = impl_->execute(call);
    const std::string& xml = a.response.body;
    if (xml.find("<ListBucketResult") == std::string::npos) {
      impl_->fail(
          ErrorCode::kStorageRejected,
          fmt::format("LIST {}: the answer is not a ListBucketResult", impl_->where(full_prefix)));
    }
    for (std::string_view block : storage::xml_blocks(xml, "Contents")) {
      auto k = storage::xml_first(block, "Key");
      if (!k || !k->starts_with(base)) continue;
      keys.push_back(k->substr(base.size()));
    }
    bool truncated = storage::xml_first(xml, "IsTruncated") == "true";
    if (!truncated) break;
    std::string next = storage::xml_first(xml, "NextContinuationToken").value_or("");
    if (next.empty() || next == token) {
      impl_->fail(ErrorCode::kStorageRejected,
                  fmt::format("LIST {}: page {} is truncated but gives no new continuation token",
                              impl_->where(full_prefix), page + 1));
    }
    token = std::move(next);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

bool S3CheckpointStorage::verify_checksum(std::string_view key, std::string_view sha256_hex) {
  validate_key(key);
  HashingSink hs;
  S3Call call = Impl::object_call("GET", impl_->full_key(key));
  call.before_attempt = [&] { hs.reset(); };
  call.sink = [&](const char* p, size_t n) {
    hs.hash.update(p, n);
    return true;
  };
  if (!impl_->found(call, impl_->execute(call))) return false;
  return to_hex(hs.hash.finish()) == lower_hex(sha256_hex);
}

std::optional<ObjectStat> S3CheckpointStorage::stat(std::string_view key) {
  validate_key(key);
  auto a = impl_->execute(Impl::object_call("HEAD", impl_->full_key(key)));
  const auto& r = a.response;
  if (r.status == 404) return std::nullopt;
  ObjectStat st;
  st.size = std::stoull(r.header("content-length").value_or("0"));
  st.mtime = parse_http_date(r.header("last-modified").value_or(""));
  st.etag = unquote(r.header("etag").value_or(""));
  for (const auto& [name, value] : r.headers) {
    if (name.starts_with("x-amz-meta-")) st.metadata[name.substr(11)] = value;
  }
  return st;
}

std::vector<CheckResult> S3CheckpointStorage::check() {
  std::vector<CheckResult> out;
  auto failed = [&](std::string name, const std::exception& e) {
    out.push_back(storage::failed_check(std::move(name), e));
  };
  // One listing answers three questions: is the endpoint reachable, are the
  // credentials accepted, does the bucket exist.
  try {
    impl_->list_one();
    out.push_back({"reachable", true, impl_->cfg.endpoint});
    out.push_back({"credentials", true,
                   "accepted (key id " + impl_->cfg.access_key_id.substr(0, 4) + "...)"});
    out.push_back({"bucket", true, impl_->cfg.bucket + " can be listed"});
  } catch (const Error& e) {
    switch (e.code()) {
      case ErrorCode::kStorageNetwork:
      case ErrorCode::kTimeout:
      case ErrorCode::kStorageUnavailable:
        failed("reachable", e);
        return out;
      case ErrorCode::kStorageBadCredentials:
      case ErrorCode::kStorageAccessDenied:
        out.push_back({"reachable", true, impl_->cfg.endpoint});
        failed("credentials", e);
        return out;
      case ErrorCode::kStorageNotFound:
        out.push_back({"reachable", true, impl_->cfg.endpoint});
        out.push_back({"credentials", true, "accepted"});
        failed("bucket", e);
        return out;
      default:
        out.push_back({"reachable", true, impl_->cfg.endpoint});
        failed("list", e);
        return out;
    }
  }

  storage::check_probe_round_trip(*this, out);
  return out;
}

}  // namespace strata
