// A real `strata serve` as a child process for the daemon's tests: its own
// environment (only what the test gives, plus loopback on a free port and no
// free-space floor), its stdout and stderr in files, and an HTTP client.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace strata::testing {

using Env = std::map<std::string, std::string>;

// The environment every child gets: PATH, HOME, an isolated git, no
// free-space floor, STRATA_LISTEN=127.0.0.1:0. `extra` overrides.
Env base_env(const std::string& home, const Env& extra = {});

// Runs `strata ARGS` to completion; returns its exit code.
int run_strata(const std::vector<std::string>& args, const Env& env, std::string* out = nullptr,
               std::string* err = nullptr);

class DaemonProcess {
 public:
  // dir holds the data directory (dir/data), the logs and HOME.
  DaemonProcess(std::string dir, Env env = {}, std::vector<std::string> serve_args = {});
  ~DaemonProcess();  // SIGKILL if still running
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts it and waits until /readyz answers 200 (throws with its log when
  // it exits or is not ready within 60 s).
  void start();
  // start() in two halves, so a test can act (kill it) while it boots:
  // launch() only starts the process; wait_ready() is the rest of start().
  void launch();
  void wait_ready();
  // Starts it and waits for it to exit; returns the exit code.
  int run_to_exit(std::chrono::seconds timeout = std::chrono::seconds(60));

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // A keep-alive client with the token, if the test set STRATA_TOKEN.
  std::unique_ptr<httplib::Client> client(bool with_token = true) const;
  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit code, 128+signal if killed, -1 on timeout.
  int wait_exit(std::chrono::seconds timeout = std::chrono::seconds(60));
  void kill9();

  const std::string& data_dir() const { return data_; }
  const std::string& home() const { return home_; }
  const Env& env() const { return env_; }
  std::string log() const;  // everything it wrote to stderr (this boot)
  std::string out() const;  // and to stdout
  // From now on each boot's stderr is kept: starting the next one moves the
  // previous serve.log to boot_log(n) (n = 1, 2, ... in launch order, boots
  // killed while booting included) instead of overwriting it.
  void keep_boot_logs() { keep_boot_logs_ = true; }
  int boots() const { return boots_; }  // launches so far; the current is number boots()
  std::string boot_log_dir() const { return dir_ + "/boot-logs"; }
  // Boot n's log (the current boot's is serve.log until the next launch).
  std::string boot_log(int n) const;

 private:
  void spawn();
  std::string dir_;
  std::string data_;
  std::string home_;
  Env env_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
  bool keep_boot_logs_ = false;
  int boots_ = 0;
};

// GET/POST with a JSON body; fails the test on a transport error.
struct Reply {
  int status = 0;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};
Reply get(httplib::Client& c, const std::string& path);
Reply post(httplib::Client& c, const std::string& path, const std::string& body);

// An entry body: {"type":"bead","op":"create","path":path,"data":data}.
std::string entry_body(const std::string& path, const std::string& data,
                       const std::string& op = "create");

// `strata status`, `verify` and `replay` on data_dir exit 0, and `strata get
// seq` prints data (the read-only commands, which write nothing).
void expect_read_commands_work(const std::string& home, const std::string& data_dir, uint64_t seq,
                               const std::string& data);

// The tier `name` of GET /v1/status ("object", "git", "compaction").
nlohmann::json tier(httplib::Client& c, const std::string& name);

// Polls pred every 50 ms until it holds or timeout passes; returns whether it held.
template <typename Pred>
bool eventually(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

class NodeProcess;
// A real s3rver holding its data in dir, on port (0: a free one), with the
// storage tests' bucket and keys.
std::unique_ptr<NodeProcess> start_s3rver(const std::string& dir, int port);
// The daemon's environment for that s3rver: short timeouts, a sync and a Git
// archive every 200 ms, breakers (the tier's and the S3 client's) that open after 3
// failures for 1.5 s.
Env s3_env(int port);

}  // namespace strata::testing
