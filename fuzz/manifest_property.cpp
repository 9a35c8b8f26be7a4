// check_manifest (properties.h).
#include <fmt/format.h>

#include "properties.h"
#include "property_support.h"
#include "strata/hash.h"
#include "strata/object_sync.h"
#include "sync/remote_keys.h"

namespace strata::fuzz {

namespace {

// The layout encode_manifest writes: the checksum field last.
constexpr std::string_view kShaOpen = ",\"manifest_sha256\":\"";
constexpr std::string_view kShaClose = "\"}\n";

// The input with its trailing manifest_sha256 replaced by the right one (or
// appended, when the input does not end with one): a mutation of a valid
// manifest then fails on its content, not on the checksum in front of it.
std::string with_right_checksum(std::string_view input) {
  std::string_view body = input;
  const size_t at = body.rfind(kShaOpen);
  if (at != std::string_view::npos) {
    body = body.substr(0, at);
  } else if (!body.empty() && body.back() == '\n') {
    body.remove_suffix(1);
    if (!body.empty() && body.back() == '}') body.remove_suffix(1);
  } else if (!body.empty() && body.back() == '}') {
    body.remove_suffix(1);
  }
  std::string out(body);
  out += kShaOpen;
  out += sha256_hex(body);
  out += kShaClose;
  return out;
}

std::string check_one(std::string_view bytes) {
  Manifest m;
  try {
    m = parse_manifest(bytes, "fuzz");
  } catch (const Error& e) {
    return check_refusal(e, {ErrorCode::kManifestInvalid});
  } catch (const std::exception& e) {
    return fmt::format("parse threw a non-strata exception: {}", e.what());
  }
  // Accepted: every log object can hold its records (raw_bytes is what
  // recovery's decompression is bounded by), computed without overflow.
  for (const LogObjectInfo& o : m.log) {
    if (static_cast<unsigned __int128>(o.entries) * sync::kMinRecordBytes > o.raw_bytes) {
      return fmt::format("accepted {}: {} entries cannot fit in raw_bytes {}", o.key, o.entries,
                         o.raw_bytes);
    }
  }
  // And what the writer makes of it must parse back to the same.
  Manifest copy = m;
  std::string again;
  try {
    again = encode_manifest(copy);
  } catch (const Error& e) {
    return fmt::format("an accepted manifest does not encode: {}", e.what());
  }
  Manifest back;
  try {
    back = parse_manifest(again, "fuzz re-encoded");
  } catch (const Error& e) {
    return fmt::format("an accepted manifest, re-encoded, is refused: {}", e.what());
  }
  m.manifest_sha256.clear();
  back.manifest_sha256.clear();
  if (!(m == back)) return "an accepted manifest does not survive encode and parse";
  return "";
}

}  // namespace

std::string check_manifest(std::string_view input) {
  if (std::string p = check_one(input); !p.empty()) return "as given: " + p;
  if (std::string p = check_one(with_right_checksum(input)); !p.empty()) {
    return "with its checksum made right: " + p;
  }
  return "";
}

}  // namespace strata::fuzz
