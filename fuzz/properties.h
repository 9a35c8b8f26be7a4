// The properties the libFuzzer targets of fuzz/ check, one per parser of
// hostile input. Each takes the fuzzer's bytes and returns "" when the
// property holds, else what was violated. They are plain functions, apart
// from the targets (fuzz/*_fuzz.cpp), so the g++ trees, which cannot build
// libFuzzer targets, replay the corpus and the regression inputs through the
// same code (tests/fuzz/corpus_replay_test.cpp).
//
// What every property checks: no crash, no sanitizer report, a refusal is a
// strata::Error of the parser's documented code with a message (any other
// exception is a violation), and what an accepted input cheaply allows
// (round trips, invariants), each said at its function.
#pragma once

#include <string>
#include <string_view>

namespace strata::fuzz {

// parse_manifest on the bytes, and again with the trailing manifest_sha256
// made right (so mutations reach the rules behind the checksum). Refusal:
// kManifestInvalid. Accepted: encode_manifest of the result parses back
// equal.
std::string check_manifest(std::string_view input);

// read_snapshot_archive on the bytes as a file (tar; zstd or not) into a
// fresh directory. Refusal: kInvalidPath, kSnapshotInvalid or kDiskFull, and
// the target directory is gone. Either way nothing appears outside the
// target, and an extraction holds only directories and regular files.
std::string check_snapshot(std::string_view input);

// The JSON entry parser of the HTTP body (parse_entries_body), on the whole
// input and on each of its lines (JSON lines). Refusal: kInvalidArgument or
// kInvalidPath. Accepted: every path passes validate_entry_path, a delete
// carries no data, and entry_to_json of the entries parses back equal.
std::string check_entries(std::string_view input);

// The SigV4 signer on a request cut from the bytes (method, path, query
// pairs, headers). Refusal: kInvalidArgument, only for a header value with
// CR or LF. Always: canonical_query is sorted, the same for any order of its
// pairs, and decodes back to the pairs; uri_encode decodes back.
std::string check_sigv4(std::string_view input);

// The S3 answer reader (xml_blocks, xml_first, xml_unescape) on the bytes as
// a ListBucketResult, the way S3Storage::list reads one. Always: every block
// lies inside the input, in order, without overlap; unescaping valid UTF-8
// gives valid UTF-8 without NUL; xml_unescape(xml_escape(s)) == s.
std::string check_xml(std::string_view input);

// The daemon's HTTP request handling: the bytes as one connection's request
// stream through cpp-httplib's parser, the daemon's checks and routes
// (HttpServer, register_routes) of a daemon booted in process on a temp
// data directory, without sockets. Always: every answer is a known status,
// every error is the JSON error shape, no 500, and the daemon answers
// /readyz with 200 afterwards (the WAL did not stop).
std::string check_http(std::string_view input);

// The event loop's request parser (parse_fast_request), on the bytes and on
// them after a valid request line. Always: a request it takes lies inside
// the bytes, ends with its Content-Length body and has no Transfer-Encoding,
// Expect or Upgrade header; every shorter prefix of it waits for more; and
// no decision changes when more bytes follow.
std::string check_http_fast(std::string_view input);

// The WAL segment reader: the first two bytes choose where the rest
// overwrites a valid segment (wal_open_property.h).
std::string check_wal_open(std::string_view input);

struct Target {
  const char* name;  // the folder under fuzz/corpus and fuzz/regressions
  std::string (*check)(std::string_view);
};
inline constexpr Target kTargets[] = {
    {"manifest", check_manifest}, {"snapshot", check_snapshot},
    {"entries", check_entries},   {"sigv4", check_sigv4},
    {"xml", check_xml},           {"http", check_http},
    {"wal_open", check_wal_open}, {"http_fast", check_http_fast},
};

}  // namespace strata::fuzz
