#include "storage/xml.h"

#include <cstdlib>

namespace strata::storage {

namespace {

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Position just after the opening tag <name ...> or <name/>, starting at
// from; npos when none. *self_closing tells which.
size_t find_open(std::string_view xml, std::string_view name, size_t from, bool* self_closing,
                 size_t* tag_start) {
  while (true) {
    size_t lt = xml.find('<', from);
    if (lt == std::string_view::npos) return lt;
    size_t after = lt + 1;
    if (xml.substr(after, name.size()) == name && after + name.size() < xml.size()) {
      char c = xml[after + name.size()];
      if (c == '>' || c == ' ' || c == '/' || c == '\t' || c == '\n' || c == '\r') {
        size_t gt = xml.find('>', after);
        if (gt == std::string_view::npos) return gt;
        *self_closing = xml[gt - 1] == '/';
        *tag_start = lt;
        return gt + 1;
      }
    }
    from = after;
  }
}

}  // namespace

std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = text.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out.push_back('&');
    else if (ent == "lt")
      out.push_back('<');
    else if (ent == "gt")
      out.push_back('>');
    else if (ent == "quot")
      out.push_back('"');
    else if (ent == "apos")
      out.push_back('\'');
    else if (ent.size() > 1 && ent[0] == '#') {
      std::string digits(ent.substr(ent[1] == 'x' || ent[1] == 'X' ? 2 : 1));
      char* end = nullptr;
      unsigned long cp =
          std::strtoul(digits.c_str(), &end, ent[1] == 'x' || ent[1] == 'X' ? 16 : 10);
      // Not a character XML allows (U+0000, a UTF-16 surrogate, beyond
      // U+10FFFF): kept as written, so the text never holds a NUL or bytes
      // that are not UTF-8 (found by fuzz/xml_fuzz.cpp).
      if (digits.empty() || *end != '\0' || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) ||
          cp > 0x10FFFF) {
        out.push_back('&');
        continue;
      }
      append_utf8(out, cp);
    } else {
      out.push_back('&');
      continue;
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view name) {
  std::vector<std::string_view> out;
  std::string close = "</" + std::string(name) + ">";
  size_t pos = 0;
  while (true) {
    bool self_closing = false;
    size_t tag_start = 0;
    size_t start = find_open(xml, name, pos, &self_closing, &tag_start);
    if (start == std::string_view::npos) break;
    if (self_closing) {
      out.emplace_back();
      pos = start;
      continue;
    }
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start, end - start));
    pos = end + close.size();
  }
  return out;
}

std::vector<std::string> xml_all(std::string_view xml, std::string_view name) {
  std::vector<std::string> out;
  for (std::string_view block : xml_blocks(xml, name)) out.push_back(xml_unescape(block));
  return out;
}

std::optional<std::string> xml_first(std::string_view xml, std::string_view name) {
  auto all = xml_blocks(xml, name);
  if (all.empty()) return std::nullopt;
  return xml_unescape(all.front());
}

}  // namespace strata::storage
