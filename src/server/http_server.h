// The daemon's HTTP listener: cpp-httplib with the limits the API promises.
//  - A bearer token (STRATA_TOKEN), compared in constant time, on every route
//    but /healthz; a refused request's body is never read.
//  - At most STRATA_MAX_CONNECTIONS connections are served at once; one more
//    is answered 503 and closed at once instead of waiting for a worker.
//  - A body over STRATA_MAX_BODY_BYTES is answered 413 (from Content-Length
//    before reading, or as soon as a chunked body passes the limit), a
//    client sending nothing for STRATA_READ_TIMEOUT_MS, or not its whole body
//    within it, is cut off, a client taking no part of a response for
//    STRATA_WRITE_TIMEOUT_MS is cut off, and an idle keep-alive connection is
//    closed after STRATA_IDLE_TIMEOUT_MS.
//  - Every error is JSON ({"error": {"code", "message"}}) and a response
//    after which the request's bytes can no longer be trusted (a refused or
//    unread body) closes the connection.
// Requests are counted by route, method and status in Metrics.
// Connections are accepted by an event loop (event_loop.h) that answers
// appends itself and hands every other request, with its connection, to a
// thread-per-connection path under cpp-httplib's parser and router.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/metrics.h"
#include "strata/error.h"
#include "strata/server.h"
#include "strata/wal.h"

namespace strata::server {

class ConnectionPool;
class EventLoop;

struct HttpLimits {
  uint32_t max_connections = 64;
  uint64_t max_body_bytes = 32ull << 20;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds idle_timeout{5000};
};

// The status an Error maps to (400 bad input, 404, 413, 503 stopped, 507
// disk pressure, 502 a remote failed, 504 timeout, 500 otherwise).
int http_status(ErrorCode code);

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message);
void send_error(httplib::Response& res, const Error& e);
// Sends the response and then closes the connection (used when the rest of
// the request was not read).
void send_error_and_close(httplib::Response& res, int status, std::string_view code,
                          std::string_view message);

class HttpServer {
 public:
  HttpServer(HttpLimits limits, std::string token, Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes are registered on it before start().
  httplib::Server& routes();
  // Where the event loop appends POST /v1/entries (set before start();
  // without it every request takes httplib's path).
  void set_wal(Wal* wal) { wal_ = wal; }
  // The body of a POST, read within the limits; nullopt after answering
  // 413, 408 or 400 (the connection is then closed).
  std::optional<std::string> read_body(const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& reader) const;

  // One request read from strm through cpp-httplib's parser, this server's
  // checks and the routes, its answer written to strm: what each request of
  // a connection goes through, without the socket (the HTTP fuzz target).
  // close_connection: answer as the connection's last request; returns
  // httplib's result (false: the rest of strm cannot be trusted).
  bool process(httplib::Stream& strm, bool close_connection, bool& connection_closed);

  // Binds the address (port 0: a free one). Throws kIoError naming it.
  void bind(const ListenAddress& address);
  int port() const { return port_; }
  // Accepts on the event loop's thread from now on.
  void start();
  // Stops accepting, lets every request in progress finish and be answered,
  // closes the keep-alive connections waiting for their next request, and
  // returns once the workers are done.
  void stop();

 private:
  class Listener;
  httplib::Server::HandlerResponse before_routing(const httplib::Request& req,
                                                  httplib::Response& res);
  void after_response(const httplib::Request& req, const httplib::Response& res);

  const HttpLimits limits_;
  const std::string token_;
  Metrics& metrics_;
  std::unique_ptr<Listener> server_;
  Wal* wal_ = nullptr;
  int port_ = 0;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<EventLoop> loop_;
};

}  // namespace strata::server
