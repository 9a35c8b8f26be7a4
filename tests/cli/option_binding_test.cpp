// Every option of every `strata` command, parsed once. CLI11 writes a parsed
// value into the variable the option was bound to; a command that binds an
// option to storage freed when the command is registered (as `snapshot
// --json` once did: a shared_ptr nobody kept) makes that write a
// use-after-free. The normal build rarely notices; under AddressSanitizer
// (build-asan, scripts/test.sh) the child aborts and leaves a report. The
// commands and their options are read from `--help`, so a new option is
// covered without editing this test.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::shell_quote;
using testing::TempDir;

struct Help {
  std::vector<std::string> options;      // one name per option, e.g. --json
  std::vector<std::string> values;       // the value to give it ("" for a flag)
  std::vector<std::string> positionals;  // a value for each positional, in order
  std::vector<std::string> subcommands;
};

class OptionBinding : public ::testing::Test {
 protected:
  // Runs strata with args; returns the exit status, stdout and stderr in *out.
  int run(const std::string& args, std::string* out) {
    const std::string cmd =
        fmt::format("cd {} && env DATA_DIR={} {} {} 2>&1", shell_quote(tmp_.path()),
                    shell_quote(tmp_ / "data"), STRATA_BINARY, args);
    return testing::run_command(cmd, out);
  }

  // A value CLI11 accepts for an option of this type (as --help shows it).
  std::string value_for(const std::string& type) {
    static const std::regex member(R"(\{([^,}]+))");
    std::smatch m;
    if (std::regex_search(type, m, member)) return m[1];
    if (type.find("FILE") != std::string::npos) {
      testing::write_file(tmp_ / "file", "x");
      return shell_quote(tmp_ / "file");
    }
    if (type.starts_with("INT") || type.starts_with("UINT") || type.starts_with("FLOAT") ||
        type == "SECONDS") {
      return "1";
    }
    return "x";
  }

  // Reads the sections of CLI11's help: "  NAME[,NAME] [TYPE]  description".
  Help help(const std::string& path) {
    std::string out;
    EXPECT_EQ(run(path + " --help", &out), 0) << path << ": " << out;
    Help h;
    std::istringstream in(out);
    std::string line, section;
    static const std::regex entry(R"(^  (\S+)(?: (\S.*?))?(?:  +\S.*)?$)");
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != ' ') {
        section = line;
        continue;
      }
      std::smatch m;
      if (!std::regex_match(line, m, entry)) continue;  // a wrapped description
      const std::string name = m[1];
      const std::string type = m[2].matched ? std::string(m[2]) : "";
      if (section == "Subcommands:") {
        h.subcommands.push_back(name);
      } else if (section == "Positionals:") {
        h.positionals.push_back(value_for(type));
      } else if (section == "Options:" && name.starts_with("-")) {
        if (name == "-h,--help" || name == "--help-all") continue;
        h.options.push_back(name.substr(name.rfind(',') + 1));
        h.values.push_back(type.empty() ? "" : value_for(type));
      }
    }
    return h;
  }

  // Parses each option of the command at path (and of its subcommands), with
  // --help last so that nothing runs; returns how many were parsed.
  int parse_every_option(const std::string& path) {
    const Help h = help(path);
    std::string positionals;
    for (const auto& v : h.positionals) positionals += " " + v;
    int parsed = 0;
    for (size_t i = 0; i < h.options.size(); ++i) {
      const std::string args =
          fmt::format("{}{} {} {} --help", path, positionals, h.options[i], h.values[i]);
      std::string out;
      EXPECT_EQ(run(args, &out), 0) << "strata " << args << ":\n" << out;
      parsed++;
    }
    for (const auto& sub : h.subcommands) parsed += parse_every_option(path + " " + sub);
    return parsed;
  }

  TempDir tmp_;
};

TEST_F(OptionBinding, EveryOptionOfEveryCommandParses) {
  const int parsed = parse_every_option("");
  // The walk found the commands: snapshot --json alone proves nothing.
  EXPECT_GE(parsed, 60);
  RecordProperty("options_parsed", parsed);
}

}  // namespace
}  // namespace strata
