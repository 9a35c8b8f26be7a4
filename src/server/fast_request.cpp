#include "server/fast_request.h"

#include <algorithm>
#include <charconv>

namespace strata::server {

namespace {

constexpr std::string_view kRequestLine = "POST /v1/entries HTTP/1.1\r\n";

bool is_token_char(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_value_char(unsigned char c) {
  return c == ' ' || c == '\t' || (c >= 0x21 && c <= 0x7e);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

FastParse parse_fast_request(std::string_view buf, uint64_t max_body, FastRequest& out) {
  out = FastRequest{};
  // The request line decides early, so a GET is handed over at its first
  // bytes rather than after its whole head.
  const size_t line = std::min(buf.size(), kRequestLine.size());
  if (buf.substr(0, line) != kRequestLine.substr(0, line)) return FastParse::kOther;
  const size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    return buf.size() > kFastHeadMax ? FastParse::kOther : FastParse::kNeedMore;
  }
  if (head_end + 4 > kFastHeadMax) return FastParse::kOther;

  std::string_view headers = buf.substr(kRequestLine.size(), head_end + 2 - kRequestLine.size());
  bool have_length = false;
  uint64_t length = 0;
  while (!headers.empty()) {
    const size_t eol = headers.find("\r\n");
    if (eol == std::string_view::npos) return FastParse::kOther;
    const std::string_view h = headers.substr(0, eol);
    headers.remove_prefix(eol + 2);
    const size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return FastParse::kOther;
    const std::string_view name = h.substr(0, colon);
    for (unsigned char c : name) {
      if (!is_token_char(c)) return FastParse::kOther;
    }
    std::string_view value = h.substr(colon + 1);
    for (unsigned char c : value) {
      if (!is_value_char(c)) return FastParse::kOther;
    }
    value = trim(value);
    if (iequals(name, "Content-Length")) {
      if (have_length || value.empty() || value.size() > 19) return FastParse::kOther;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (ec != std::errc() || end != value.data() + value.size()) return FastParse::kOther;
      have_length = true;
    } else if (iequals(name, "Authorization")) {
      if (out.has_authorization) return FastParse::kOther;
      out.has_authorization = true;
      constexpr std::string_view kScheme = "Bearer ";
      if (value.starts_with(kScheme)) {
        out.bearer = true;
        out.token = value.substr(kScheme.size());
      }
    } else if (iequals(name, "Connection")) {
      // close (and anything else) changes how the answer ends: httplib's.
      if (!iequals(value, "keep-alive")) return FastParse::kOther;
    } else if (iequals(name, "Transfer-Encoding") || iequals(name, "Expect") ||
               iequals(name, "Upgrade")) {
      return FastParse::kOther;
    }
  }
  // No body, or one the slow path must refuse or stream.
  if (!have_length || length == 0 || length > max_body || length > kFastBodyMax) {
    return FastParse::kOther;
  }
  const size_t body_at = head_end + 4;
  if (buf.size() - body_at < length) return FastParse::kNeedMore;
  out.length = body_at + length;
  out.body = buf.substr(body_at, length);
  return FastParse::kFast;
}

}  // namespace strata::server
