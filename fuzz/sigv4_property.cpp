// check_sigv4 (properties.h).
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "properties.h"
#include "property_support.h"
#include "storage/sigv4.h"

namespace strata::fuzz {

namespace {

using storage::Params;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // SigV4 encodes with upper-case hex only
}

// Percent-decodes what uri_encode made; nullopt when it holds anything
// uri_encode never writes (keep_slash: '/' may stand for itself).
std::optional<std::string> decode(std::string_view s, bool keep_slash) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain || (keep_slash && c == '/')) {
      out.push_back(c);
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      const int v = hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]);
      // An unreserved byte must not be encoded (SigV4 encodes only the rest).
      const char d = static_cast<char>(v);
      if ((d >= 'A' && d <= 'Z') || (d >= 'a' && d <= 'z') || (d >= '0' && d <= '9') || d == '-' ||
          d == '.' || d == '_' || d == '~' || (keep_slash && d == '/')) {
        return std::nullopt;
      }
      out.push_back(d);
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string check_query(const Params& query) {
  const std::string cq = storage::canonical_query(query);
  Params reversed(query.rbegin(), query.rend());
  if (storage::canonical_query(reversed) != cq) return "canonical_query depends on the order";
  std::vector<std::pair<std::string, std::string>> encoded, decoded;
  if (!cq.empty()) {
    for (std::string_view pair : split(cq, '&')) {
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos) return fmt::format("canonical pair '{}' has no '='", pair);
      auto name = decode(pair.substr(0, eq), false);
      auto value = decode(pair.substr(eq + 1), false);
      if (!name || !value) return fmt::format("canonical pair '{}' is not SigV4-encoded", pair);
      encoded.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
      decoded.emplace_back(*name, *value);
    }
  }
  if (!std::is_sorted(encoded.begin(), encoded.end())) return "canonical_query is not sorted";
  Params want = query;
  std::sort(want.begin(), want.end());
  std::sort(decoded.begin(), decoded.end());
  if (decoded != want) return "canonical_query does not decode back to the query";
  return "";
}

}  // namespace

// The bytes, cut at '\n': method, path (raw, encoded here), then query pairs
// "name=value" up to an empty line, then headers "name:value".
std::string check_sigv4(std::string_view input) {
  const std::vector<std::string_view> lines = split(input, '\n');
  storage::SignableRequest req;
  req.method = std::string(lines[0]);
  const std::string raw_path = lines.size() > 1 ? std::string(lines[1]) : "";
  req.encoded_path = storage::encode_path("", raw_path);
  size_t i = 2;
  for (; i < lines.size() && !lines[i].empty(); ++i) {
    const size_t eq = lines[i].find('=');
    req.query.emplace_back(lines[i].substr(0, eq),
                           eq == std::string_view::npos ? "" : lines[i].substr(eq + 1));
  }
  bool line_break = false;
  for (++i; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    std::string value(colon == std::string_view::npos ? "" : lines[i].substr(colon + 1));
    line_break = line_break || value.find('\r') != std::string::npos;
    req.headers.emplace_back(lines[i].substr(0, colon), std::move(value));
  }
  const std::string date = storage::amz_date(1700000000);
  req.headers.emplace_back("host", "fuzz.example");
  req.headers.emplace_back("x-amz-date", date);
  req.payload_hash = "UNSIGNED-PAYLOAD";

  auto path_back = decode(req.encoded_path, true);
  if (!path_back || *path_back != "/" + raw_path) return "encode_path does not decode back";
  if (std::string p = check_query(req.query); !p.empty()) return p;

  storage::Signature sig;
  try {
    sig = storage::sign(req, {"AKIDFUZZ", "secret", ""}, "auto", "s3", date);
  } catch (const Error& e) {
    if (!line_break) return fmt::format("refused a request without a line break: {}", e.what());
    return check_refusal(e, {ErrorCode::kInvalidArgument});
  } catch (const std::exception& e) {
    return fmt::format("threw a non-strata exception: {}", e.what());
  }
  if (line_break) return "signed a header value holding a line break";
  if (sig.signature.size() != 64) return "the signature is not 64 hex digits";
  const std::string expect_start = fmt::format("{}\n{}\n{}\n", req.method, req.encoded_path,
                                               storage::canonical_query(req.query));
  if (!sig.canonical_request.starts_with(expect_start)) {
    return "the canonical request does not start with method, path and canonical query";
  }
  return "";
}

}  // namespace strata::fuzz
