// The daemon's log: one line per event with time (UTC, milliseconds) and
// level, as text or as a JSON object (LOG_FORMAT=json), to stderr or to
// LOG_FILE, which SIGHUP reopens so logrotate can move it away.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/sinks/base_sink.h>

namespace strata::server {

class LineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // path "" writes to stderr. Throws kIoError when the file cannot be opened.
  LineSink(bool json, std::string path);
  ~LineSink() override;
  // Closes and opens LOG_FILE again (no-op for stderr). Never throws: when the
  // file cannot be opened again, logs go on to the old descriptor.
  void reopen();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  const bool json_;
  const std::string path_;
  FILE* out_ = nullptr;
};

// "2026-12-01T10:00:00.123Z": a time as every log line and status output
// writes it.
std::string utc_time_text(std::chrono::system_clock::time_point t);

// Makes a LineSink the sink of spdlog's default logger at LOG_LEVEL and
// returns it (for SIGHUP).
std::shared_ptr<LineSink> install_log(bool json, const std::string& path, const std::string& level);

}  // namespace strata::server
