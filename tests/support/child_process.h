// Running a program as a child and measuring its own peak memory, for tests
// that prove a command's memory stays bounded.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace strata::testing {

struct ChildRun {
  int exit_code = -1;             // -1: killed by a signal
  uint64_t max_rss_bytes = 0;     // the child's peak resident set (wait4)
  uint64_t parent_rss_bytes = 0;  // this process's resident set at the fork
};

// Runs argv[0] (a path) with argv, extra environment, stdout and stderr to
// the given files. A forked child starts with its parent's resident set as
// its high-water mark (and execve keeps it), so max_rss_bytes says
// something about the child only while it is above parent_rss_bytes:
// callers judge it with rss_is_measurable().
ChildRun run_measured(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& env,
                      const std::string& out_file, const std::string& err_file);

// True when limit is well above what the forking process itself held, so a
// peak below limit is the child's own. False in sanitizer builds, whose
// shadow memory makes resident sizes meaningless.
bool rss_is_measurable(const ChildRun& r, uint64_t limit);

}  // namespace strata::testing
