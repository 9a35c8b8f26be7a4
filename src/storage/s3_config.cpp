#include <arpa/inet.h>
#include <unistd.h>

#include <fmt/format.h>

#include "storage/endpoint.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/storage.h"

namespace strata {

namespace storage {

Endpoint parse_endpoint(std::string_view url, std::string_view what) {
  auto fail = [&](std::string_view why) -> Error {
    return Error(ErrorCode::kConfigInvalid,
                 fmt::format("{}: {} (expected https://host[:port])", what, why));
  };
  Endpoint ep;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) throw fail("no scheme");
  for (char c : url.substr(0, sep)) {
    ep.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (ep.scheme != "http" && ep.scheme != "https") throw fail("scheme must be http or https");
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    throw fail("a path, query or fragment is not supported; give the bucket in R2_BUCKET");
  }
  // Credentials in the URL would end up in messages and status output.
  if (rest.find('@') != std::string_view::npos) throw fail("user info in the URL is not allowed");
  if (rest.empty()) throw fail("no host");
  std::string_view host = rest;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) throw fail("unterminated IPv6 literal");
    host = rest.substr(0, close + 1);
    std::string_view tail = rest.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':') throw fail("junk after IPv6 literal");
      ep.port = std::string(tail.substr(1));
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      ep.port = std::string(rest.substr(colon + 1));
    }
  }
  if (host.empty()) throw fail("no host");
  for (char c : host) {
    ep.host.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (!ep.host.empty() && ep.host.front() != '[') {
    for (char c : ep.host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
        throw fail("host has characters a host name cannot have");
      }
    }
  }
  if (!ep.port.empty()) {
    if (ep.port.size() > 5 || ep.port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(ep.port) == 0 || std::stoi(ep.port) > 65535) {
      throw fail("bad port");
    }
  }
  return ep;
}

bool is_ip_literal(std::string_view host) {
  if (!host.empty() && host.front() == '[') return true;
  std::string h(host);
  in_addr v4{};
  return inet_pton(AF_INET, h.c_str(), &v4) == 1;
}

bool dns_compatible_bucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return b.front() != '-' && b.back() != '-';
}

bool is_r2_endpoint(std::string_view url) {
  try {
    std::string host = parse_endpoint(url, "R2_ENDPOINT").host;
    return host == "r2.cloudflarestorage.com" || host.ends_with(".r2.cloudflarestorage.com");
  } catch (const Error&) {
    return false;
  }
}

}  // namespace storage

namespace {

std::chrono::milliseconds env_ms(const char* name, std::chrono::milliseconds fallback,
                                 int64_t min_ms) {
  uint64_t v = config::env_u64(name, static_cast<uint64_t>(fallback.count()));
  if (static_cast<int64_t>(v) < min_ms) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("{}={}: must be at least {} ms", name, v, min_ms));
  }
  return std::chrono::milliseconds(v);
}

}  // namespace

S3Config S3Config::from_env() {
  S3Config c;
  auto endpoint = config::env("R2_ENDPOINT");
  if (!endpoint) {
    throw Error(ErrorCode::kConfigInvalid,
                "R2_ENDPOINT is not set (e.g. https://<account>.r2.cloudflarestorage.com)");
  }
  c.endpoint = *endpoint;
  c.bucket = config::env_or("R2_BUCKET", c.bucket);
  c.region = config::env_or("R2_REGION", c.region);
  c.prefix = config::env_or("R2_PREFIX", "");
  if (!c.prefix.empty() && c.prefix.back() != '/') c.prefix.push_back('/');
  c.access_key_id = config::env_or("R2_ACCESS_KEY_ID", "");
  c.secret_access_key = config::env_or("R2_SECRET_ACCESS_KEY", "");
  c.session_token = config::env_or("AWS_SESSION_TOKEN", "");
  c.force_path_style = config::env_bool("R2_FORCE_PATH_STYLE");
  c.ca_bundle = config::env_or("R2_CA_BUNDLE", "");
  c.multipart_threshold = config::env_bytes("R2_MULTIPART_THRESHOLD", c.multipart_threshold);
  c.part_size = config::env_bytes("R2_PART_SIZE", c.part_size);
  c.part_concurrency = static_cast<uint32_t>(std::min<uint64_t>(
      config::env_u64("R2_PART_CONCURRENCY", storage::is_r2_endpoint(c.endpoint) ? 2 : 4), 1000));
  c.connect_timeout = env_ms("R2_CONNECT_TIMEOUT_MS", c.connect_timeout, 1);
  c.stall_timeout = env_ms("R2_STALL_TIMEOUT_MS", c.stall_timeout, 1);
  c.call_timeout = env_ms("R2_TIMEOUT_MS", c.call_timeout, 1);
  c.min_rate_bytes_per_s = config::env_bytes("R2_MIN_RATE", c.min_rate_bytes_per_s);
  c.max_attempts = static_cast<int>(config::env_u64("R2_MAX_ATTEMPTS", c.max_attempts));
  c.backoff_base = env_ms("R2_BACKOFF_BASE_MS", c.backoff_base, 1);
  c.backoff_cap = env_ms("R2_BACKOFF_CAP_MS", c.backoff_cap, 1);
  c.breaker_threshold =
      static_cast<int>(config::env_u64("R2_BREAKER_THRESHOLD", c.breaker_threshold));
  c.breaker_reset = env_ms("R2_BREAKER_RESET_MS", c.breaker_reset, 0);
  c.validate();
  return c;
}

