// The Git tier under power loss, as far as it can honestly be tested.
// libgit2 does its own I/O, outside the file-system seam, so the
// fault-injecting file system cannot drop its unsynced writes. What can be
// checked is the order of the calls that make them durable: `strata
// archive` (a snapshot into DATA_DIR/archive.git, a push to a file://
// remote, then the WAL's "git" mark) runs under strace, and the test reads
// every rename, link, mkdir, fsync, fdatasync and syncfs it made. Before the WAL's
// MARKS file is renamed into place (the moment the mark becomes durable),
// every file renamed into either repository must have been synced before
// its rename, and the directory it was renamed into, like the parent of
// every directory made in either repository, synced after. On a file
// system that honours fsync, a power cut then never leaves a mark that
// runs ahead of the refs and objects that survive it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using testing::sh_quote;

// One call from the trace, in the order the calls completed.
struct Call {
  std::string name;  // fsync, fdatasync, syncfs, rename (a link too), mkdir
  std::string path;  // the file synced, the rename's source, the directory made
  std::string to;    // the rename's destination
};

// The path a strace -y argument names: `5</a/b>` or `"/a/b"`, relative names
// resolved against the directory argument before them.
std::string fd_path(const std::string& arg) {
  const auto lt = arg.find('<');
  const auto gt = arg.rfind('>');
  if (lt == std::string::npos || gt == std::string::npos || gt < lt) return "";
  return arg.substr(lt + 1, gt - lt - 1);
}

std::vector<std::string> split_args(const std::string& args) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  int angle = 0;
  for (char c : args) {
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '<') angle++;
    if (!quoted && c == '>') angle--;
    if (!quoted && angle == 0 && c == ',') {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    if (!(cur.empty() && c == ' ')) cur += c;
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string unquote(const std::string& s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

std::string resolve(const std::string& dir_arg, const std::string& name_arg) {
  const std::string name = unquote(name_arg);
  if (!name.empty() && name[0] == '/') return name;
  const std::string dir = fd_path(dir_arg);
  return dir.empty() ? name : dir + "/" + name;
}

// The successful calls of interest in a `strace -f -y` output, joining the
// halves of a call another thread interrupted ("<unfinished ...>" and
// "<... resumed>").
std::vector<Call> read_trace(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::string> unfinished;  // pid -> the call's first half
  std::vector<Call> calls;
  const std::regex whole(R"(^(\d+) +(\w+)\((.*)\) += (-?\d+).*$)");
  std::string line;
  while (std::getline(in, line)) {
    const auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    const std::string pid = line.substr(0, sp);
    const auto cut = line.find(" <unfinished ...>");
    if (cut != std::string::npos) {
      unfinished[pid] = line.substr(0, cut);
      continue;
    }
    const auto resumed = line.find(" resumed>");
    if (resumed != std::string::npos && unfinished.count(pid)) {
      line = unfinished[pid] + line.substr(resumed + 9);
      unfinished.erase(pid);
    }
    std::smatch m;
    if (!std::regex_match(line, m, whole) || m[4] != "0") continue;
    const std::string name = m[2];
    const auto args = split_args(m[3]);
    if (args.empty()) continue;
    if (name == "fsync" || name == "fdatasync" || name == "syncfs") {
      calls.push_back({name, fd_path(args[0]), ""});
    } else if (name == "rename" && args.size() >= 2) {
      calls.push_back({"rename", unquote(args[0]), unquote(args[1])});
    } else if ((name == "renameat" || name == "renameat2") && args.size() >= 4) {
      calls.push_back({"rename", resolve(args[0], args[1]), resolve(args[2], args[3])});
    } else if (name == "link" && args.size() >= 2) {
      // libgit2 moves a finished file into place with link(2) and unlink(2)
      // (rename(2) only when the name exists), as strata's atomic create does.
      calls.push_back({"rename", unquote(args[0]), unquote(args[1])});
    } else if (name == "linkat" && args.size() >= 4) {
      calls.push_back({"rename", resolve(args[0], args[1]), resolve(args[2], args[3])});
    } else if (name == "mkdir") {
      calls.push_back({"mkdir", unquote(args[0]), ""});
    } else if (name == "mkdirat" && args.size() >= 2) {
      calls.push_back({"mkdir", resolve(args[0], args[1]), ""});
    }
  }
  return calls;
}

bool under(const std::string& path, const std::string& dir) {
  return path == dir || path.rfind(dir + "/", 0) == 0;
}

std::string parent_of(const std::string& path) {
  return fs::path(path).parent_path().string();
}

// Whether `path` (a file, or a directory's entries) was made durable by a
// call in [from, to): an fsync or fdatasync of it, or a syncfs.
bool synced_between(const std::vector<Call>& calls, size_t from, size_t to,
                    const std::string& path) {
  for (size_t i = from; i < to && i < calls.size(); ++i) {
    const Call& c = calls[i];
    if (c.name == "syncfs") return true;
    if ((c.name == "fsync" || c.name == "fdatasync") && c.path == path) return true;
  }
  return false;
}

// Every problem with the durability of what the calls before `mark` put
// into `repo`; empty when there is none.
std::vector<std::string> undurable(const std::vector<Call>& calls, size_t mark,
                                   const std::string& repo) {
  std::vector<std::string> problems;
  for (size_t i = 0; i < mark; ++i) {
    const Call& c = calls[i];
    // The reflog is history for people, not what the tier confirms.
    if (c.name == "rename" && under(c.to, repo) && !under(c.to, repo + "/logs")) {
      if (!synced_between(calls, 0, i, c.path)) {
        problems.push_back(fmt::format("{} was renamed to {} without a sync before", c.path, c.to));
      }
      if (!synced_between(calls, i + 1, mark, parent_of(c.to))) {
        problems.push_back(
            fmt::format("{} was not synced after {} was renamed into it", parent_of(c.to), c.to));
      }
    }
    if (c.name == "mkdir" && under(c.path, repo) && !under(c.path, repo + "/logs")) {
      if (!synced_between(calls, i + 1, mark, parent_of(c.path))) {
        problems.push_back(
            fmt::format("{} was not synced after {} was made in it", parent_of(c.path), c.path));
      }
    }
  }
  return problems;
}

class GitDurability : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::isolate_git_env(tmp / "home");
    root = fs::canonical(tmp.path()).string();
    data = root + "/data";
    remote = root + "/remote.git";
    testing::git_init_bare(remote);
  }
  int strata(const std::string& args, const std::string& prefix = "") {
    return testing::run_command(fmt::format("{} {} --data-dir {} {} >/dev/null 2>>{}", prefix,
                                            STRATA_BINARY, sh_quote(data), args,
                                            sh_quote(root + "/stderr")));
  }
  std::string log() { return testing::read_file(root + "/stderr"); }

  testing::TempDir tmp;
  std::string root;
  std::string data;
  std::string remote;
};

