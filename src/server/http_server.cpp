#include "server/http_server.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "common/thread_annotations.h"
#include "server/connection_pool.h"
#include "server/connection_stream.h"
#include "server/entry_json.h"
#include "server/event_loop.h"
#include "server/routes.h"
#include "strata/hash.h"

namespace strata::server {

namespace {

using Clock = std::chrono::steady_clock;

// When the current request's headers were read (for the duration metric).
thread_local std::optional<Clock::time_point> t_started;

bool has_body(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  const std::string len = req.get_header_value("Content-Length");
  return !len.empty() && len != "0";
}

}  // namespace

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidPath:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kEntryTooLarge:
      return 413;
    case ErrorCode::kGitConflict:
      return 409;
    case ErrorCode::kWalStopped:
    case ErrorCode::kWalClosed:
    case ErrorCode::kStorageUnavailable:
      return 503;
    case ErrorCode::kDiskPressureCritical:
    case ErrorCode::kDiskFull:
      return 507;
    case ErrorCode::kTimeout:
      return 504;
    case ErrorCode::kStorageNotFound:
    case ErrorCode::kStorageAccessDenied:
    case ErrorCode::kStorageBadCredentials:
    case ErrorCode::kStorageThrottled:
    case ErrorCode::kStorageNetwork:
    case ErrorCode::kStorageServerError:
    case ErrorCode::kStorageIntegrity:
    case ErrorCode::kStoragePreconditionFailed:
    case ErrorCode::kStorageRejected:
    case ErrorCode::kGitError:
      return 502;
    default:
      return 500;
  }
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message) {
  res.status = status;
  res.set_content(error_body(code, message), "application/json");
}

void send_error(httplib::Response& res, const Error& e) {
  send_error(res, http_status(e.code()), e.code_name(), e.what());
}

void send_error_and_close(httplib::Response& res, int status, std::string_view code,
                          std::string_view message) {
  // cpp-httplib 0.11 keeps a connection open after any answer it wrote in
  // full; a content provider that reports failure after writing everything
  // makes it close the socket instead, so the unread rest of the request
  // can never be taken for the next one.
  auto body = std::make_shared<std::string>(error_body(code, message));
  res.status = status;
  res.set_header("Connection", "close");
  res.set_content_provider(body->size(), "application/json",
                           [body](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(body->data() + offset, length);
                             return false;
                           });
}

// httplib::Server as the parser and router of the connections the event
// loop hands over, each served over a ConnectionStream (connection_stream.h
// says why). httplib binds the socket; its accept loop is not used.
class HttpServer::Listener : public httplib::Server {
 public:
  explicit Listener(const HttpLimits& limits) : limits_(limits) {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw_errno("cannot create the HTTP server's stop event", "eventfd", errno);
  }
  ~Listener() override {
    close_listen_socket();
    ::close(stop_fd_);
  }

  // A deeper listen backlog than the 5 httplib uses, so a burst of connects
  // is accepted instead of retried after a second; non-blocking for the
  // event loop's accept4.
  int prepare_listen_socket() {
    const int fd = svr_sock_;
    ::listen(fd, 256);
    const int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    return fd;
  }
  void close_listen_socket() {
    const int fd = svr_sock_.exchange(INVALID_SOCKET);
    if (fd != INVALID_SOCKET) ::close(fd);
  }
  // Serves fd (preread: what the event loop already received of it) until
  // it closes; running() false ends it between requests.
  void serve(int fd, std::string_view preread) {
    serve_connection(
        fd, limits_.read_timeout, limits_.write_timeout, limits_.idle_timeout,
        keep_alive_max_count_, stop_fd_, [this] { return running_.load(); },
        [this](httplib::Stream& strm, bool close_connection, bool& connection_closed) {
          return process_one(strm, close_connection, connection_closed);
        },
        preread);
  }
  void stop_serving() { running_ = false; }
  bool process_one(httplib::Stream& strm, bool close_connection, bool& connection_closed) {
    return process_request(strm, close_connection, connection_closed, nullptr);
  }
  // Wakes the connections waiting for their next request, so they close now
  // instead of after the idle timeout; requests in progress are not touched.
  void wake_idle() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
  }

 private:
  const HttpLimits limits_;
  int stop_fd_ = -1;
  std::atomic<bool> running_{true};
};

