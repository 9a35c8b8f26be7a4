// The transport of one HTTP connection under cpp-httplib's parser and router,
// in place of httplib's own SocketStream (HttpServer hands every connection
// the event loop does not keep to serve_connection()). What the parser sees is the same byte
// stream; what changes is the number of system calls and wake-ups per
// request, which on a small machine is what bounds appends over HTTP (see
// docs/performance.md, "Appends over HTTP"):
//  - httplib polls before every recv and send (and once more with a
//    zero-length peek before each send), sends a response's header block and
//    body as two segments (two wake-ups of the client), re-reads the peer and
//    local address (getpeername, getsockname) for every request, and waits
//    between keep-alive requests in 10 ms polls with 1 ms sleeps;
//  - here a read first tries a non-blocking recv into a per-connection
//    buffer and polls only when nothing is there; a response is collected and
//    sent with one send() when its request is done (or in pieces of
//    kFlushBytes while a large one streams); the addresses are read once per
//    connection; the keep-alive wait is one poll, which stop() also wakes.
// Timeouts keep httplib's meaning: each wait for the peer (to send more of a
// request, or to take more of a response) is bounded by the read or write
// timeout, and a timeout is an error that ends the connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

namespace strata::server {

class ConnectionStream final : public httplib::Stream {
 public:
  // Writes are sent once this many bytes are waiting, so a streamed response
  // never sits whole in memory.
  static constexpr size_t kFlushBytes = 64 << 10;

  // preread: bytes of the connection already received (by the event loop,
  // which hands a connection over with what it buffered); read first.
  ConnectionStream(int fd, std::chrono::milliseconds read_timeout,
                   std::chrono::milliseconds write_timeout, std::string_view preread = {});
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  bool is_readable() const override;
  // False once a send has failed; a response in progress then stops early.
  bool is_writable() const override;
  // Up to size bytes; 0 at the peer's end of stream; -1 on an error or when
  // nothing arrived within the read timeout. Sends what is waiting before it
  // blocks, so a client waiting for an answer (100 Continue) gets it.
  ssize_t read(char* ptr, size_t size) override;
  // Collects the bytes (all of them, or -1 after a failed send).
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return fd_; }

  // Sends everything collected. False if the peer is gone or took nothing
  // within the write timeout (the connection must then be closed).
  bool flush();

  enum class Next { kRequest, kIdle, kStopping };
  // Waits for the next request's first bytes: kRequest when there are some
  // (or the peer closed: the read will tell), kIdle when none came within
  // idle, kStopping when stop_fd became readable first.
  Next wait_for_request(std::chrono::milliseconds idle, int stop_fd);

 private:
  // Waits until fd_ is ready for events; false on a timeout or a poll error.
  bool wait(short events, std::chrono::milliseconds timeout) const;
  // Reads what the socket holds into the buffer; the read()'s result codes.
  ssize_t fill();
  bool send_all(const char* data, size_t size);

  const int fd_;
  const std::chrono::milliseconds read_timeout_;
  const std::chrono::milliseconds write_timeout_;
  std::vector<char> in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  std::string out_;
  bool failed_ = false;
  std::string remote_ip_;
  int remote_port_ = 0;
  std::string local_ip_;
  int local_port_ = 0;
};

// Serves one accepted connection until the peer closes it, it stays idle
// past idle_timeout, a request says close (or was refused in a way that
// leaves its bytes untrusted: process returns false), max_requests were
// served, stop_fd becomes readable between requests or running() turns
// false; then closes fd. process is httplib's Server::process_request for
// one request on the stream (close_connection: this is the last one).
// preread: the start of the connection's next request, already received;
// that request is served even when running() is already false (it was in
// progress when the server began to stop). Returns the last request's result.
bool serve_connection(int fd, std::chrono::milliseconds read_timeout,
                      std::chrono::milliseconds write_timeout,
                      std::chrono::milliseconds idle_timeout, size_t max_requests, int stop_fd,
                      const std::function<bool()>& running,
                      const std::function<bool(httplib::Stream&, bool close_connection,
                                               bool& connection_closed)>& process,
                      std::string_view preread = {});

}  // namespace strata::server
