#include "git/git_test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace strata::testing {

namespace fs = std::filesystem;

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

void isolate_git_env(const std::string& home) {
  fs::create_directories(home);
  setenv("HOME", home.c_str(), 1);
  setenv("XDG_CONFIG_HOME", (home + "/.config").c_str(), 1);
  setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
  setenv("GIT_AUTHOR_NAME", "Test Author", 1);
  setenv("GIT_AUTHOR_EMAIL", "author@example.com", 1);
  setenv("GIT_COMMITTER_NAME", "Test Committer", 1);
  setenv("GIT_COMMITTER_EMAIL", "committer@example.com", 1);
  setenv("GIT_TERMINAL_PROMPT", "0", 1);
  for (const char* v :
       {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_REPO_DIR", "GIT_REMOTE", "GIT_TOKEN",
        "GIT_SSH_KEY", "GIT_SSH_KEY_PASSPHRASE", "GIT_ARCHIVE_BRANCH", "GIT_ARCHIVE_PATHS",
        "GIT_ARCHIVE_MAX_FILE_BYTES", "GIT_TIMEOUT_MS", "SSH_AUTH_SOCK", "DATA_DIR"}) {
    unsetenv(v);
  }
}

int git_status(const std::string& args, std::string* out) {
  return run_command("git " + args + " 2>/dev/null", out);
}

std::string git(const std::string& args) {
  std::string out;
  int rc = run_command("git " + args, &out);
  EXPECT_EQ(rc, 0) << "git " << args << "\n" << out;
  if (rc != 0) throw std::runtime_error("git " + args + " failed");
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void git_init_bare(const std::string& path) {
  git("init -q --bare " + sh_quote(path));
}

void write_tree(const std::string& root, const FileMap& files) {
  for (const auto& [rel, content] : files) {
    fs::path p = fs::path(root) / rel;
    fs::create_directories(p.parent_path());
    write_file(p.string(), content);
  }
}

FileMap read_tree(const std::string& root) {
  FileMap out;
  if (!fs::exists(root)) return out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const auto& e = *it;
    // lexically: fs::relative would resolve symlinks to their targets.
    std::string rel = e.path().lexically_relative(root).string();
    if (e.is_symlink()) {
      out[rel] = "-> " + fs::read_symlink(e.path()).string();
    } else if (e.is_regular_file()) {
      out[rel] = read_file(e.path().string());
    }
  }
  return out;
}

FileMap make_files(int n, size_t bytes_each, unsigned seed) {
  std::mt19937 rng(seed);
  FileMap files;
  for (int i = 0; i < n; ++i) {
    std::string dir = "d" + std::to_string(i % 7) + "/s" + std::to_string(i % 13);
    std::string name = dir + "/file-" + std::to_string(i) + (i % 5 == 0 ? ".bin" : ".txt");
    std::string content;
    if (i % 97 == 0) {
      content = "";  // empty files must survive too
    } else if (i % 5 == 0) {
      content.resize(bytes_each);
      for (auto& c : content) c = static_cast<char>(rng() & 0xff);
    } else {
      content.reserve(bytes_each);
      while (content.size() < bytes_each) content += "line " + std::to_string(rng()) + "\n";
      content.resize(bytes_each);
    }
    files[name] = content;
  }
  return files;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

GitDaemon::GitDaemon(const std::string& base_dir, int port) {
  // Another test may grab a port between free_port() and the daemon's bind:
  // try a few when the port was ours to choose.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start(base_dir, port != 0 ? port : free_port())) return;
    if (port != 0) break;
  }
  throw std::runtime_error("git daemon did not start");
}

bool GitDaemon::start(const std::string& base_dir, int port) {
  std::string port_arg = "--port=" + std::to_string(port);
  std::string base_arg = "--base-path=" + base_dir;
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, so stop() also reaches per-connection children
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execlp("git", "git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr",
             "--listen=127.0.0.1", port_arg.c_str(), base_arg.c_str(), base_dir.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  pid_ = pid;
  port_ = port;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid_ = -1;  // exited: most likely the port was taken
      return false;
    }
    if (can_connect(port)) return true;
    ::usleep(20000);
  }
  stop();
  return false;
}

GitDaemon::~GitDaemon() {
  stop();
}

void GitDaemon::stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    ::usleep(10000);
  }
  pid_ = -1;
}

std::string GitDaemon::url(const std::string& repo_name) const {
  return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo_name;
}

namespace {

// Forks and execs argv in its own process group (so a kill reaches its
// children), output to log_path; waits until `port` accepts connections.
pid_t spawn_server(const std::vector<std::string>& argv, const std::string& log_path, int port) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDONLY);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(devnull, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return -1;
    if (can_connect(port)) return pid;
    ::usleep(20000);
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

void stop_server(pid_t pid) {
  if (pid <= 0) return;
  ::kill(-pid, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return;
    }
    ::usleep(10000);
  }
}

}  // namespace

SshServer::SshServer(const std::string& dir) : dir_(dir) {
  const char* sshd = "/usr/sbin/sshd";
  if (::access(sshd, X_OK) != 0) {
    why_ = "no /usr/sbin/sshd (Debian package openssh-server)";
    return;
  }
  fs::create_directories(dir_);
  for (const char* key : {"hostkey", "userkey"}) {
    if (run_command("ssh-keygen -q -t ed25519 -N '' -f " + sh_quote(dir_ + "/" + key)) != 0) {
      why_ = "ssh-keygen failed";
      return;
    }
  }
  fs::copy_file(dir_ + "/userkey.pub", dir_ + "/authorized_keys");
  const std::string home = std::getenv("HOME");
  for (int attempt = 0; attempt < 3 && pid_ < 0; ++attempt) {
    port_ = free_port();
    write_file(dir_ + "/sshd_config",
               "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " + dir_ +
                   "/hostkey\nAuthorizedKeysFile " + dir_ +
                   "/authorized_keys\nStrictModes no\nPasswordAuthentication no\n"
                   "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                   "PermitRootLogin prohibit-password\nUsePAM no\nPidFile " +
                   dir_ + "/sshd.pid\n");
    pid_ = spawn_server({sshd, "-D", "-e", "-f", dir_ + "/sshd_config"}, dir_ + "/sshd.log", port_);
  }
  if (pid_ < 0) {
    why_ = "sshd did not start: " + read_file(dir_ + "/sshd.log");
    return;
  }
  fs::create_directories(home + "/.ssh");
  std::string pub = read_file(dir_ + "/hostkey.pub");
  pub = pub.substr(0, pub.rfind(' '));  // drop the comment
  write_file(home + "/.ssh/known_hosts", "[127.0.0.1]:" + std::to_string(port_) + " " + pub + "\n");
}

SshServer::~SshServer() {
  stop_server(pid_);
}

std::string SshServer::url(const std::string& path) const {
  const passwd* pw = ::getpwuid(::getuid());
  std::string name = pw != nullptr ? pw->pw_name : "root";
  return "ssh://" + name + "@127.0.0.1:" + std::to_string(port_) + path;
}

TcpServer::TcpServer(std::function<void(int)> handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("TcpServer: bind/listen failed");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      connections_++;
      handler_(fd);
      ::close(fd);
    }
  });
}

TcpServer::~TcpServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

GitSyncConfig test_config(const std::string& root, const std::string& remote) {
  GitSyncConfig c;
  c.state_dir = root + "/state";
  c.repo_dir = root + "/archive.git";
  c.remote = remote;
  c.lineage_id = "0123456789abcdef0123456789abcdef";
  c.timeout = std::chrono::milliseconds(20000);
  return c;
}

}  // namespace strata::testing
