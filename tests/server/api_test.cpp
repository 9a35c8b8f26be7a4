// The HTTP API of a real `strata serve` process: appends from many keep-alive
// clients, reading back, and every refusal (status, JSON error, nothing
// written).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/daemon_process.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::DaemonProcess;
using testing::entry_body;
using testing::Env;
using testing::get;
using testing::post;
using testing::TempDir;

uint64_t head_seq(httplib::Client& c) {
  auto r = get(c, "/v1/status");
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json()["wal"]["head_seq"].get<uint64_t>();
}

// A raw TCP connection to the daemon, for what an HTTP client library will
// not do (stall, send garbage, hold a connection idle).
class RawConn {
 public:
  // receive_buffer > 0: a small socket receive buffer, for a client that
  // takes a response slowly.
  explicit RawConn(int port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) ::close(fd_), fd_ = -1;
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // What arrives until it holds text, the peer closes or `wait` passes.
  std::string read_until(const std::string& text, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string out;
    char buf[4096];
    while (out.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) break;
      if (n > 0) out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void send(const std::string& s) { (void)::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  // Everything until the peer closes or `wait` passes; *closed says which.
  std::string read_all(std::chrono::milliseconds wait, bool* closed) {
    timeval tv{static_cast<time_t>(wait.count() / 1000),
               static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string out;
    char buf[4096];
    *closed = false;
    while (true) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) {
        *closed = true;
        break;
      }
      if (n < 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

class Api : public ::testing::Test {
 protected:
  void start(Env env = {}) {
    env.emplace("GIT_SYNC_INTERVAL_MS", "3600000");
    daemon_ = std::make_unique<DaemonProcess>(tmp_.path(), env);
    daemon_->start();
    client_ = daemon_->client();
  }
  TempDir tmp_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(Api, ThirtyTwoKeepAliveClientsGetGaplessSeqsAndEveryEntryReadsBack) {
  start();
  constexpr int kClients = 32;
  constexpr int kEach = 40;
  std::vector<std::vector<std::pair<uint64_t, std::string>>> got(kClients);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = daemon_->client();
      for (int i = 0; i < kEach; ++i) {
        const std::string path = fmt::format("c{}/e{}", c, i);
        auto r = client->Post("/v1/entries", entry_body(path, fmt::format("data {} {}", c, i)),
                              "application/json");
        if (!r || r->status != 200) {
          failures++;
          continue;
        }
        got[c].emplace_back(nlohmann::json::parse(r->body)["seq"].get<uint64_t>(), path);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures, 0);
  std::map<uint64_t, std::string> by_seq;
  for (const auto& v : got) {
    for (const auto& [seq, path] : v) EXPECT_TRUE(by_seq.emplace(seq, path).second) << seq;
  }
  ASSERT_EQ(by_seq.size(), static_cast<size_t>(kClients * kEach));
  EXPECT_EQ(by_seq.begin()->first, 1u);
  EXPECT_EQ(by_seq.rbegin()->first, static_cast<uint64_t>(kClients * kEach)) << "a gap";
  // Each client's seqs rise: an acknowledged append is ordered before the next.
  for (const auto& v : got) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1].first, v[i].first);
  }
  for (const auto& [seq, path] : by_seq) {
    auto r = get(*client_, fmt::format("/v1/entries/{}", seq));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["path"], path);
    EXPECT_EQ(r.json()["seq"], seq);
  }
  // The stream holds the same, in order.
  auto r = get(*client_, "/v1/entries?since=0");
  ASSERT_EQ(r.status, 200);
  std::istringstream lines(r.body);
  std::string line;
  uint64_t expect = 1;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["seq"], expect);
    EXPECT_EQ(j["path"], by_seq[expect]);
    expect++;
  }
  EXPECT_EQ(expect, by_seq.size() + 1);
}

