// Reading settings. Every bad value is refused with kConfigInvalid naming the
// variable and what it expected; nothing is guessed. The values come from the
// layers of strata/settings.h: a flag, else the environment, else the
// configuration file.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata::config {

// The setting's value from the first layer that sets it, or nullopt when no
// layer does (an empty environment variable counts as unset).
std::optional<std::string> env(const char* name);
std::string env_or(const char* name, std::string_view fallback);

// "1048576", "64MiB", "64M", "1GiB", "512KiB", "100MB" (MB = 10^6 bytes),
// "1.5GiB" (a decimal fraction, up to 9 digits, that must come out to a
// whole number of bytes: "1.5B" and "0.1KiB" are refused).
uint64_t parse_bytes(std::string_view text, std::string_view what);
uint64_t env_bytes(const char* name, uint64_t fallback);
uint64_t parse_u64(std::string_view text, std::string_view what);
uint64_t env_u64(const char* name, uint64_t fallback);
// env_u64 (fallback included), refused with kConfigInvalid naming the
// setting, the bounds and the value when outside [min, max].
uint64_t env_u64_in(const char* name, uint64_t fallback, uint64_t min, uint64_t max);
// true/false, 1/0, yes/no, on/off.
bool parse_bool(std::string_view text, std::string_view what);
std::optional<bool> env_bool(const char* name);

}  // namespace strata::config
