// The event loop's request parser: recognizes only the one request shape
// that appends take, `POST /v1/entries HTTP/1.1` with a Content-Length body
// and nothing the daemon would have to treat differently, and says kOther
// for anything else so that cpp-httplib's full parser (the
// thread-per-connection path) takes the connection over. Being narrow is
// the point: whatever this parser is not sure of is never answered here,
// so every other behaviour of the API stays what httplib and the routes do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::server {

// A request head longer than this without its end is not ours to judge.
inline constexpr size_t kFastHeadMax = 8 << 10;
// Bodies above this go to the slow path, which streams them within
// STRATA_MAX_BODY_BYTES; the loop buffers at most this per connection.
inline constexpr uint64_t kFastBodyMax = 256 << 10;

struct FastRequest {
  size_t length = 0;       // head and body: the bytes the request takes
  std::string_view body;   // inside the parsed buffer
  std::string_view token;  // the Authorization value after "Bearer "
  bool has_authorization = false;
  bool bearer = false;  // Authorization starts with "Bearer "
};

enum class FastParse {
  kNeedMore,  // a prefix of a request this parser may take: wait for more
  kFast,      // a complete POST /v1/entries the event loop answers
  kOther,     // anything else: hand the connection to httplib
};

// Parses the request at the start of buf. max_body: STRATA_MAX_BODY_BYTES
// (a larger Content-Length is kOther, so the slow path answers 413).
FastParse parse_fast_request(std::string_view buf, uint64_t max_body, FastRequest& out);

}  // namespace strata::server