TEST_F(Api, BatchIsAtomicAndStreamHonoursSinceAndLimit) {
  start();
  auto r = post(*client_, "/v1/entries",
                R"({"entries":[{"type":"session","op":"create","path":"s/a","data":"1"},
                                {"type":"memory","op":"create","path":"m/b","data_b64":"AP8A"},
                                {"type":"session","op":"delete","path":"s/a"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["first_seq"], 1);
  EXPECT_EQ(r.json()["last_seq"], 3);
  EXPECT_EQ(r.json()["count"], 3);
  auto one = get(*client_, "/v1/entries/2");
  EXPECT_EQ(one.json()["data_b64"], "AP8A");
  EXPECT_EQ(one.json()["type"], "memory");
  auto stream = get(*client_, "/v1/entries?since=1&limit=1");
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(std::count(stream.body.begin(), stream.body.end(), '\n'), 1);
  EXPECT_EQ(nlohmann::json::parse(stream.body)["seq"], 2);
  // One bad entry refuses the whole batch.
  r = post(*client_, "/v1/entries",
           R"({"entries":[{"type":"bead","op":"create","path":"ok","data":"1"},
                           {"type":"bead","op":"create","path":"/abs","data":"1"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("entries[1]"), std::string::npos) << r.body;
  EXPECT_EQ(head_seq(*client_), 3u);
}

TEST_F(Api, StateServesTheMaterializedFileWithItsSeq) {
  start();
  ASSERT_EQ(
      post(*client_, "/v1/entries", entry_body("sessions/alice.json", "{\"turns\":1}")).status,
      200);
  ASSERT_EQ(
      post(*client_, "/v1/entries", entry_body("sessions/alice.json", "{\"turns\":2}", "update"))
          .status,
      200);
  auto r = get(*client_, "/v1/state/sessions/alice.json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"], "{\"turns\":2}");
  EXPECT_EQ(r.json()["seq"], 2);
  ASSERT_EQ(post(*client_, "/v1/entries", entry_body("sessions/alice.json", "", "delete")).status,
            200);
  EXPECT_EQ(get(*client_, "/v1/state/sessions/alice.json").status, 404);
  EXPECT_EQ(get(*client_, "/v1/state/sessions").status, 404) << "a directory is not a file";
}

TEST_F(Api, EveryRefusalHasItsStatusAndJsonAndWritesNothing) {
  start({{"WAL_MAX_ENTRY_BYTES", "1000"}, {"STRATA_MAX_BODY_BYTES", "4096"}});
  ASSERT_EQ(post(*client_, "/v1/entries", entry_body("first", "x")).status, 200);
  struct Case {
    std::string method, path, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/entries", "{not json", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", "[1,2]", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", "", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"create"})", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"type":"nonsense","op":"create","path":"p"})", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"explode","path":"p"})", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"create","path":"../etc/passwd"})", 400,
       "INVALID_PATH"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"create","path":"a//b"})", 400,
       "INVALID_PATH"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"create","path":7})", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"create","path":"p","extra":1})", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/v1/entries",
       R"({"type":"bead","op":"create","path":"p","data":"a","data_b64":"YQ=="})", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"create","path":"p","data_b64":"!!"})", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"type":"bead","op":"delete","path":"p","data":"x"})", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"entries":[]})", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"entries":{}})", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries", R"({"entries":[[[[[[1]]]]]]})", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries",
       fmt::format(R"({{"type":"bead","op":"create","path":"big","data":"{}"}})",
                   std::string(2000, 'x')),
       413, "ENTRY_TOO_LARGE"},
      {"POST", "/v1/entries",
       fmt::format(R"({{"type":"bead","op":"create","path":"big","data":"{}"}})",
                   std::string(5000, 'x')),
       413, "PAYLOAD_TOO_LARGE"},
      {"POST", "/v1/entries?durability=eventually", entry_body("p", "x"), 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/entries?durabilty=remote", entry_body("p", "x"), 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/entries/abc", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/entries/0", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/entries/-1", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/entries/18446744073709551616", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/entries/99", "", 404, "NOT_FOUND"},
      {"GET", "/v1/entries?since=x", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/entries?limit=-3", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/entries?sinse=1", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/state/..%2Fetc%2Fpasswd", "", 400, "INVALID_PATH"},
      {"GET", "/v1/state/a/../b", "", 400, "INVALID_PATH"},
      {"GET", "/v1/state/nothing/here", "", 404, "NOT_FOUND"},
      {"GET", "/v2/entries", "", 404, "NOT_FOUND"},
      {"DELETE", "/v1/entries/1", "", 405, "METHOD_NOT_ALLOWED"},
      {"PUT", "/v1/entries", "{}", 405, "METHOD_NOT_ALLOWED"},
      {"GET", "/v1/sync", "", 405, "METHOD_NOT_ALLOWED"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 80));
    auto client = daemon_->client();
    httplib::Result r = c.method == "POST"     ? client->Post(c.path, c.body, "application/json")
                        : c.method == "PUT"    ? client->Put(c.path, c.body, "application/json")
                        : c.method == "DELETE" ? client->Delete(c.path)
                                               : client->Get(c.path);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, c.status) << r->body;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << r->body;
    EXPECT_EQ(j["error"]["code"], c.code) << r->body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }
  EXPECT_EQ(head_seq(*client_), 1u) << "a refused request wrote something";
  EXPECT_EQ(get(*client_, "/v1/entries?since=1").body, "");
}