void S3Config::validate() const {
  auto invalid = [](std::string msg) { return Error(ErrorCode::kConfigInvalid, std::move(msg)); };
  storage::parse_endpoint(endpoint, "R2_ENDPOINT");
  if (bucket.size() < 3 || bucket.size() > 63 ||
      bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos ||
      bucket.front() == '.' || bucket.front() == '-' || bucket.back() == '.' ||
      bucket.back() == '-') {
    throw invalid(fmt::format(
        "R2_BUCKET=\"{}\": a bucket name is 3-63 characters of a-z, 0-9, '.' and '-'", bucket));
  }
  if (region.empty() ||
      region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    throw invalid(fmt::format("R2_REGION=\"{}\": expected e.g. auto or us-east-1", region));
  }
  if (!prefix.empty()) {
    try {
      validate_key(std::string_view(prefix).substr(0, prefix.size() - 1));
    } catch (const Error& e) {
      throw invalid(fmt::format("R2_PREFIX: {}", e.what()));
    }
    if (prefix.back() != '/') throw invalid("R2_PREFIX must end with '/'");
  }
  if (access_key_id.empty()) throw invalid("R2_ACCESS_KEY_ID is not set");
  if (secret_access_key.empty()) throw invalid("R2_SECRET_ACCESS_KEY is not set");
  for (const std::string* s : {&access_key_id, &secret_access_key, &session_token}) {
    for (unsigned char ch : *s) {
      if (ch < 0x20 || ch == 0x7F) {
        // Never echo the value: it may be a secret.
        throw invalid(
            "a credential (R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY or "
            "AWS_SESSION_TOKEN) contains a control character");
      }
    }
  }
  if (!ca_bundle.empty() && ::access(ca_bundle.c_str(), R_OK) != 0) {
    throw invalid(fmt::format("R2_CA_BUNDLE={}: not a readable file", ca_bundle));
  }
  if (part_size < (5ull << 20) || part_size > (5ull << 30)) {
    throw invalid("R2_PART_SIZE must be between 5 MiB and 5 GiB (S3's part size limits)");
  }
  if (multipart_threshold < part_size) {
    throw invalid("R2_MULTIPART_THRESHOLD must be at least R2_PART_SIZE");
  }
  if (part_concurrency < 1 || part_concurrency > 16) {
    throw invalid("R2_PART_CONCURRENCY must be 1..16");
  }
  if (max_attempts < 1 || max_attempts > 20) throw invalid("R2_MAX_ATTEMPTS must be 1..20");
  if (breaker_threshold < 1) throw invalid("R2_BREAKER_THRESHOLD must be at least 1");
  if (min_rate_bytes_per_s == 0) throw invalid("R2_MIN_RATE must be above 0");
}

bool S3Config::use_path_style() const {
  if (force_path_style) return *force_path_style;
  auto ep = storage::parse_endpoint(endpoint, "R2_ENDPOINT");
  if (storage::is_ip_literal(ep.host) || ep.host == "localhost" ||
      ep.host.ends_with(".localhost")) {
    return true;
  }
  // A bucket with dots breaks the TLS wildcard certificate of virtual hosts.
  return !storage::dns_compatible_bucket(bucket);
}

std::string S3Config::describe() const {
  return fmt::format("s3://{}/{} at {} (region {}, {} addressing, key id {}...)", bucket, prefix,
                     endpoint, region, use_path_style() ? "path-style" : "virtual-host",
                     access_key_id.substr(0, 4));
}

}  // namespace strata
