// What every `strata bench` subcommand does with its data: a fresh run
// directory under --dir (default DATA_DIR/bench), removed on every way out
// unless --keep.
#pragma once

#include <iostream>
#include <string>

#include <fmt/format.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "strata/error.h"
#include "strata/fs.h"

namespace strata::cli {

// --dir, or DATA_DIR/bench when it is empty; kInvalidArgument when it names
// something that is not a directory.
inline std::string bench_parent_dir(const std::string& dir_option, const Context& ctx) {
  const std::string dir = dir_option.empty() ? ctx.data_dir + "/bench" : dir_option;
  FileSystem& fs = FileSystem::real();
  if (fs.exists(dir) && !fs.is_directory(dir)) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("--dir {} is not a directory", dir));
  }
  return dir;
}

class RunDir {
 public:
  RunDir(const std::string& parent, const std::string& tag, bool keep)
      : path_(bench::make_run_dir(parent, tag)), keep_(keep) {}
  ~RunDir() {
    if (keep_) {
      std::cerr << "strata bench: kept " << path_ << "\n";
    } else {
      bench::remove_tree(path_);
    }
  }
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_;
};

}  // namespace strata::cli
