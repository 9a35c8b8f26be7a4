// Network behaviour with servers that misbehave on purpose: one that never
// answers (the deadline must fire) and one that refuses every credential
// (the token must be sent, must not be retried forever, and must not leak).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "strata/error.h"
#include "strata/git_sync.h"
#include "strata/hash.h"

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isolate_git_env(tmp / "home");
    write_tree(tmp / "state", {{"a.txt", "1"}});
  }
  TempDir tmp;
};

// Holds the connection open, reading and ignoring, until the client leaves.
void silent(int fd) {
  char buf[4096];
  auto until = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0 && ::recv(fd, buf, sizeof(buf), 0) <= 0) return;
  }
}

TEST_F(TransportTest, AServerThatNeverAnswersTimesOut) {
  TcpServer server(silent);
  GitSyncConfig cfg =
      test_config(tmp.path(), "git://127.0.0.1:" + std::to_string(server.port()) + "/r.git");
  cfg.timeout = std::chrono::milliseconds(800);
  GitSync sync(cfg);
  sync.snapshot(1);
  auto start = Clock::now();
  try {
    sync.push();
    FAIL() << "expected TIMEOUT";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("GIT_TIMEOUT_MS"));
  }
  auto took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(700));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(sync.status().state, GitSyncState::kError);
  EXPECT_GE(server.connections(), 1);
}

TEST_F(TransportTest, AStalledHttpServerTimesOutToo) {
  TcpServer server(silent);
  GitSyncConfig cfg =
      test_config(tmp.path(), "http://127.0.0.1:" + std::to_string(server.port()) + "/r.git");
  cfg.timeout = std::chrono::milliseconds(800);
  GitSync sync(cfg);
  RestoreOptions o;
  auto start = Clock::now();
  try {
    sync.restore(tmp / "out", o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout) << e.what();
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

// Answers every HTTP request with 401 and records the request headers.
struct RefusingHttp {
  std::mutex mu;
  std::vector<std::string> requests;
  void operator()(int fd) {
    std::string req;
    char buf[4096];
    auto until = Clock::now() + std::chrono::seconds(5);
    while (req.find("\r\n\r\n") == std::string::npos && Clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard lock(mu);
      requests.push_back(req);
    }
    const std::string resp =
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"strata-test\"\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n";
    ::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL);
  }
};

TEST_F(TransportTest, TokenIsSentOnceAndNeverAppearsInErrorsOrStatus) {
  RefusingHttp http;
  TcpServer server([&http](int fd) { http(fd); });
  const std::string token = "tok-SECRET-123";
  GitSyncConfig cfg =
      test_config(tmp.path(), "http://127.0.0.1:" + std::to_string(server.port()) + "/r.git");
  cfg.token = token;
  GitSync sync(cfg);
  sync.snapshot(1);
  auto start = Clock::now();
  try {
    sync.push();
    FAIL() << "expected an authentication failure";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGitError);
    EXPECT_THAT(e.what(), HasSubstr("authentication failed"));
    EXPECT_THAT(e.what(), Not(HasSubstr(token)));
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));  // no retry loop
  EXPECT_THAT(sync.status().message, Not(HasSubstr(token)));
  EXPECT_THAT(sync.status().message, HasSubstr("GIT_TOKEN"));

  std::lock_guard lock(http.mu);
  const std::string expected = "Authorization: Basic " + base64_encode("x-access-token:" + token);
  int with_token = 0;
  for (const auto& r : http.requests) with_token += r.find(expected) != std::string::npos ? 1 : 0;
  EXPECT_EQ(with_token, 1) << "the token was not offered exactly once";
}

TEST_F(TransportTest, UrlCredentialsNeverAppearInErrorsOrStatus) {
  RefusingHttp http;
  TcpServer server([&http](int fd) { http(fd); });
  const std::string url =
      "http://alice:pw-SECRET-456@127.0.0.1:" + std::to_string(server.port()) + "/r.git";
  GitSync sync(test_config(tmp.path(), url));
  sync.snapshot(1);
  try {
    sync.push();
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), Not(HasSubstr("pw-SECRET-456")));
    EXPECT_THAT(e.what(), Not(HasSubstr("alice:")));
  }
  GitSyncStatus st = sync.status();
  EXPECT_THAT(st.remote, Not(HasSubstr("pw-SECRET-456")));
  EXPECT_THAT(st.message, Not(HasSubstr("pw-SECRET-456")));
}

}  // namespace
}  // namespace strata::testing

namespace strata::testing {
namespace {

// ssh:// through a real sshd: the SSH transport takes the socket out of
// strata's deadline stream, so this proves the two fit together.
class SshTest : public TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    git_init_bare(tmp / "srv/remote.git");
    server = std::make_unique<SshServer>(tmp / "sshd");
    if (!server->ok()) GTEST_SKIP() << "no SSH server: " << server->why();
  }
  std::unique_ptr<SshServer> server;
};

TEST_F(SshTest, PushesAndRestoresWithAKeyFile) {
  GitSyncConfig cfg = test_config(tmp.path(), server->url(tmp / "srv/remote.git"));
  cfg.ssh_key = server->user_key();
  GitSync sync(cfg);
  SnapshotResult s = sync.snapshot(21);
  EXPECT_TRUE(sync.push().pushed);
  EXPECT_EQ(git("--git-dir=" + sh_quote(tmp / "srv/remote.git") + " rev-parse finn/archive"),
            s.tip.commit);

  GitSyncConfig other = test_config(tmp / "machine2", cfg.remote);
  other.ssh_key = server->user_key();
  GitSync fresh(other);
  EXPECT_EQ(fresh.restore(tmp / "out").snapshot.wal_seq, 21u);
  EXPECT_EQ(read_file(tmp / "out/state/a.txt"), "1");
}

TEST_F(SshTest, AWrongKeyFailsOnceWithoutLooping) {
  ASSERT_EQ(run_command("ssh-keygen -q -t ed25519 -N '' -f " + sh_quote(tmp / "wrongkey")), 0);
  GitSyncConfig cfg = test_config(tmp.path(), server->url(tmp / "srv/remote.git"));
  cfg.ssh_key = tmp / "wrongkey";
  GitSync sync(cfg);
  sync.snapshot(1);
  auto start = Clock::now();
  try {
    sync.push();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGitError);
    EXPECT_THAT(e.what(), HasSubstr("authentication failed"));
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(SshTest, AnUnknownHostKeyIsRefused) {
  write_file(tmp / "home/.ssh/known_hosts", "");
  GitSyncConfig cfg = test_config(tmp.path(), server->url(tmp / "srv/remote.git"));
  cfg.ssh_key = server->user_key();
  GitSync sync(cfg);
  sync.snapshot(1);
  try {
    sync.push();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGitError);
    EXPECT_THAT(e.what(), HasSubstr("hostkey"));
  }
  EXPECT_NE(git_status("--git-dir=" + sh_quote(tmp / "srv/remote.git") +
                       " rev-parse --verify -q refs/heads/finn/archive"),
            0);
}

}  // namespace
}  // namespace strata::testing
