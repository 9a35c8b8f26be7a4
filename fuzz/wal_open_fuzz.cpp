// libFuzzer target: the fuzzer's bytes overwrite part of a valid segment.
// Build and run with fuzz/run.sh.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "wal_open_property.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string seed = strata::fuzz::make_segment(40);
  static const std::string dir = [] {
    const char* t = std::getenv("TMPDIR");
    return std::string(t && *t ? t : "/tmp") + "/strata-fuzz-" + std::to_string(::getpid());
  }();
  if (size < 2) return 0;
  // First two bytes choose where the rest lands.
  size_t at = (static_cast<size_t>(data[0]) << 8 | data[1]) % seed.size();
  std::string seg = seed;
  std::string patch(reinterpret_cast<const char*>(data + 2), size - 2);
  seg.replace(at, std::min(patch.size(), seg.size() - at), patch);
  size_t first_diff = 0;
  while (first_diff < std::min(seg.size(), seed.size()) && seg[first_diff] == seed[first_diff]) {
    first_diff++;
  }
  std::string problem = strata::fuzz::check_open(dir, seg, first_diff, 40);
  if (!problem.empty()) {
    std::fprintf(stderr, "property violated: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
