// Test helpers shared by every test binary.
#pragma once

#include <string>

namespace strata::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& data);

// Runs a shell command, returns its exit status; stdout goes to *out if given.
int run_command(const std::string& cmd, std::string* out = nullptr);

}  // namespace strata::testing