TEST_F(Api, ChunkedBodyOverTheLimitIs413AndClosesTheConnection) {
  start({{"STRATA_MAX_BODY_BYTES", "4096"}});
  RawConn conn(daemon_->port());
  ASSERT_TRUE(conn.ok());
  std::string chunk(3000, ' ');
  conn.send("POST /v1/entries HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 2; ++i) conn.send(fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk));
  bool closed = false;
  std::string reply = conn.read_all(std::chrono::seconds(5), &closed);
  EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
  EXPECT_NE(reply.find("PAYLOAD_TOO_LARGE"), std::string::npos) << reply;
  EXPECT_TRUE(closed);
  EXPECT_EQ(head_seq(*client_), 0u);
}

TEST_F(Api, PipelinedRequestsAndExpectContinueAreAnsweredInOrder) {
  start();
  RawConn conn(daemon_->port());
  ASSERT_TRUE(conn.ok());
  // Three requests in one segment: the second and third are already in the
  // connection's read buffer when the first is answered. Brackets inside a
  // string are data, not nesting.
  const std::string a = entry_body("pipe/a", "[[[[[[{{{{");
  const std::string b = entry_body("pipe/b", "two");
  conn.send(
      fmt::format("POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}"
                  "POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}"
                  "GET /v1/entries/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                  a.size(), a, b.size(), b));
  bool closed = false;
  std::string reply = conn.read_all(std::chrono::seconds(10), &closed);
  EXPECT_TRUE(closed);
  const size_t first = reply.find(R"({"seq":1})");
  const size_t second = reply.find(R"({"seq":2})");
  const size_t third = reply.find("pipe/a");
  ASSERT_NE(first, std::string::npos) << reply;
  ASSERT_NE(second, std::string::npos) << reply;
  ASSERT_NE(third, std::string::npos) << reply;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_NE(reply.find(R"([[[[[[{{{{)"), std::string::npos) << reply;

  // A client that waits for 100 Continue before its body gets it, then the answer.
  RawConn slow(daemon_->port());
  slow.send(
      fmt::format("POST /v1/entries HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  "Content-Length: {}\r\n\r\n",
                  b.size()));
  const std::string interim = slow.read_until("\r\n\r\n", std::chrono::seconds(10));
  EXPECT_NE(interim.find("HTTP/1.1 100"), std::string::npos) << interim;
  slow.send(b);
  const std::string answer = slow.read_until(R"({"seq":3})", std::chrono::seconds(10));
  EXPECT_NE(answer.find(R"({"seq":3})"), std::string::npos) << answer;
  EXPECT_EQ(head_seq(*client_), 3u);
}

TEST_F(Api, ABodyOnAGetIsRefused) {
  start();
  RawConn conn(daemon_->port());
  conn.send("GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  bool closed = false;
  std::string reply = conn.read_all(std::chrono::seconds(5), &closed);
  EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
  EXPECT_TRUE(closed);
}

TEST_F(Api, SlowClientIsCutOffAndIdleKeepAliveIsClosed) {
  start({{"STRATA_READ_TIMEOUT_MS", "500"}, {"STRATA_IDLE_TIMEOUT_MS", "1000"}});
  {
    // Headers promise a body that never comes.
    RawConn conn(daemon_->port());
    conn.send("POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\"");
    bool closed = false;
    std::string reply = conn.read_all(std::chrono::seconds(10), &closed);
    EXPECT_TRUE(closed) << "a stalled body must not hold the connection";
    EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
  }
  {
    // A request, then silence: the connection is closed after the idle time.
    RawConn conn(daemon_->port());
    conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    std::string reply = conn.read_all(std::chrono::seconds(10), &closed);
    EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
    EXPECT_TRUE(closed) << "an idle keep-alive connection stayed open";
  }
  EXPECT_EQ(head_seq(*client_), 0u);
}

// The write timeout is its own setting: before, the listener used
// STRATA_READ_TIMEOUT_MS for both, so a client that stopped taking a
// response held its worker for the read timeout (here 60 s) instead.
TEST_F(Api, AClientThatStopsReadingAResponseIsCutOffAfterTheWriteTimeout) {
  start({{"STRATA_WRITE_TIMEOUT_MS", "300"}, {"STRATA_READ_TIMEOUT_MS", "60000"}});
  // 8 MiB of entries: more than the loopback socket buffers hold.
  const std::string big(1 << 20, 'x');
  for (int i = 0; i < 8; ++i) {
    auto r = post(*client_, "/v1/entries", entry_body(fmt::format("big/{}", i), big));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  RawConn conn(daemon_->port(), 4096);
  conn.send("GET /v1/entries?since=0 HTTP/1.1\r\nHost: x\r\n\r\n");
  // Takes nothing for ten times the write timeout, then everything there is.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  bool closed = false;
  const std::string reply = conn.read_all(std::chrono::seconds(5), &closed);
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply.substr(0, 200);
  EXPECT_TRUE(closed) << "the daemon kept writing to a client that took nothing";
  EXPECT_LT(reply.size(), 8u * big.size()) << "the whole stream arrived";
  EXPECT_FALSE(reply.ends_with("0\r\n\r\n")) << "the stream was not cut";
  // The daemon goes on serving.
  EXPECT_EQ(head_seq(*client_), 8u);
}

TEST_F(Api, ConnectionsBeyondTheLimitGet503AtOnce) {
  start({{"STRATA_MAX_CONNECTIONS", "2"}, {"STRATA_IDLE_TIMEOUT_MS", "20000"}});
  // Two connections each hold a worker (keep-alive, idle). The start-up
  // probe's connection may still hold one for a moment: until it lets go,
  // a new one is (rightly) shed, so retry.
  std::vector<std::unique_ptr<RawConn>> held;
  for (int attempt = 0; held.size() < 2 && attempt < 100; ++attempt) {
    auto c = std::make_unique<RawConn>(daemon_->port());
    c->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    const std::string reply = c->read_all(std::chrono::milliseconds(500), &closed);
    if (reply.find("HTTP/1.1 200") != std::string::npos && !closed) {
      held.push_back(std::move(c));
    } else {
      ASSERT_NE(reply.find("HTTP/1.1 503"), std::string::npos) << reply;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_EQ(held.size(), 2u);
  RawConn third(daemon_->port());
  third.send("POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  bool closed = false;
  std::string reply = third.read_all(std::chrono::seconds(5), &closed);
  EXPECT_NE(reply.find("HTTP/1.1 503"), std::string::npos) << reply;
  EXPECT_NE(reply.find("OVERLOADED"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Retry-After"), std::string::npos) << reply;
  EXPECT_TRUE(closed);
}

TEST_F(Api, ReadyzAndHealthz) {
  start();
  auto r = get(*client_, "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["ready"], true);
  r = get(*client_, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["status"], "alive");
}

}  // namespace
}  // namespace strata
