// check_http_fast (properties.h).
#include <algorithm>
#include <cctype>
#include <string>

#include <fmt/format.h>

#include "properties.h"
#include "server/fast_request.h"

namespace strata::fuzz {

namespace {

using server::FastParse;
using server::FastRequest;

// The bytes the fuzzer gives are also tried after a valid request line, so
// mutations reach the header rules and not only the line's first byte.
constexpr std::string_view kLine = "POST /v1/entries HTTP/1.1\r\n";
constexpr uint64_t kMaxBody = 1 << 20;

const char* name(FastParse r) {
  return r == FastParse::kFast ? "fast" : r == FastParse::kNeedMore ? "need-more" : "other";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string check_one(std::string_view input) {
  FastRequest req;
  const FastParse r = server::parse_fast_request(input, kMaxBody, req);
  if (r == FastParse::kFast) {
    if (req.length == 0 || req.length > input.size()) return "a request longer than its bytes";
    if (req.body.empty() || req.body.data() + req.body.size() != input.data() + req.length) {
      return "the body is not the request's last bytes";
    }
    // Nothing that changes how a body is read or answered may pass.
    const std::string head = lower(input.substr(0, req.length - req.body.size()));
    for (std::string_view h : {"\r\ntransfer-encoding", "\r\nexpect", "\r\nupgrade"}) {
      for (size_t at = head.find(h); at != std::string::npos; at = head.find(h, at + 1)) {
        const size_t after = at + h.size();
        if (after < head.size() && (head[after] == ':')) {
          return fmt::format("took a request with a {} header", h.substr(2));
        }
      }
    }
    if (head.find("\r\ncontent-length") == std::string::npos) return "took one without length";
    // Every prefix that is not the whole request waits for more.
    for (size_t cut : {req.length - 1, req.length / 2, req.length - req.body.size()}) {
      FastRequest p;
      const FastParse pr = server::parse_fast_request(input.substr(0, cut), kMaxBody, p);
      if (cut < req.length && pr != FastParse::kNeedMore) {
        return fmt::format("a prefix of {} bytes of a fast request reads as {}", cut, name(pr));
      }
    }
  }
  // The decision never changes as more bytes arrive: kFast keeps its length
  // and kOther stays kOther (a handed-over connection is never wanted back).
  if (r != FastParse::kNeedMore) {
    const std::string more =
        std::string(input) + "POST /v1/entries HTTP/1.1\r\n\r\n" + std::string(64, 'x');
    FastRequest m;
    const FastParse mr = server::parse_fast_request(more, kMaxBody, m);
    if (mr != r) return fmt::format("{} became {} with more bytes", name(r), name(mr));
    if (r == FastParse::kFast && m.length != req.length)
      return "the length changed with more bytes";
  } else if (input.size() > server::kFastHeadMax + server::kFastBodyMax) {
    return "waits for more past every limit";
  }
  return "";
}

}  // namespace

std::string check_http_fast(std::string_view input) {
  std::string err = check_one(input);
  if (!err.empty()) return err;
  err = check_one(std::string(kLine) + std::string(input));
  return err.empty() ? "" : "after the request line: " + err;
}

}  // namespace strata::fuzz
