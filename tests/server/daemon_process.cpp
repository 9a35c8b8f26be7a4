#include "server/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "storage/servers.h"
#include "support/temp_dir.h"

namespace strata::testing {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> env_strings(const Env& env) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Forks and execs `strata args` with exactly env; stdout/stderr to files.
pid_t spawn_strata(const std::vector<std::string>& args, const Env& env, const std::string& out,
                   const std::string& err) {
  std::vector<std::string> argv_s = {STRATA_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = env_strings(env);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string slurp(const std::string& path) {
  try {
    return read_file(path);
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace

Env base_env(const std::string& home, const Env& extra) {
  fs::create_directories(home);
  Env env = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"HOME", home},
      {"XDG_CONFIG_HOME", home + "/.config"},
      {"GIT_CONFIG_NOSYSTEM", "1"},
      {"GIT_TERMINAL_PROMPT", "0"},
      {"WAL_MIN_FREE_BYTES", "0"},
      {"WAL_RESUME_FREE_BYTES", "0"},
      {"STRATA_LISTEN", "127.0.0.1:0"},
  };
  // The sanitizer builds tell children where to write their reports.
  for (const char* v :
       {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"}) {
    if (const char* value = std::getenv(v)) env[v] = value;
  }
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

int run_strata(const std::vector<std::string>& args, const Env& env, std::string* out,
               std::string* err) {
  TempDir tmp;
  pid_t pid = spawn_strata(args, env, tmp / "out", tmp / "err");
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out) *out = slurp(tmp / "out");
  if (err) *err = slurp(tmp / "err");
  return decode_status(status);
}

DaemonProcess::DaemonProcess(std::string dir, Env env, std::vector<std::string> serve_args)
    : dir_(std::move(dir)),
      data_(dir_ + "/data"),
      home_(dir_ + "/home"),
      env_(base_env(home_, env)),
      args_(std::move(serve_args)) {}

DaemonProcess::~DaemonProcess() {
  kill9();
}

void DaemonProcess::spawn() {
  std::vector<std::string> args = {"--data-dir", data_, "serve"};
  args.insert(args.end(), args_.begin(), args_.end());
  std::error_code ec;  // a read-only data directory refuses even the unlink of nothing
  fs::remove(data_ + "/serve.json", ec);
  exit_code_ = -1;
  if (keep_boot_logs_ && boots_ > 0 && fs::exists(dir_ + "/serve.log")) {
    fs::create_directories(boot_log_dir());
    fs::rename(dir_ + "/serve.log", fmt::format("{}/boot-{:05}.log", boot_log_dir(), boots_));
  }
  boots_++;
  pid_ = spawn_strata(args, env_, dir_ + "/serve.out", dir_ + "/serve.log");
}

std::string DaemonProcess::boot_log(int n) const {
  return n == boots_ ? dir_ + "/serve.log" : fmt::format("{}/boot-{:05}.log", boot_log_dir(), n);
}

void DaemonProcess::start() {
  launch();
  wait_ready();
}

void DaemonProcess::launch() {
  spawn();
}

void DaemonProcess::wait_ready() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) {
      throw std::runtime_error("strata serve exited with " + std::to_string(exit_code_) + ":\n" +
                               log());
    }
    const std::string info = slurp(data_ + "/serve.json");
    if (!info.empty()) {
      auto j = nlohmann::json::parse(info, nullptr, false);
      if (!j.is_discarded() && j.value("pid", 0) == pid_) {
        const std::string url = j["url"];
        port_ = std::stoi(url.substr(url.rfind(':') + 1));
        auto c = client();
        auto r = c->Get("/readyz");
        if (r && r->status == 200) return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("strata serve was not ready within 60 s:\n" + log());
}

int DaemonProcess::run_to_exit(std::chrono::seconds timeout) {
  spawn();
  return wait_exit(timeout);
}

std::unique_ptr<httplib::Client> DaemonProcess::client(bool with_token) const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_keep_alive(true);
  c->set_connection_timeout(std::chrono::seconds(10));
  c->set_read_timeout(std::chrono::seconds(60));
  c->set_write_timeout(std::chrono::seconds(60));
  auto token = env_.find("STRATA_TOKEN");
  if (with_token && token != env_.end()) c->set_bearer_token_auth(token->second);
  return c;
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_code_ = decode_status(status);
    pid_ = -1;
    return false;
  }
  return true;
}

void DaemonProcess::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int DaemonProcess::wait_exit(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

void DaemonProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_code_ = decode_status(status);
  pid_ = -1;
}

std::string DaemonProcess::log() const {
  return slurp(dir_ + "/serve.log");
}
std::string DaemonProcess::out() const {
  return slurp(dir_ + "/serve.out");
}

void expect_read_commands_work(const std::string& home, const std::string& data_dir, uint64_t seq,
                               const std::string& data) {
  const Env env = base_env(home, {{"DATA_DIR", data_dir}});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status"}, {"verify"}, {"replay"}}) {
    std::string out, err;
    EXPECT_EQ(run_strata(args, env, &out, &err), 0)
        << data_dir << ": " << args[0] << ": " << out << err;
  }
  std::string out, err;
  ASSERT_EQ(run_strata({"get", std::to_string(seq)}, env, &out, &err), 0)
      << data_dir << ": " << out << err;
  EXPECT_NE(out.find(data), std::string::npos) << out;
}

Reply get(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path);
  EXPECT_TRUE(r) << "GET " << path << ": " << httplib::to_string(r.error());
  if (!r) return {};
  return {r->status, r->body};
}

