// Time bounds for libgit2's network I/O. libgit2 1.5 has no connect or I/O
// timeout option (GIT_OPT_SET_SERVER_TIMEOUT arrived in 1.7), and a server
// that accepts a connection and then says nothing would block a fetch or
// push forever. So strata registers its own socket stream: every connect,
// read and write polls against the deadline of the DeadlineScope active on
// the calling thread, and fails with "timed out" once it has passed.
//
// Covered: git://, http:// and https:// (libgit2's TLS stream wraps this
// socket stream), and the TCP connect of ssh://. Not covered: DNS resolution
// (getaddrinfo is bounded by the resolver's own timeouts) and a stall inside
// an established SSH session, which libssh2 waits out on its own; transfer
// progress callbacks also stop at the deadline, which catches slow transfers.
// Without an active scope (libgit2 used by someone else in the process) the
// stream blocks like libgit2's own.
#pragma once

#include <chrono>

namespace strata::git {

class DeadlineScope {
 public:
  explicit DeadlineScope(std::chrono::milliseconds budget);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

  bool expired() const { return std::chrono::steady_clock::now() >= deadline_; }
  // Milliseconds left, at least 0, for poll().
  int remaining_ms() const;
  // Set when a socket call or a callback gave up because of the deadline, so
  // the caller can report kTimeout rather than a generic git error.
  bool timed_out() const { return timed_out_; }
  void mark_timed_out() { timed_out_ = true; }

 private:
  std::chrono::steady_clock::time_point deadline_;
  bool timed_out_ = false;
  DeadlineScope* previous_;
};

// The scope active on this thread, or nullptr.
DeadlineScope* current_deadline();

// Registers the stream for GIT_STREAM_STANDARD. Called once by ensure_libgit2().
void install_deadline_stream();

}  // namespace strata::git
