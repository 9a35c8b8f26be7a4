#include "cli/log_sink.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "strata/utf8.h"

namespace strata::cli {

namespace {

// Held lines beyond this are written out oldest first: a long run must not
// grow without bound, and by then the lines are news rather than noise.
constexpr size_t kMaxHeld = 256;

class CliSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void set_mode(LogMode m) {
    std::lock_guard lock(mutex_);
    mode_ = m;
    if (m == LogMode::kLive) write_held();
  }
  void release() {
    std::lock_guard lock(mutex_);
    write_held();
  }
  void drop() {
    std::lock_guard lock(mutex_);
    held_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string payload =
        escape_for_display(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg escaped = msg;
    escaped.payload = payload;
    spdlog::memory_buf_t buf;
    formatter_->format(escaped, buf);
    std::string line(buf.data(), buf.size());
    if (mode_ == LogMode::kLive) {
      std::fwrite(line.data(), 1, line.size(), stderr);
      return;
    }
    held_.push_back(std::move(line));
    if (held_.size() > kMaxHeld) {
      std::fwrite(held_.front().data(), 1, held_.front().size(), stderr);
      held_.erase(held_.begin());
    }
  }
  void flush_() override { std::fflush(stderr); }

 private:
  void write_held() {
    for (const auto& l : held_) std::fwrite(l.data(), 1, l.size(), stderr);
    held_.clear();
    std::fflush(stderr);
  }

  LogMode mode_ = LogMode::kDeferred;
  std::vector<std::string> held_;
};

std::shared_ptr<CliSink>& sink() {
  static std::shared_ptr<CliSink> s = std::make_shared<CliSink>();
  return s;
}

}  // namespace

void install_log_sink(bool verbose) {
  auto logger = std::make_shared<spdlog::logger>("strata", sink());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbose ? spdlog::level::info : spdlog::level::warn);
  sink()->set_mode(verbose ? LogMode::kLive : LogMode::kDeferred);
}

void set_log_mode(LogMode mode) {
  sink()->set_mode(mode);
}

void release_logs() {
  sink()->release();
}

void drop_logs() {
  sink()->drop();
}

}  // namespace strata::cli
