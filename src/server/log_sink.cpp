#include "server/log_sink.h"

#include <cerrno>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "strata/error.h"

namespace strata::server {

std::string utc_time_text(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

namespace {

// One event is one line: control characters (a newline in a message that
// quotes user input) are escaped.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

FILE* open_log(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) throw_errno("opening LOG_FILE", path, errno);
  return f;
}

}  // namespace

LineSink::LineSink(bool json, std::string path) : json_(json), path_(std::move(path)) {
  out_ = path_.empty() ? stderr : open_log(path_);
}

LineSink::~LineSink() {
  if (out_ && out_ != stderr) std::fclose(out_);
}

void LineSink::reopen() {
  if (path_.empty()) return;
  std::lock_guard lock(mutex_);
  FILE* f = std::fopen(path_.c_str(), "ae");
  if (!f) return;
  std::fclose(out_);
  out_ = f;
}

void LineSink::sink_it_(const spdlog::details::log_msg& msg) {
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  const auto level_name = spdlog::level::to_string_view(msg.level);
  const std::string_view level(level_name.data(), level_name.size());
  std::string line;
  if (json_) {
    nlohmann::json j = {{"time", utc_time_text(msg.time)},
                        {"level", std::string(level.data(), level.size())},
                        {"msg", std::string(payload)}};
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = fmt::format("{} {} {}", utc_time_text(msg.time), level, one_line(payload));
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

void LineSink::flush_() {
  std::fflush(out_);
}

std::shared_ptr<LineSink> install_log(bool json, const std::string& path,
                                      const std::string& level) {
  auto sink = std::make_shared<LineSink>(json, path);
  auto logger = std::make_shared<spdlog::logger>("strata", sink);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return sink;
}

}  // namespace strata::server