Reply post(httplib::Client& c, const std::string& path, const std::string& body) {
  auto r = c.Post(path, body, "application/json");
  EXPECT_TRUE(r) << "POST " << path << ": " << httplib::to_string(r.error());
  if (!r) return {};
  return {r->status, r->body};
}

std::string entry_body(const std::string& path, const std::string& data, const std::string& op) {
  nlohmann::json j = {{"type", "bead"}, {"op", op}, {"path", path}};
  if (op != "delete") j["data"] = data;
  return j.dump();
}

nlohmann::json tier(httplib::Client& c, const std::string& name) {
  auto status = get(c, "/v1/status").json();
  for (const auto& t : status["tiers"]) {
    if (t["name"] == name) return t;
  }
  ADD_FAILURE() << "no tier " << name;
  return {};
}

std::unique_ptr<NodeProcess> start_s3rver(const std::string& dir, int port) {
  std::vector<std::string> args = {"--dir",        dir,        "--bucket", kBucket,
                                   "--access-key", kAccessKey, "--secret", kSecretKey};
  if (port) args.insert(args.end(), {"--port", std::to_string(port)});
  return std::make_unique<NodeProcess>(std::vector<std::string>{"--openssl-legacy-provider"},
                                       js_dir() + "/s3rver.js", args);
}

Env s3_env(int port) {
  return {{"R2_ENDPOINT", fmt::format("http://127.0.0.1:{}", port)},
          {"R2_BUCKET", kBucket},
          {"R2_ACCESS_KEY_ID", kAccessKey},
          {"R2_SECRET_ACCESS_KEY", kSecretKey},
          {"R2_CONNECT_TIMEOUT_MS", "1000"},
          {"R2_STALL_TIMEOUT_MS", "2000"},
          {"R2_TIMEOUT_MS", "3000"},
          {"SYNC_INTERVAL_MS", "200"},
          {"SYNC_MANIFEST_MIN_INTERVAL_MS", "0"},
          {"GIT_SYNC_INTERVAL_MS", "200"},
          {"STRATA_BREAKER_FAILURES", "3"},
          {"STRATA_BREAKER_RESET_MS", "1500"},
          // The S3 client's own breaker, under the tier's (default 5 min).
          {"R2_BREAKER_RESET_MS", "1500"}};
}

}  // namespace strata::testing