HttpServer::HttpServer(HttpLimits limits, std::string token, Metrics& metrics)
    : limits_(limits), token_(std::move(token)), metrics_(metrics) {
  server_ = std::make_unique<Listener>(limits_);
  const auto read_s = std::chrono::duration_cast<std::chrono::seconds>(limits_.read_timeout);
  const auto read_us =
      std::chrono::duration_cast<std::chrono::microseconds>(limits_.read_timeout - read_s);
  server_->set_read_timeout(read_s.count(), read_us.count());
  const auto write_s = std::chrono::duration_cast<std::chrono::seconds>(limits_.write_timeout);
  const auto write_us =
      std::chrono::duration_cast<std::chrono::microseconds>(limits_.write_timeout - write_s);
  server_->set_write_timeout(write_s.count(), write_us.count());
  server_->set_keep_alive_max_count(1000000);
  server_->set_payload_max_length(limits_.max_body_bytes);
  server_->set_tcp_nodelay(true);
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return before_routing(req, res);
  });
  server_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // Only answers httplib made itself (no route, unreadable request) come
    // here without a body; ours already carry their JSON.
    if (!res.body.empty() || res.content_provider_) return;
    if (res.status == 404) {
      res.set_content(error_body("NOT_FOUND", fmt::format("no route {} (see docs/api.md)",
                                                          req.path.substr(0, 200))),
                      "application/json");
      return;
    }
    res.set_content(error_body(res.status == 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST",
                               fmt::format("the request was refused (HTTP {})", res.status)),
                    "application/json");
  });
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        try {
          std::rethrow_exception(ep);
        } catch (const Error& e) {
          send_error(res, e);
        } catch (const std::exception& e) {
          send_error(res, 500, "INTERNAL", e.what());
        }
      });
  server_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    after_response(req, res);
  });
}

HttpServer::~HttpServer() {
  stop();
}

httplib::Server& HttpServer::routes() {
  return *server_;
}

httplib::Server::HandlerResponse HttpServer::before_routing(const httplib::Request& req,
                                                            httplib::Response& res) {
  using R = httplib::Server::HandlerResponse;
  t_started = Clock::now();
  if (ConnectionPool::shedding()) {
    res.set_header("Retry-After", "1");
    send_error_and_close(res, 503, "OVERLOADED",
                         fmt::format("too many connections (STRATA_MAX_CONNECTIONS={}); retry",
                                     limits_.max_connections));
    return R::Handled;
  }
  if (!token_.empty() && req.path != "/healthz") {
    const std::string given = req.get_header_value("Authorization");
    constexpr std::string_view kScheme = "Bearer ";
    // Compare digests, so neither the token's length nor the position of the
    // first wrong byte shows in the time taken.
    const Sha256Digest want = sha256(token_);
    const Sha256Digest got =
        sha256(given.starts_with(kScheme) ? std::string_view(given).substr(kScheme.size())
                                          : std::string_view("\x01not-a-token"));
    if (CRYPTO_memcmp(want.data(), got.data(), want.size()) != 0) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"strata\"");
      send_error_and_close(res, 401, "UNAUTHORIZED",
                           given.empty() ? "this route needs Authorization: Bearer <STRATA_TOKEN>"
                                         : "wrong bearer token");
      return R::Handled;
    }
  }
  const std::string_view route = route_label(req.path);
  if (route != "other" && !method_allowed(route, req.method)) {
    res.set_header("Allow", allowed_methods(route));
    send_error_and_close(res, 405, "METHOD_NOT_ALLOWED",
                         fmt::format("{} does not take {}; it takes {}", route,
                                     req.method.substr(0, 20), allowed_methods(route)));
    return R::Handled;
  }
  if (req.method == "POST") {
    const std::string len = req.get_header_value("Content-Length");
    if (!len.empty()) {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
      if (ec != std::errc() || end != len.data() + len.size()) {
        send_error_and_close(res, 400, "BAD_REQUEST", "Content-Length is not a number");
        return R::Handled;
      }
      if (n > limits_.max_body_bytes) {
        send_error_and_close(res, 413, "PAYLOAD_TOO_LARGE",
                             fmt::format("the body has {} bytes; STRATA_MAX_BODY_BYTES is {}", n,
                                         limits_.max_body_bytes));
        return R::Handled;
      }
    }
  } else if (has_body(req)) {
    send_error_and_close(res, 400, "BAD_REQUEST",
                         fmt::format("a {} request carries no body", req.method));
    return R::Handled;
  }
  return R::Unhandled;
}

