#include "property_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "strata/utf8.h"

namespace strata::fuzz {

std::string check_refusal(const Error& e, std::initializer_list<ErrorCode> allowed) {
  bool ok = false;
  for (ErrorCode c : allowed) ok = ok || e.code() == c;
  if (!ok) return fmt::format("refused with the unexpected code {}: {}", e.code_name(), e.what());
  if (std::string_view(e.what()).empty())
    return fmt::format("refused ({}) without a message", e.code_name());
  return "";
}

namespace {

std::string* g_scratch = nullptr;

void remove_scratch() {
  std::error_code ec;
  if (g_scratch) std::filesystem::remove_all(*g_scratch, ec);
}

}  // namespace

const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string base = "/tmp";
    if (::access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    } else if (const char* t = std::getenv("TMPDIR"); t && *t) {
      base = t;
    }
    std::string d = fmt::format("{}/strata-fuzz-{}", base, ::getpid());
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }();
  if (!g_scratch) {
    g_scratch = new std::string(dir);
    std::atexit(remove_scratch);
  }
  return dir;
}

bool valid_utf8(std::string_view s) {
  return is_valid_utf8(s);
}

}  // namespace strata::fuzz