TEST_F(GitDurability, TheGitMarkIsWrittenOnlyOnceTheRefsAndObjectsItVouchesForAreDurable) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(strata(fmt::format("append --type bead --op create --path f{} --data {}", i, i)), 0)
        << log();
  }
  ASSERT_EQ(strata("materialize"), 0) << log();
  const std::string trace = root + "/trace";
  ASSERT_EQ(testing::run_command("command -v strace >/dev/null"), 0)
      << "strace is missing (scripts/debian-packages.txt installs it)";
  // LeakSanitizer cannot work under ptrace (it ends the traced process with
  // a fatal error), so the sanitized build runs this one without it.
  ASSERT_EQ(strata("archive --json",
                   fmt::format("ASAN_OPTIONS=\"${{ASAN_OPTIONS:-}}:detect_leaks=0\" GIT_REMOTE={} "
                               "strace -f -qq -y -o {} -e "
                               "trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,link,"
                               "linkat,mkdir,mkdirat",
                               sh_quote("file://" + remote), sh_quote(trace))),
            0)
      << log();
  const auto calls = read_trace(trace);
  ASSERT_FALSE(calls.empty()) << testing::read_file(trace);

  // The WAL's mark: MARKS renamed into place, the first time after the
  // push moved the remote's branch.
  const std::string branch = "/refs/heads/finn/archive";
  size_t mark = calls.size();
  bool pushed = false;
  for (size_t i = 0; i < calls.size() && mark == calls.size(); ++i) {
    if (calls[i].name != "rename") continue;
    if (calls[i].to == remote + branch) pushed = true;
    if (pushed && calls[i].to == data + "/wal/MARKS") mark = i;
  }
  ASSERT_TRUE(pushed) << "the push never moved " << remote << branch << ":\n"
                      << testing::read_file(trace);
  ASSERT_LT(mark, calls.size()) << "the WAL's git mark was never written after the push:\n"
                                << testing::read_file(trace);
  // The branch moved in both repositories before the mark (else the
  // checks below would hold of nothing).
  for (const std::string& repo : {data + "/archive.git", remote}) {
    const bool moved =
        std::any_of(calls.begin(), calls.begin() + static_cast<long>(mark),
                    [&](const Call& c) { return c.name == "rename" && c.to == repo + branch; });
    EXPECT_TRUE(moved) << repo << branch << " was not written before the mark";
    const auto problems = undurable(calls, mark, repo);
    std::string all;
    for (const auto& p : problems) all += "\n  " + p;
    EXPECT_TRUE(problems.empty()) << problems.size() << " writes into " << repo
                                  << " were not durable when the git mark was written:" << all;
  }
}

}  // namespace
}  // namespace strata
