// The key rules every store shares (see validate_key in strata/storage.h).
#include <fmt/format.h>

#include "storage/validation.h"
#include "strata/error.h"
#include "strata/storage.h"
#include "strata/utf8.h"

namespace strata {

namespace {

[[noreturn]] void bad(std::string_view key, std::string_view why) {
  // Control characters are shown escaped so the message itself stays printable.
  std::string shown;
  for (unsigned char c : key.substr(0, 200)) {
    if (c < 0x20 || c == 0x7F) {
      shown += fmt::format("\\x{:02x}", c);
    } else {
      shown.push_back(static_cast<char>(c));
    }
  }
  throw Error(ErrorCode::kInvalidPath, fmt::format("invalid storage key \"{}\": {}", shown, why));
}

}  // namespace

void validate_key(std::string_view key) {
  if (key.empty()) bad(key, "empty");
  if (key.size() > 1024) bad(key, "longer than 1024 bytes");
  if (key.front() == '/') bad(key, "starts with '/'");
  if (key.back() == '/') bad(key, "ends with '/'");
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7F) bad(key, "contains a control character");
  }
  // S3 keys are UTF-8, and a malformed one would be encoded differently by
  // every client.
  if (!is_valid_utf8(key)) bad(key, "is not valid UTF-8");
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    std::string_view seg =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) bad(key, "contains an empty segment ('//')");
    if (seg == "." || seg == "..") bad(key, "contains a '.' or '..' segment");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

void validate_metadata(const std::map<std::string, std::string>& metadata) {
  for (const auto& [name, value] : metadata) {
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("metadata name \"{}\": use lower-case a-z, 0-9 and '-'", name));
    }
    if (name == "sha256") {
      throw Error(ErrorCode::kInvalidArgument,
                  "metadata name \"sha256\" is reserved: the store sets it from the content");
    }
    for (unsigned char c : value) {
      if (c < 0x20 || c > 0x7E) {
        throw Error(ErrorCode::kInvalidArgument,
                    fmt::format("metadata \"{}\": values must be printable ASCII", name));
      }
    }
  }
}

}  // namespace strata
