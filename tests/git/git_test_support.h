// Helpers for the Git archive tests: a git CLI isolated from the machine's
// configuration, `git daemon` on a free loopback port, tiny TCP servers that
// misbehave on purpose, and state directories to archive.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "strata/git_sync.h"
#include "support/temp_dir.h"

namespace strata::testing {

// Single-quotes s for /bin/sh.
std::string sh_quote(const std::string& s);

// Points HOME at a fresh directory, ignores the system git config, sets a
// fixed author/committer and clears every GIT_* variable strata reads, so
// neither git nor strata depends on the machine. Restores nothing: each
// test runs in its own process under ctest.
void isolate_git_env(const std::string& home);

// Runs `git ARGS` (ARGS already quoted); fails the test on a non-zero exit.
// Returns stdout without the trailing newline.
std::string git(const std::string& args);
// Same, returning the exit status and leaving failure to the caller.
int git_status(const std::string& args, std::string* out = nullptr);

// A bare repository at path, made with the git CLI.
void git_init_bare(const std::string& path);

// Files written as relative path -> content.
using FileMap = std::map<std::string, std::string>;
void write_tree(const std::string& root, const FileMap& files);
// Every regular file and symlink under root (symlinks as "-> target"),
// recursively, skipping nothing.
FileMap read_tree(const std::string& root);
// n files spread over nested directories, `bytes_each` pseudo-random bytes
// (some binary, some empty), deterministic for a seed.
FileMap make_files(int n, size_t bytes_each, unsigned seed);

// A free TCP port on 127.0.0.1 (bound once, then released).
int free_port();

// `git daemon --export-all --enable=receive-pack` serving base_dir on a
// free loopback port; stopped (its whole process group) on destruction.
class GitDaemon {
 public:
  explicit GitDaemon(const std::string& base_dir, int port = 0);
  ~GitDaemon();
  GitDaemon(const GitDaemon&) = delete;
  GitDaemon& operator=(const GitDaemon&) = delete;
  int port() const { return port_; }
  std::string url(const std::string& repo_name) const;
  void stop();

 private:
  bool start(const std::string& base_dir, int port);
  pid_t pid_ = -1;
  int port_ = 0;
};

// `sshd -D` on a free loopback port, with a fresh host key and a user key
// authorized for the current user; the host key is written to
// $HOME/.ssh/known_hosts. ok() is false (and why() says why) when sshd is
// missing or cannot start here (e.g. as root without /run/sshd).
class SshServer {
 public:
  explicit SshServer(const std::string& dir);
  ~SshServer();
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;
  bool ok() const { return pid_ > 0; }
  const std::string& why() const { return why_; }
  int port() const { return port_; }
  std::string user_key() const { return dir_ + "/userkey"; }
  std::string url(const std::string& path) const;

 private:
  std::string dir_;
  std::string why_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A TCP server on a free loopback port that hands each connection to
// `handler` (on the server thread) and closes it afterwards.
class TcpServer {
 public:
  explicit TcpServer(std::function<void(int fd)> handler);
  ~TcpServer();
  int port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::function<void(int)> handler_;
  std::thread thread_;
};

// A GitSyncConfig for tests: state under root/state, repo root/archive.git.
GitSyncConfig test_config(const std::string& root, const std::string& remote = "");

}  // namespace strata::testing
