// The daemon's settings, the TOML file layer, and the whole-configuration
// check that runs before anything is touched.
#include <arpa/inet.h>

#include <toml++/toml.h>

#include <fmt/format.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/git_sync.h"
#include "strata/recovery.h"
#include "strata/server.h"
#include "strata/settings.h"
#include "strata/storage.h"
#include "strata/wal.h"

namespace strata::server {

namespace {

[[noreturn]] void invalid(std::string message) {
  throw Error(ErrorCode::kConfigInvalid, std::move(message));
}

std::chrono::milliseconds env_ms(const char* name, std::chrono::milliseconds fallback,
                                 uint64_t min_ms) {
  const uint64_t v = config::env_u64(name, static_cast<uint64_t>(fallback.count()));
  if (v < min_ms) invalid(fmt::format("{}: must be at least {} ms, got {}", name, min_ms, v));
  if (v > (1ull << 40)) invalid(fmt::format("{}: {} ms is too long", name, v));
  return std::chrono::milliseconds(v);
}

bool is_loopback(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// A TOML value as the text an environment variable would hold.
std::string toml_value_text(const std::string& path, const std::string& key, const toml::node& node,
                            const config::Setting& setting) {
  auto where = [&] { return fmt::format("{}: {} (line {})", path, key, node.source().begin.line); };
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) {
    if (i->get() < 0) invalid(fmt::format("{}: must not be negative, got {}", where(), i->get()));
    return std::to_string(i->get());
  }
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  if (node.is_floating_point()) {
    invalid(fmt::format("{}: write a size or duration as an integer or a string such as \"1.5GiB\"",
                        where()));
  }
  if (auto arr = node.as_array(); arr && setting.kind == config::Kind::kPathList) {
    std::string joined;
    for (const toml::node& item : *arr) {
      auto s = item.as_string();
      if (!s) invalid(fmt::format("{}: every element must be a string", where()));
      if (s->get().find(':') != std::string::npos) {
        invalid(fmt::format("{}: a path in the list contains ':'", where()));
      }
      if (!joined.empty()) joined += ':';
      joined += s->get();
    }
    return joined;
  }
  if (node.is_table()) {
    invalid(fmt::format("{}: tables are not used; write every setting at the top level", where()));
  }
  invalid(fmt::format("{}: expected a string, an integer or a boolean", where()));
}

}  // namespace

std::string ListenAddress::url() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

ListenAddress parse_listen_address(std::string_view text) {
  auto bad = [&](std::string_view why) -> Error {
    return Error(ErrorCode::kConfigInvalid,
                 fmt::format("STRATA_LISTEN: '{}': {} (expected HOST:PORT such as 127.0.0.1:7480)",
                             text, why));
  };
  ListenAddress a;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw bad("an IPv6 address is written [::1]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      throw bad("an IPv6 address is written [::1]:PORT");
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    throw bad("the port must be a number from 0 (any free port) to 65535");
  }
  a.port = std::stoi(std::string(port));
  if (a.port > 65535) throw bad("the port must be a number from 0 (any free port) to 65535");
  if (host.empty() || host == "localhost") {
    a.host = "127.0.0.1";
  } else {
    a.host = std::string(host);
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, a.host.c_str(), &v4) != 1 &&
        inet_pton(AF_INET6, a.host.c_str(), &v6) != 1) {
      throw bad("the host must be an IP address or localhost");
    }
  }
  a.loopback = is_loopback(a.host);
  return a;
}

std::string local_remote_dir(const std::string& data_dir) {
  return config::env_or("STRATA_LOCAL_REMOTE_DIR", data_dir + "/remote");
}

