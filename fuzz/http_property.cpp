// check_http (properties.h).
#include <cstdlib>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "properties.h"
#include "property_support.h"
#include "server/daemon.h"

namespace strata::fuzz {

namespace {

constexpr std::string_view kToken = "fuzz-token";

// One connection's bytes in memory: reads come from the input, writes are
// collected. read() returns 0 at the end, as a socket at the peer's close.
class MemoryStream final : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view in) : in_(in) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size() - pos_);
    std::copy_n(in_.data() + pos_, n, ptr);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

  bool at_end() const { return pos_ == in_.size(); }
  std::string take_output() { return std::exchange(out_, {}); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string out_;
};

// The daemon every input goes to: booted once per process on a data
// directory in the scratch directory, with the local stand-ins for the
// remotes and no timer-driven tier runs (a run comes only from a request).
server::Daemon* g_daemon = nullptr;

server::Daemon& daemon() {
  static server::Daemon* d = [] {
    spdlog::set_level(spdlog::level::off);  // a line per refused request otherwise
    ::setenv("WAL_SYNC", "none", 1);
    ::setenv("WAL_SEGMENT_BYTES", "1048576", 1);
    const std::string dir = scratch_dir() + "/http";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    server::ServerOptions o = server::ServerOptions::from_env(dir);
    o.token = std::string(kToken);
    o.max_body_bytes = 1 << 20;
    o.sync_interval = o.git_interval = o.compact_check = std::chrono::hours(24);
    o.remote_wait = std::chrono::milliseconds(2000);
    g_daemon = new server::Daemon(std::move(o), nullptr);
    g_daemon->boot_in_process();
    // Stopped (tier threads joined, WAL closed) before the scratch directory
    // is removed: atexit runs in reverse order, and scratch_dir() was first.
    std::atexit([] { g_daemon->stop_in_process(); });
    return g_daemon;
  }();
  return *d;
}

// "" or what is wrong with one answer.
std::string check_answer(std::string out) {
  // The interim answer to "Expect: 100-continue" comes first.
  constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  if (out.starts_with(kContinue)) out.erase(0, kContinue.size());
  if (out.empty()) return "";  // unreadable request line: httplib answers nothing
  if (!out.starts_with("HTTP/1.1 ") || out.size() < 12) {
    return fmt::format("not an HTTP answer: '{}'", out.substr(0, 40));
  }
  const int status = std::atoi(out.substr(9, 3).c_str());
  const size_t head_end = out.find("\r\n\r\n");
  if (head_end == std::string::npos) return "an answer without the end of its header";
  const std::string head = out.substr(0, head_end);
  const std::string body = out.substr(head_end + 4);
  const bool known = (status >= 200 && status < 300) || (status >= 400 && status < 500) ||
                     status == 501 || status == 502 || status == 503 || status == 504 ||
                     status == 507;
  if (!known) return fmt::format("answered {}: {}", status, body.substr(0, 300));
  if (status >= 400 && !body.empty()) {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("error") || !j["error"].is_object() ||
        !j["error"].value("code", nlohmann::json()).is_string() ||
        !j["error"].value("message", nlohmann::json()).is_string() ||
        j["error"]["message"].get<std::string>().empty()) {
      return fmt::format("answered {} without the JSON error shape: {}", status,
                         body.substr(0, 300));
    }
  }
  return "";
}

}  // namespace

std::string check_http(std::string_view input) {
  server::Daemon& d = daemon();
  MemoryStream strm(input);
  // A connection's requests, as serve_connection takes them (bounded, so a
  // pipelined input cannot loop long).
  for (int i = 0; i < 16 && !strm.at_end(); ++i) {
    bool closed = false;
    const bool ok = d.http().process(strm, false, closed);
    if (std::string p = check_answer(strm.take_output()); !p.empty()) {
      return fmt::format("request {}: {}", i + 1, p);
    }
    if (!ok || closed) break;
  }
  // Whatever came before, the daemon goes on serving.
  const std::string probe =
      fmt::format("GET /readyz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", kToken);
  MemoryStream again(probe);
  bool closed = false;
  d.http().process(again, true, closed);
  const std::string answer = again.take_output();
  if (!answer.starts_with("HTTP/1.1 200")) {
    return fmt::format("afterwards /readyz answers: {}", answer.substr(0, 300));
  }
  return "";
}

}  // namespace strata::fuzz
