#include "sync/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

namespace strata::sync {

namespace {

struct Armed {
  std::string name;
  long countdown = 1;
};

Armed& armed() {
  static Armed a = [] {
    Armed out;
    const char* v = std::getenv("STRATA_SYNC_FAILPOINT");
    if (v == nullptr) return out;
    std::string_view s(v);
    size_t colon = s.find(':');
    out.name = std::string(s.substr(0, colon));
    if (colon != std::string_view::npos) {
      std::string_view n = s.substr(colon + 1);
      std::from_chars(n.data(), n.data() + n.size(), out.countdown);
    }
    return out;
  }();
  return a;
}

std::atomic<long> hits{0};

}  // namespace

void failpoint(std::string_view name) {
  Armed& a = armed();
  if (a.name.empty() || a.name != name) return;
  if (++hits < a.countdown) return;
  spdlog::warn("sync: failpoint {} reached: killing this process", name);
  ::kill(::getpid(), SIGKILL);
  ::pause();
}

}  // namespace strata::sync
