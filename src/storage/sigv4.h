// AWS Signature Version 4 for S3, written in the project rather than taken
// from libcurl's CURLOPT_AWS_SIGV4: libcurl 7.88 (Debian bookworm) neither
// sorts nor encodes query parameters and signs the path as given, so any
// request not already in canonical form gets a signature S3 rejects.
//
// The signer is a pure function of its inputs (no clock, no I/O), so it is
// tested against AWS's published examples and, over many generated requests,
// against the official JavaScript SDK signer (@smithy/signature-v4).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::storage {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when not using temporary credentials
};

using Params = std::vector<std::pair<std::string, std::string>>;

struct SignableRequest {
  std::string method;  // "GET", "PUT", ...
  // The path exactly as sent on the wire, already percent-encoded once
  // (encode_path). S3 signs it as is: no normalization, no double encoding.
  std::string encoded_path;
  Params query;    // decoded names and values; repeated names allowed
  Params headers;  // every header to sign, "host" included; names in any case
  // Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash;
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-content-sha256;x-amz-date"
  std::string signature;       // hex
  std::string authorization;   // the Authorization header value
};

// RFC 3986 percent-encoding as SigV4 defines it: A-Z a-z 0-9 - . _ ~ stay,
// every other byte becomes %XX (upper-case hex); '/' stays only when
// keep_slash is set.
std::string uri_encode(std::string_view s, bool keep_slash);

// "/" + each '/'-separated segment of key encoded.
std::string encode_path(std::string_view prefix_path, std::string_view key);

// name=value pairs encoded, sorted by encoded name then encoded value, joined
// with '&'. Used both for signing and for the URL, so the two never differ.
std::string canonical_query(const Params& query);

// "YYYYMMDDTHHMMSSZ" for a Unix time in seconds.
std::string amz_date(int64_t unix_seconds);

std::array<uint8_t, 32> hmac_sha256(std::string_view key, std::string_view data);
std::array<uint8_t, 32> signing_key(std::string_view secret, std::string_view date8,
                                    std::string_view region, std::string_view service);

// Signs request. Headers must already include "host" and "x-amz-date" (the
// value of amz_date_value); x-amz-content-sha256 and x-amz-security-token
// must be included by the caller when they are sent. Throws
// Error(kInvalidArgument) on a header value containing CR or LF.
Signature sign(const SignableRequest& request, const Credentials& credentials,
               std::string_view region, std::string_view service, std::string_view amz_date_value);

}  // namespace strata::storage