std::optional<std::string> HttpServer::read_body(const httplib::Request& req,
                                                 httplib::Response& res,
                                                 const httplib::ContentReader& reader) const {
  std::string body;
  // Without Content-Length or chunked encoding a request has no body.
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) return body;
  bool too_large = false;
  bool too_slow = false;
  const auto deadline = Clock::now() + limits_.read_timeout;
  const bool ok = reader([&](const char* data, size_t length) {
    if (body.size() + length > limits_.max_body_bytes) {
      too_large = true;
      return false;
    }
    if (Clock::now() > deadline) {
      too_slow = true;
      return false;
    }
    body.append(data, length);
    return true;
  });
  if (too_large) {
    send_error_and_close(
        res, 413, "PAYLOAD_TOO_LARGE",
        fmt::format("the body is larger than STRATA_MAX_BODY_BYTES ({})", limits_.max_body_bytes));
    return std::nullopt;
  }
  if (too_slow) {
    send_error_and_close(res, 408, "REQUEST_TIMEOUT",
                         fmt::format("the body did not arrive within STRATA_READ_TIMEOUT_MS ({})",
                                     limits_.read_timeout.count()));
    return std::nullopt;
  }
  if (!ok) {
    send_error_and_close(res, 400, "BAD_REQUEST",
                         "the body could not be read (cut short, malformed chunks, or slower "
                         "than STRATA_READ_TIMEOUT_MS)");
    return std::nullopt;
  }
  return body;
}

void HttpServer::after_response(const httplib::Request& req, const httplib::Response& res) {
  const std::string_view route = route_label(req.path);
  double seconds = 0;
  if (t_started) {
    seconds = std::chrono::duration<double>(Clock::now() - *t_started).count();
    t_started.reset();
  }
  const std::string method = req.method.empty() ? "?" : req.method;
  metrics_.count_request(route, method, res.status, seconds);
  const auto level = res.status >= 500   ? spdlog::level::warn
                     : res.status >= 400 ? spdlog::level::info
                                         : spdlog::level::debug;
  if (spdlog::should_log(level)) {
    spdlog::log(level, "http {} {} {} {:.1f} ms from {}", method, req.path.substr(0, 200),
                res.status, seconds * 1000, req.remote_addr);
  }
}

bool HttpServer::process(httplib::Stream& strm, bool close_connection, bool& connection_closed) {
  return server_->process_one(strm, close_connection, connection_closed);
}

void HttpServer::bind(const ListenAddress& address) {
  const bool ok = address.port == 0 ? (port_ = server_->bind_to_any_port(address.host)) > 0
                                    : server_->bind_to_port(address.host, address.port);
  if (!ok) {
    throw Error(ErrorCode::kIoError,
                fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                            address.host, address.port));
  }
  if (address.port != 0) port_ = address.port;
}

void HttpServer::start() {
  pool_ = std::make_unique<ConnectionPool>(limits_.max_connections);
  EventLoop::Hooks hooks;
  hooks.hand_over = [this](int fd, std::string preread) {
    pool_->enqueue([this, fd, pre = std::move(preread)] { server_->serve(fd, pre); });
  };
  hooks.shed = [this](int fd) {
    if (!pool_->shed_on_thread([this, fd] { server_->serve(fd, {}); })) {
      // Every shedding thread busy: the loop must not wait, so no answer.
      ::close(fd);
    }
  };
  hooks.busy_elsewhere = [this] { return pool_->busy(); };
  loop_ = std::make_unique<EventLoop>(server_->prepare_listen_socket(), limits_, token_, metrics_,
                                      wal_, std::move(hooks));
  loop_->start();
}

void HttpServer::stop() {
  if (!loop_) return;
  // Connections of the other path waiting for a next request close now;
  // those in a request finish it (a handed-over one its first).
  server_->stop_serving();
  server_->wake_idle();
  loop_->stop();
  pool_->shutdown();
  server_->close_listen_socket();
  loop_.reset();
  pool_.reset();
}

}  // namespace strata::server