ServerOptions ServerOptions::from_env(const std::string& data_dir) {
  ServerOptions o;
  o.data_dir = data_dir;
  o.listen = parse_listen_address(config::env_or("STRATA_LISTEN", "127.0.0.1:7480"));
  o.token = config::env_or("STRATA_TOKEN", "");
  if (!o.listen.loopback && o.token.empty()) {
    invalid(
        fmt::format("STRATA_LISTEN: {} is not a loopback address; set STRATA_TOKEN to listen there",
                    o.listen.host));
  }
  if (!o.token.empty() && o.token.size() < 16) {
    invalid("STRATA_TOKEN: must be at least 16 characters");
  }
  for (unsigned char c : o.token) {
    if (c <= 0x20 || c >= 0x7f) {
      invalid("STRATA_TOKEN: only printable ASCII without spaces can travel in a header");
    }
  }
  o.max_body_bytes = config::env_bytes("STRATA_MAX_BODY_BYTES", o.max_body_bytes);
  if (o.max_body_bytes < 1024) invalid("STRATA_MAX_BODY_BYTES: must be at least 1024");
  o.max_connections = static_cast<uint32_t>(
      config::env_u64_in("STRATA_MAX_CONNECTIONS", o.max_connections, 1, 4096));
  o.read_timeout = env_ms("STRATA_READ_TIMEOUT_MS", o.read_timeout, 100);
  o.write_timeout = env_ms("STRATA_WRITE_TIMEOUT_MS", o.write_timeout, 100);
  o.idle_timeout = env_ms("STRATA_IDLE_TIMEOUT_MS", o.idle_timeout, 1);
  o.remote_wait = env_ms("STRATA_REMOTE_WAIT_MS", o.remote_wait, 1);
  o.shutdown_sync_timeout = env_ms("SHUTDOWN_SYNC_TIMEOUT_MS", o.shutdown_sync_timeout, 0);
  o.sync_interval = env_ms("SYNC_INTERVAL_MS", o.sync_interval, 10);
  o.git_interval = env_ms("GIT_SYNC_INTERVAL_MS", o.git_interval, 10);
  o.compact_check = env_ms("STRATA_COMPACT_CHECK_MS", o.compact_check, 10);
  o.breaker_failures = static_cast<int>(config::env_u64_in("STRATA_BREAKER_FAILURES", 3, 1, 1000));
  o.breaker_reset = env_ms("STRATA_BREAKER_RESET_MS", o.breaker_reset, 1);
  o.local_remote_dir = server::local_remote_dir(data_dir);
  o.log_format = config::env_or("LOG_FORMAT", o.log_format);
  if (o.log_format != "text" && o.log_format != "json") {
    invalid(fmt::format("LOG_FORMAT: expected text or json, got '{}'", o.log_format));
  }
  o.log_level = config::env_or("LOG_LEVEL", o.log_level);
  if (o.log_level != "debug" && o.log_level != "info" && o.log_level != "warn" &&
      o.log_level != "error") {
    invalid(fmt::format("LOG_LEVEL: expected debug, info, warn or error, got '{}'", o.log_level));
  }
  o.log_file = config::env_or("LOG_FILE", "");
  return o;
}

void load_settings_file(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    if (where.line == 0) {
      // No position: the file itself could not be read.
      invalid(fmt::format("{}: cannot read the configuration file ({})", path, e.description()));
    }
    invalid(
        fmt::format("{}: line {}, column {}: {}", path, where.line, where.column, e.description()));
  }
  std::map<std::string, std::string> values;
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    const config::Setting* setting = config::find_setting(name);
    if (!setting) {
      invalid(
          fmt::format("{}: unknown key '{}' (line {}; `strata config check` lists the known "
                      "ones)",
                      path, name, key.source().begin.line));
    }
    values[name] = toml_value_text(path, name, node, *setting);
  }
  config::set_file(path, std::move(values));
}

void check_configuration(const std::string& data_dir) {
  config::validate_values();
  ServerOptions::from_env(data_dir);
  WalOptions::from_env(data_dir + "/wal");
  if (config::env("R2_ENDPOINT")) S3Config::from_env();
  GitSyncConfig::from_env(data_dir);
  RecoveryConfig::from_env(data_dir);
}

}  // namespace strata::server
