// `strata serve`: the persistence daemon. One process owns DATA_DIR: it
// validates every setting, checks the data directory, recovers, opens the
// WAL, runs each tier on its own schedule and thread (object store, Git
// archive, compaction) behind its own circuit breaker, and serves the HTTP
// API of docs/api.md until SIGTERM or SIGINT, when it stops accepting,
// finishes the requests in flight, runs a last sync and archive bounded by
// SHUTDOWN_SYNC_TIMEOUT_MS and closes the WAL.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::server {

struct ListenAddress {
  std::string host;  // an IP literal: 127.0.0.1, ::1, 0.0.0.0, ...
  int port = 7480;
  bool loopback = true;     // 127.0.0.0/8 or ::1
  std::string url() const;  // "http://127.0.0.1:7480"
};

// "127.0.0.1:7480", "[::1]:7480", "localhost:7480" or ":7480" (loopback).
// Port 0 takes any free port (logged, and written to DATA_DIR/serve.json).
// Throws kConfigInvalid naming STRATA_LISTEN. A host name other than
// localhost is refused: the daemon binds exactly what it was told.
ListenAddress parse_listen_address(std::string_view text);

// The daemon's own settings (the STRATA_*, LOG_*, *_INTERVAL_MS and
// SHUTDOWN_SYNC_TIMEOUT_MS rows of `strata config check`).
struct ServerOptions {
  std::string data_dir;
  ListenAddress listen;
  std::string token;  // "" = no authentication (loopback only)
  uint64_t max_body_bytes = 32ull << 20;
  uint32_t max_connections = 64;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds remote_wait{60000};
  std::chrono::milliseconds shutdown_sync_timeout{10000};
  std::chrono::milliseconds sync_interval{30000};
  std::chrono::milliseconds git_interval{3600000};
  std::chrono::milliseconds compact_check{60000};
  int breaker_failures = 3;
  std::chrono::milliseconds breaker_reset{300000};
  std::string local_remote_dir;  // STRATA_LOCAL_REMOTE_DIR, default DATA_DIR/remote
  std::string log_format = "text";
  std::string log_level = "info";
  std::string log_file;  // "" = stderr

  // Throws kConfigInvalid naming the setting; refuses a non-loopback
  // STRATA_LISTEN without STRATA_TOKEN.
  static ServerOptions from_env(const std::string& data_dir);
};

// Where the object store's filesystem stand-in lives when R2_ENDPOINT is
// unset: STRATA_LOCAL_REMOTE_DIR, else DATA_DIR/remote. The daemon and the
// CLI's `sync`, `remote`, `checkpoint`, `prune`, `status` and `recover` all
// take it from here, so they see the same store.
std::string local_remote_dir(const std::string& data_dir);

// Reads a TOML configuration file into the settings layer (every top-level
// key a setting's name; strings, integers, booleans, and arrays of strings
// for path lists). Throws kConfigInvalid naming the file, and the line or
// the key, for a syntax error, an unknown key or a value of the wrong type;
// nothing of a refused file is used.
void load_settings_file(const std::string& path);

// Everything the daemon would check before touching anything: each value
// against its kind, then every tier's settings as the tier parses them
// (ServerOptions, the WAL's, the object store's, the Git archive's). Touches
// nothing on disk or on the network. Throws kConfigInvalid naming the key.
void check_configuration(const std::string& data_dir);

// Runs the daemon in the foreground until SIGTERM or SIGINT. Returns the
// process exit code: 0 after a clean shutdown, 2 for a configuration error
// (one line on stderr naming the key, nothing touched), 3 when boot failed.
int run(const std::string& data_dir);

}  // namespace strata::server
