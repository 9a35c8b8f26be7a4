#include "strata/utf8.h"

#include <cstddef>
#include <cstdint>

#include <fmt/format.h>

namespace strata {

namespace {

// The length of the well-formed UTF-8 sequence starting at s[i] and its code
// point, or 0 when the bytes there are not one.
size_t decode_at(std::string_view s, size_t i, uint32_t* out) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *out = c;
    return 1;
  }
  size_t extra;  // continuation bytes after the lead byte
  uint32_t cp;
  uint32_t min;  // the smallest code point that needs this many bytes
  if ((c & 0xE0) == 0xC0) {
    extra = 1;
    cp = c & 0x1F;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    extra = 2;
    cp = c & 0x0F;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    extra = 3;
    cp = c & 0x07;
    min = 0x10000;
  } else {
    return 0;  // a continuation byte (0x80-0xBF) with no lead, or 0xF8-0xFF
  }
  if (s.size() - i <= extra) return 0;  // truncated
  for (size_t k = 1; k <= extra; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *out = cp;
  return extra + 1;
}

// Code points a terminal acts on or that reorder what is shown: C0 and C1
// controls, DEL, the line/paragraph separators and the bidirectional
// embedding, override and isolate controls ("Trojan Source").
bool is_display_control(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
         cp == 0x200f || cp == 0x061c;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  uint32_t cp;
  while (i < s.size()) {
    size_t n = decode_at(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string escape_for_display(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  uint32_t cp;
  while (i < s.size()) {
    size_t n = decode_at(s, i, &cp);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
      i += 1;
      continue;
    }
    if (!is_display_control(cp)) {
      out.append(s.substr(i, n));
    } else if (cp < 0x100) {
      out += fmt::format("\\x{:02x}", cp);
    } else {
      out += fmt::format("\\u{{{:04x}}}", cp);
    }
    i += n;
  }
  return out;
}

}  // namespace strata
