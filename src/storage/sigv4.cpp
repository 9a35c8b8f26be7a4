#include "storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/hash.h"

namespace strata::storage {

namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// SigV4 "trimall": leading and trailing blanks dropped, inner runs of blanks
// (space or tab, as the AWS SDKs treat them) collapsed to one space.
std::string trim_all(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string encode_path(std::string_view base, std::string_view key) {
  std::string out(base);
  out.push_back('/');
  // Encoding with keep_slash keeps the separators and encodes each segment.
  out += uri_encode(key, /*keep_slash=*/true);
  return out;
}

std::string canonical_query(const Params& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string amz_date(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::array<uint8_t, 32> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    throw Error(ErrorCode::kInternal, "HMAC-SHA256 failed in OpenSSL");
  }
  return out;
}

std::array<uint8_t, 32> signing_key(std::string_view secret, std::string_view date8,
                                    std::string_view region, std::string_view service) {
  auto as_view = [](const std::array<uint8_t, 32>& a) {
    return std::string_view(reinterpret_cast<const char*>(a.data()), a.size());
  };
  std::string k0 = "AWS4";
  k0 += secret;
  auto k_date = hmac_sha256(k0, date8);
  auto k_region = hmac_sha256(as_view(k_date), region);
  auto k_service = hmac_sha256(as_view(k_region), service);
  return hmac_sha256(as_view(k_service), "aws4_request");
}

Signature sign(const SignableRequest& request, const Credentials& credentials,
               std::string_view region, std::string_view service, std::string_view amz_date_value) {
  if (amz_date_value.size() != 16) {
    throw Error(ErrorCode::kInvalidArgument, "x-amz-date must look like 20130524T000000Z");
  }
  // Lower-cased names, values trimmed; repeated names joined with ',' in the
  // order given, as the SigV4 specification says.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    if (value.find_first_of("\r\n") != std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("header {} contains a line break", name));
    }
    std::string lname = lower(name);
    std::string v = trim_all(value);
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](const auto& h) { return h.first == lname; });
    if (it == headers.end()) {
      headers.emplace_back(std::move(lname), std::move(v));
    } else {
      it->second += ',';
      it->second += v;
    }
  }
  std::sort(headers.begin(), headers.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  Signature sig;
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name;
    canonical_headers.push_back(':');
    canonical_headers += value;
    canonical_headers.push_back('\n');
    if (!sig.signed_headers.empty()) sig.signed_headers.push_back(';');
    sig.signed_headers += name;
  }

  sig.canonical_request = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method,
                                      request.encoded_path, canonical_query(request.query),
                                      canonical_headers, sig.signed_headers, request.payload_hash);
  std::string_view date8 = amz_date_value.substr(0, 8);
  std::string scope = fmt::format("{}/{}/{}/aws4_request", date8, region, service);
  sig.string_to_sign = fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date_value, scope,
                                   sha256_hex(sig.canonical_request));
  auto key = signing_key(credentials.secret_access_key, date8, region, service);
  auto mac = hmac_sha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
                         sig.string_to_sign);
  sig.signature = to_hex(std::span<const uint8_t>(mac));
  sig.authorization =
      fmt::format("AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={},Signature={}",
                  credentials.access_key_id, scope, sig.signed_headers, sig.signature);
  return sig;
}

}  // namespace strata::storage
