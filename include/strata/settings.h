// Every setting strata knows, in one registry, and the layers a value comes
// from.
//
// A setting has one name, used alike as the environment variable, as the key
// in the TOML configuration file (--config FILE or STRATA_CONFIG) and in
// `strata config check`. config::env(name) (strata/config.h), which every
// tier calls, returns the first of
//   1. a command-line flag (set_flag),
//   2. the environment,
//   3. the configuration file (set_file),
// and nullopt otherwise, in which case the tier applies its own default (the
// registry's `default_text` says what that default is, for people).
//
// Registering a setting is one line in the tier's group of the table in
// src/common/settings_table.cpp; an unknown key in the file is refused, so a
// tier that reads a variable must register it there.
//
// The layers are set once at start-up, before threads run; every function
// here is nevertheless safe to call from any thread.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::config {

// How a value is checked before anything runs (validate_values).
enum class Kind {
  kText,      // any text
  kBytes,     // a size: 1048576, 64MiB, 1GiB, 100MB (parse_bytes)
  kNumber,    // a non-negative whole number
  kMillis,    // a duration in milliseconds (a non-negative whole number)
  kBool,      // true/false, 1/0, yes/no, on/off
  kChoice,    // one of `choices`
  kPathList,  // ':'-separated paths; a TOML array of strings is joined with ':'
};

struct Setting {
  const char* name;
  const char* tier;  // the part of strata that reads it: "daemon", "wal", "object", "git", ...
  Kind kind;
  const char* default_text;  // the default as a person reads it; "" = unset
  const char* meaning;
  bool secret = false;            // masked in every output
  const char* choices = nullptr;  // kChoice: "always|interval|none"
  bool allowed_in_file = true;    // false: only a flag or the environment may set it
};

// Every registered setting, grouped by tier.
std::span<const Setting> settings();
// nullptr for a name strata does not read.
const Setting* find_setting(std::string_view name);

enum class Source { kDefault, kFile, kEnvironment, kFlag };
std::string_view source_name(Source source);  // "default", "file", "environment", "flag"

// A command-line flag's value for a setting. Throws kConfigInvalid for a
// name that is not registered.
void set_flag(const std::string& name, std::string value);

// The configuration file's values (already converted to text). Throws
// kConfigInvalid naming the first key that is not registered or may not be
// set in a file; nothing of the file is installed then.
void set_file(const std::string& path, std::map<std::string, std::string> values);

// The file installed by set_file, or "" when none.
std::string file_path();

// Forgets every flag and the file (tests, and a process that reloads).
void clear_layers();

struct Resolved {
  const Setting* setting = nullptr;
  std::optional<std::string> value;  // nullopt: unset, the tier's default applies
  Source source = Source::kDefault;
  std::string origin;  // "flag", "environment" or "file <path>": for messages
};

// The layered value of one name (registered or not).
Resolved resolve(std::string_view name);
// resolve() for every registered setting, in registry order.
std::vector<Resolved> resolve_all();

// Checks every value that is set, from any layer, against its setting's kind.
// Throws kConfigInvalid with one line that starts with the setting's name and
// says where the bad value came from.
void validate_values();

// The value as it may be printed: "(unset)" when unset, "********" for a set
// secret, the value otherwise.
std::string shown_value(const Resolved& r);

}  // namespace strata::config
