// The fixture of the command-line tests: runs the real `strata` binary as a
// separate process in a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {

using testing::read_file;
using testing::shell_quote;
using testing::TempDir;
using testing::write_file;

class Cli : public ::testing::Test {
 protected:
  // Runs `strata --data-dir <data> <args>`; stdin from `in`.
  int run(const std::string& args, std::string* out = nullptr, std::string* err = nullptr,
          const std::string& in = "", const std::string& env = "") {
    write_file(tmp_ / "stdin", in);
    const std::string cmd = fmt::format(
        "cd {} && env -u DATA_DIR WAL_MIN_FREE_BYTES=0 WAL_RESUME_FREE_BYTES=0 {} {} --data-dir "
        "{} {} <{} 2>{}",
        shell_quote(tmp_.path()), env, STRATA_BINARY, shell_quote(data_), args,
        shell_quote(tmp_ / "stdin"), shell_quote(tmp_ / "stderr"));
    std::string o;
    int rc = testing::run_command(cmd, &o);
    last_err_ = read_file(tmp_ / "stderr");
    if (out) *out = o;
    if (err) *err = last_err_;
    return rc;
  }
  // Runs `strata <args>` with no --data-dir of the fixture's (DATA_DIR
  // unset), in the temporary directory.
  int run_bare(const std::string& args, std::string* err = nullptr) {
    const std::string cmd =
        fmt::format("cd {} && env -u DATA_DIR {} {} </dev/null 2>{}", shell_quote(tmp_.path()),
                    STRATA_BINARY, args, shell_quote(tmp_ / "stderr"));
    std::string o;
    int rc = testing::run_command(cmd, &o);
    last_err_ = read_file(tmp_ / "stderr");
    if (err) *err = last_err_;
    return rc;
  }
  uint64_t append(const std::string& path, const std::string& data) {
    std::string out;
    EXPECT_EQ(run(fmt::format("append --type bead --op create --path {} --data {}",
                              shell_quote(path), shell_quote(data)),
                  &out),
              0)
        << last_err_;
    return std::stoull(out);
  }
  // Appends n entries in one process (JSON lines), paths p<i % paths>.
  void append_many(int n, int paths, const std::string& env) {
    std::string in;
    for (int i = 0; i < n; ++i) {
      in +=
          fmt::format("{{\"type\":\"bead\",\"op\":\"update\",\"path\":\"p{}\",\"data\":\"{}\"}}\n",
                      i % paths, std::string(100, 'y'));
    }
    std::string out;
    ASSERT_EQ(run("append --jsonl", &out, nullptr, in, env), 0) << last_err_;
    ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), n);
  }
  std::vector<nlohmann::json> replay(const std::string& args = "") {
    std::string out;
    EXPECT_EQ(run("replay " + args, &out), 0) << last_err_;
    std::vector<nlohmann::json> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }
  TempDir tmp_;
  std::string data_ = tmp_ / "data";
  std::string last_err_;
};

}  // namespace strata
