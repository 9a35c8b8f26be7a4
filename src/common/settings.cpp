// The layers behind config::env: flags over the environment over the file.
#include "strata/settings.h"

#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "strata/config.h"
#include "strata/error.h"

namespace strata::config {

namespace {

struct Layers {
  std::mutex mu;
  std::map<std::string, std::string, std::less<>> flags;
  std::map<std::string, std::string, std::less<>> file;
  std::string file_path;
};

Layers& layers() {
  static Layers l;
  return l;
}

std::optional<std::string> getenv_value(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

void check_choice(const Setting& s, std::string_view value, std::string_view what) {
  std::string_view choices = s.choices ? s.choices : "";
  size_t start = 0;
  while (start <= choices.size()) {
    size_t end = choices.find('|', start);
    if (end == std::string_view::npos) end = choices.size();
    if (choices.substr(start, end - start) == value) return;
    start = end + 1;
  }
  std::string list(choices);
  for (char& c : list) {
    if (c == '|') c = ',';
  }
  throw Error(ErrorCode::kConfigInvalid,
              fmt::format("{}: expected one of {}, got '{}'", what, list, value));
}

void check_value(const Setting& s, std::string_view value, std::string_view what) {
  switch (s.kind) {
    case Kind::kText:
    case Kind::kPathList:
      for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f) {
          // Never echo the value: it may be a secret.
          throw Error(ErrorCode::kConfigInvalid,
                      fmt::format("{}: contains a control character", what));
        }
      }
      return;
    case Kind::kBytes:
      parse_bytes(value, what);
      return;
    case Kind::kNumber:
    case Kind::kMillis:
      parse_u64(value, what);
      return;
    case Kind::kBool:
      parse_bool(value, what);
      return;
    case Kind::kChoice:
      check_choice(s, value, what);
      return;
  }
}

}  // namespace

const Setting* find_setting(std::string_view name) {
  for (const Setting& s : settings()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::string_view source_name(Source source) {
  switch (source) {
    case Source::kDefault:
      return "default";
    case Source::kFile:
      return "file";
    case Source::kEnvironment:
      return "environment";
    case Source::kFlag:
      return "flag";
  }
  return "?";
}

void set_flag(const std::string& name, std::string value) {
  if (!find_setting(name)) {
    throw Error(ErrorCode::kConfigInvalid, fmt::format("{}: not a setting strata knows", name));
  }
  std::lock_guard lock(layers().mu);
  layers().flags[name] = std::move(value);
}

void set_file(const std::string& path, std::map<std::string, std::string> values) {
  for (const auto& [name, _] : values) {
    const Setting* s = find_setting(name);
    if (!s) {
      throw Error(ErrorCode::kConfigInvalid,
                  fmt::format("{}: unknown key '{}' (`strata config check` lists the known ones)",
                              path, name));
    }
    if (!s->allowed_in_file) {
      throw Error(ErrorCode::kConfigInvalid,
                  fmt::format("{}: key '{}' cannot be set in the file, only in the environment",
                              path, name));
    }
  }
  std::lock_guard lock(layers().mu);
  layers().file.clear();
  for (auto& [name, value] : values) layers().file.emplace(name, std::move(value));
  layers().file_path = path;
}

std::string file_path() {
  std::lock_guard lock(layers().mu);
  return layers().file_path;
}

void clear_layers() {
  std::lock_guard lock(layers().mu);
  layers().flags.clear();
  layers().file.clear();
  layers().file_path.clear();
}

Resolved resolve(std::string_view name) {
  Resolved r;
  r.setting = find_setting(name);
  std::lock_guard lock(layers().mu);
  Layers& l = layers();
  if (auto it = l.flags.find(name); it != l.flags.end()) {
    r.value = it->second;
    r.source = Source::kFlag;
    r.origin = "flag";
  } else if (auto env = getenv_value(name)) {
    r.value = std::move(env);
    r.source = Source::kEnvironment;
    r.origin = "environment";
  } else if (auto f = l.file.find(name); f != l.file.end() && !f->second.empty()) {
    r.value = f->second;
    r.source = Source::kFile;
    r.origin = "file " + l.file_path;
  }
  return r;
}

std::vector<Resolved> resolve_all() {
  std::vector<Resolved> out;
  for (const Setting& s : settings()) out.push_back(resolve(s.name));
  return out;
}

void validate_values() {
  for (const Resolved& r : resolve_all()) {
    if (!r.value) continue;
    check_value(*r.setting, *r.value, fmt::format("{} (from the {})", r.setting->name, r.origin));
  }
}

std::string shown_value(const Resolved& r) {
  if (!r.value) return "(unset)";
  if (r.setting && r.setting->secret) return "********";
  return *r.value;
}

}  // namespace strata::config
