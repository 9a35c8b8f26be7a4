// check_xml (properties.h).
#include <fmt/format.h>

#include "properties.h"
#include "property_support.h"
#include "storage/xml.h"

namespace strata::fuzz {

namespace {

// The blocks of name lie inside xml, in order, without overlap.
std::string check_blocks(std::string_view xml, std::string_view name) {
  const char* at = xml.data();
  for (std::string_view b : storage::xml_blocks(xml, name)) {
    if (b.empty()) continue;  // self-closing: an empty view, anywhere
    if (b.data() < at || b.data() + b.size() > xml.data() + xml.size()) {
      return fmt::format("a <{}> block lies outside the input or before the previous one", name);
    }
    at = b.data() + b.size();
  }
  return "";
}

std::string check_text(std::string_view raw, const std::string& text, std::string_view what) {
  if (valid_utf8(raw) && !valid_utf8(text)) {
    return fmt::format("{}: unescaping valid UTF-8 gave invalid UTF-8", what);
  }
  if (raw.find('\0') == std::string_view::npos && text.find('\0') != std::string::npos) {
    return fmt::format("{}: unescaping gave a NUL the input did not hold", what);
  }
  return "";
}

}  // namespace

std::string check_xml(std::string_view input) {
  // What S3Storage::list reads of a ListBucketResult page.
  for (std::string_view name : {"Contents", "IsTruncated", "NextContinuationToken", "Code"}) {
    if (std::string p = check_blocks(input, name); !p.empty()) return p;
  }
  for (std::string_view block : storage::xml_blocks(input, "Contents")) {
    if (std::string p = check_blocks(block, "Key"); !p.empty()) return p;
    for (std::string_view raw : storage::xml_blocks(block, "Key")) {
      if (std::string p = check_text(raw, storage::xml_unescape(raw), "a <Key>"); !p.empty()) {
        return p;
      }
    }
  }
  if (std::string p = check_text(input, storage::xml_unescape(input), "the input"); !p.empty()) {
    return p;
  }
  // Escaping round-trips, also inside an element.
  const std::string escaped = storage::xml_escape(input);
  if (storage::xml_unescape(escaped) != input) return "xml_unescape(xml_escape(s)) != s";
  if (storage::xml_first("<Key>" + escaped + "</Key>", "Key") != std::string(input)) {
    return "an escaped text in <Key> does not read back";
  }
  return "";
}

}  // namespace strata::fuzz
