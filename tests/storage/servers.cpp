#include "storage/servers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "storage/http_client.h"

namespace strata::testing {

std::string js_dir() {
  std::string dir = std::string(STRATA_SOURCE_DIR) + "/tests/js";
  if (!std::filesystem::exists(dir + "/node_modules/s3rver")) {
    throw std::runtime_error("tests/js/node_modules is missing: run scripts/bootstrap.sh (npm ci)");
  }
  return dir;
}

NodeProcess::NodeProcess(const std::vector<std::string>& node_flags, const std::string& script,
                         const std::vector<std::string>& args) {
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> argv_s = {"node"};
  argv_s.insert(argv_s.end(), node_flags.begin(), node_flags.end());
  argv_s.push_back(script);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    setenv("NODE_NO_WARNINGS", "1", 1);
    execvp("node", argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  stdin_fd_ = in_pipe[1];
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (line.find('\n') == std::string::npos) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    pollfd p{out_pipe[0], POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) break;
    char buf[256];
    ssize_t n = read(out_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  if (line.rfind("LISTENING ", 0) != 0) {
    kill_now();
    throw std::runtime_error("node " + script + " did not start: \"" + line + "\"");
  }
  port_ = std::stoi(line.substr(10));
}

void NodeProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    // Give it a moment to close cleanly, then make sure.
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      usleep(20000);
    }
    kill_now();
  }
  if (stdin_fd_ >= 0) close(stdin_fd_);
}

S3Servers::S3Servers(bool with_proxy, bool verify, const std::string& cert,
                     const std::string& key) {
  std::string js = js_dir();
  std::vector<std::string> args = {"--dir",        dir.path() + "/s3rver",
                                   "--bucket",     kBucket,
                                   "--access-key", kAccessKey,
                                   "--secret",     kSecretKey};
  if (!cert.empty()) {
    args.insert(args.end(), {"--cert", cert, "--key", key});
  }
  s3rver = std::make_unique<NodeProcess>(std::vector<std::string>{"--openssl-legacy-provider"},
                                         js + "/s3rver.js", args);
  if (with_proxy) {
    std::vector<std::string> pargs = {"--upstream", "127.0.0.1:" + std::to_string(s3rver->port())};
    if (verify) {
      pargs.push_back("--verify");
      pargs.push_back(std::string(kAccessKey) + ":" + kSecretKey);
    }
    proxy = std::make_unique<NodeProcess>(std::vector<std::string>{}, js + "/proxy.js", pargs);
  }
}

std::string S3Servers::direct_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(s3rver->port());
}

std::string S3Servers::endpoint() const {
  return proxy ? "http://127.0.0.1:" + std::to_string(proxy->port()) : direct_endpoint();
}

S3Config S3Servers::config() const {
  S3Config c;
  c.endpoint = endpoint();
  c.bucket = kBucket;
  c.access_key_id = kAccessKey;
  c.secret_access_key = kSecretKey;
  c.backoff_base = std::chrono::milliseconds(10);
  c.backoff_cap = std::chrono::milliseconds(100);
  c.connect_timeout = std::chrono::milliseconds(2000);
  c.stall_timeout = std::chrono::milliseconds(3000);
  c.call_timeout = std::chrono::milliseconds(20000);
  return c;
}

std::string S3Servers::proxy_control(const std::string& what) const {
  if (!proxy) throw std::runtime_error("no proxy");
  storage::HttpClient http(storage::HttpOptions{});
  storage::HttpRequest req;
  req.method = "GET";
  req.url = "http://127.0.0.1:" + std::to_string(proxy->port()) + "/__proxy/" + what;
  auto res = http.perform(req, std::chrono::steady_clock::now() + std::chrono::seconds(10), 1);
  if (res.transport != storage::Transport::kOk || res.response.status != 200) {
    throw std::runtime_error("proxy control " + what + " failed: " + res.error);
  }
  return res.response.body;
}

uint64_t S3Servers::proxy_stat(const std::string& name) const {
  return nlohmann::json::parse(proxy_control("stats")).at(name).get<uint64_t>();
}

}  // namespace strata::testing
