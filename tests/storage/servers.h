// Real servers for the storage tests: s3rver (a real S3 implementation from
// npm), the fault-injecting / signature-verifying proxy (tests/js/proxy.js),
// each started on a free loopback port with its own temporary directory and
// stopped when the fixture object dies.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "strata/storage.h"
#include "support/temp_dir.h"

namespace strata::testing {

std::string js_dir();  // <source>/tests/js; fails the test if npm ci has not run

// A child process whose stdin is a pipe we hold: closing it (or SIGTERM)
// stops the helper, and it also dies if the test process does.
class NodeProcess {
 public:
  // Starts `node [node_flags...] script args...` and waits for "LISTENING <port>".
  NodeProcess(const std::vector<std::string>& node_flags, const std::string& script,
              const std::vector<std::string>& args);
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;
  int port() const { return port_; }
  // SIGKILL: the server vanishes mid-test without a goodbye.
  void kill_now();
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
};

// The test key pair; the secret is distinctive so tests can grep for leaks.
inline constexpr const char* kAccessKey = "STRATATESTKEY01";
inline constexpr const char* kSecretKey = "sEcReT/do-not-leak+9f3kQ2wZ";
inline constexpr const char* kBucket = "strata-test";

struct S3Servers {
  // verify: put the signature-checking proxy in front (the default, so every
  // integration test also proves signing against the official SDK signer).
  explicit S3Servers(bool with_proxy = true, bool verify = true, const std::string& cert = "",
                     const std::string& key = "");
  TempDir dir;
  std::unique_ptr<NodeProcess> s3rver;
  std::unique_ptr<NodeProcess> proxy;

  // The endpoint clients should use (the proxy when there is one).
  std::string endpoint() const;
  std::string direct_endpoint() const;
  // A config with test-friendly timeouts (short backoff, fast breaker reset).
  S3Config config() const;
  // Sends a control request to the proxy ("fault?mode=reset&count=1", "stats", ...)
  // and returns the JSON body.
  std::string proxy_control(const std::string& what) const;
  uint64_t proxy_stat(const std::string& name) const;
};

}  // namespace strata::testing
