#include "strata/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/settings.h"

namespace strata::config {

std::optional<std::string> env(const char* name) {
  return resolve(name).value;
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
  auto bad = [&] {
    return Error(
        ErrorCode::kConfigInvalid,
        fmt::format("{}: expected a size such as 1048576, 64MiB, 1.5GiB or 100MB, got '{}'", what,
                    text));
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) digits++;
  // A fraction ("1.5GiB") is computed exactly in decimal: value =
  // (whole * 10^k + fraction) * unit / 10^k, which must come out whole.
  size_t frac_begin = digits, frac_end = digits;
  if (digits < text.size() && text[digits] == '.') {
    frac_begin = frac_end = digits + 1;
    while (frac_end < text.size() && std::isdigit(static_cast<unsigned char>(text[frac_end])))
      frac_end++;
    if (frac_end == frac_begin) throw bad();
  }
  const size_t unit_begin = std::max(frac_end, digits);
  std::string unit;
  for (char c : text.substr(unit_begin)) unit += static_cast<char>(std::tolower(c));
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
  if (digits == 0 || mult == 0) throw bad();
  const uint64_t whole = parse_u64(text.substr(0, digits), what);
  const std::string_view frac = text.substr(frac_begin, frac_end - frac_begin);
  if (frac.size() > 9) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("{}: '{}' has more decimals than a size can use", what, text));
  }
  unsigned __int128 scale = 1, frac_value = 0;
  for (char c : frac) {
    scale *= 10;
    frac_value = frac_value * 10 + static_cast<unsigned>(c - '0');
  }
  // At most 9 decimals: whole * 10^9 * 2^30 < 2^124 cannot overflow.
  const unsigned __int128 total =
      (static_cast<unsigned __int128>(whole) * scale + frac_value) * mult;
  if (total % scale != 0) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("{}: '{}' is not a whole number of bytes", what, text));
  }
  if (total / scale > UINT64_MAX) {
    throw Error(ErrorCode::kConfigInvalid, fmt::format("{}: size '{}' is too large", what, text));
  }
  return static_cast<uint64_t>(total / scale);
}

uint64_t env_bytes(const char* name, uint64_t fallback) {
  auto v = env(name);
  return v ? parse_bytes(*v, name) : fallback;
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  auto v = env(name);
  return v ? parse_u64(*v, name) : fallback;
}

uint64_t env_u64_in(const char* name, uint64_t fallback, uint64_t min, uint64_t max) {
  const uint64_t n = env_u64(name, fallback);
  if (n < min || n > max) {
    throw Error(ErrorCode::kConfigInvalid,
                fmt::format("{}: must be between {} and {}, got {}", name, min, max, n));
  }
  return n;
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
