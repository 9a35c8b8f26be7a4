#include "strata/config.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "strata/error.h"

namespace strata::config {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string env_or(const char* name, std::string_view fallback) {
  auto v = env(name);
  return v ? *v : std::string(fallback);
}

uint64_t parse_u64(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("{}: expected a non-negative whole number, got '{}'", what, text));
  }
  return value;
}

uint64_t parse_bytes(std::string_view text, std::string_view what) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) digits++;
  std::string unit;
  for (char c : text.substr(digits)) unit += static_cast<char>(std::tolower(c));
  uint64_t mult = 0;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kib")
    mult = 1ull << 10;
  else if (unit == "m" || unit == "mib")
    mult = 1ull << 20;
  else if (unit == "g" || unit == "gib")
    mult = 1ull << 30;
  else if (unit == "kb")
    mult = 1000ull;
  else if (unit == "mb")
    mult = 1000ull * 1000;
  else if (unit == "gb")
    mult = 1000ull * 1000 * 1000;
  if (digits == 0 || mult == 0) {
    throw Error(
        ErrorCode::kConfigInvalid,
        fmt::format("{}: expected a size such as 1048576, 64MiB or 1GiB, got '{}'", what, text));
  }
  uint64_t n = parse_u64(text.substr(0, digits), what);
  if (n > UINT64_MAX / mult) {
    throw Error(ErrorCode::kConfigInvalid, fmt::format("{}: size '{}' is too large", what, text));
  }
  return n * mult;
}

uint64_t env_bytes(const char* name, uint64_t fallback) {
  auto v = env(name);
  return v ? parse_bytes(*v, name) : fallback;
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  auto v = env(name);
  return v ? parse_u64(*v, name) : fallback;
}

bool parse_bool(std::string_view text, std::string_view what) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(c));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  throw Error(ErrorCode::kConfigInvalid,
              fmt::format("{}: expected true or false, got '{}'", what, text));
}

std::optional<bool> env_bool(const char* name) {
  auto v = env(name);
  if (!v) return std::nullopt;
  return parse_bool(*v, name);
}

}  // namespace strata::config
