// The event loop's path for POST /v1/entries (src/server/event_loop.h) in a
// real `strata serve` over real sockets: requests split and pipelined any
// way TCP may deliver them, the handover of a connection to httplib's path
// with the bytes already read, every refusal answered as before, timeouts,
// slow readers, many connections and a shutdown with requests in flight.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
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

// A raw client socket (no HTTP library: it must split, pipeline and stall
// at will).
class FastPathSocket {
 public:
  explicit FastPathSocket(int port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) ::close(fd_), fd_ = -1;
  }
  ~FastPathSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  void send(std::string_view s) {
    size_t done = 0;
    while (done < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  // Reads until `count` complete responses (by Content-Length) arrived, the
  // peer closes or `wait` passes; returns the bodies in order, *closed says
  // whether the peer closed.
  std::vector<std::pair<int, std::string>> responses(size_t count, std::chrono::milliseconds wait,
                                                     bool* closed = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    timeval tv{0, 50000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::vector<std::pair<int, std::string>> out;
    bool eof = false;
    while (out.size() < count && !eof && std::chrono::steady_clock::now() < deadline) {
      char buf[8192];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) eof = true;
      if (n > 0) pending_.append(buf, static_cast<size_t>(n));
      take(out, count);
    }
    if (closed) {
      // Closed now, or right after the last answer.
      if (!eof) {
        char c;
        const ssize_t n = ::recv(fd_, &c, 1, 0);
        eof = n == 0 || (n < 0 && errno == ECONNRESET);
      }
      *closed = eof;
    }
    return out;
  }
  std::string raw() const { return pending_; }

 private:
  void take(std::vector<std::pair<int, std::string>>& out, size_t count) {
    while (out.size() < count) {
      const size_t head_end = pending_.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      const std::string head = pending_.substr(0, head_end);
      const int status = std::atoi(head.c_str() + 9);
      if (status == 100) {  // interim: no body
        pending_.erase(0, head_end + 4);
        out.emplace_back(100, "");
        continue;
      }
      size_t length = 0;
      const size_t cl = head.find("Content-Length: ");
      if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
      if (pending_.size() < head_end + 4 + length) return;
      out.emplace_back(status, pending_.substr(head_end + 4, length));
      pending_.erase(0, head_end + 4 + length);
    }
  }
  int fd_ = -1;
  std::string pending_;
};

std::string fast_post(std::string_view body, std::string_view extra_headers = "") {
  return fmt::format("POST /v1/entries HTTP/1.1\r\nHost: x\r\n{}Content-Length: {}\r\n\r\n{}",
                     extra_headers, body.size(), body);
}

class FastPath : public ::testing::Test {
 protected:
  void start(Env env = {}) {
    env.emplace("GIT_SYNC_INTERVAL_MS", "3600000");
    daemon_ = std::make_unique<DaemonProcess>(tmp_.path(), env);
    daemon_->start();
    client_ = daemon_->client();
  }
  uint64_t head() {
    auto r = get(*client_, "/v1/status");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["wal"]["head_seq"].get<uint64_t>();
  }
  std::string data_of(uint64_t seq) {
    auto r = get(*client_, fmt::format("/v1/entries/{}", seq));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json()["data"].get<std::string>() : "";
  }
  TempDir tmp_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(FastPath, PipelinedRequestsInOnePacketAreAnsweredInOrder) {
  start();
  FastPathSocket s(daemon_->port());
  ASSERT_TRUE(s.ok());
  std::string all;
  for (int i = 0; i < 20; ++i)
    all += fast_post(entry_body(fmt::format("p/{}", i), fmt::format("d{}", i)));
  // A batch form among them: its two entries take two seqs.
  all += fast_post(R"({"entries":[{"type":"bead","op":"create","path":"b/1","data":"x"},)"
                   R"({"type":"bead","op":"create","path":"b/2","data":"y"}]})");
  s.send(all);
  auto got = s.responses(21, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), 21u) << s.raw();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(got[i].first, 200);
    EXPECT_EQ(got[i].second, fmt::format(R"({{"seq":{}}})", i + 1));
  }
  EXPECT_EQ(got[20].second, R"({"first_seq":21,"last_seq":22,"count":2})");
  EXPECT_EQ(data_of(7), "d6");
  EXPECT_EQ(head(), 22u);
}

TEST_F(FastPath, ARequestSplitAtEveryByteBoundaryIsAnsweredOnce) {
  start();
  FastPathSocket s(daemon_->port());
  ASSERT_TRUE(s.ok());
  const std::string req = fast_post(entry_body("split", "abc"), "Authorization: Bearer none\r\n");
  for (size_t cut = 1; cut < req.size(); ++cut) {
    SCOPED_TRACE(cut);
    s.send(std::string_view(req).substr(0, cut));
    // Long enough that the two halves are usually read apart.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    s.send(std::string_view(req).substr(cut));
    auto got = s.responses(1, std::chrono::seconds(10));
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].first, 200);
    EXPECT_EQ(got[0].second, fmt::format(R"({{"seq":{}}})", cut));
  }
  EXPECT_EQ(head(), req.size() - 1);
}

TEST_F(FastPath, OtherRequestsHandTheConnectionOverWithTheBytesAlreadyRead) {
  start();
  FastPathSocket s(daemon_->port());
  ASSERT_TRUE(s.ok());
  // Two appends for the loop, a GET for httplib in the same packet, and the
  // rest after it: the connection stays with httplib and still appends.
  s.send(fast_post(entry_body("h/1", "one")) + fast_post(entry_body("h/2", "two")) +
         "GET /v1/entries/1 HTTP/1.1\r\nHost: x\r\n\r\n" + fast_post(entry_body("h/3", "three")) +
         "POST /v1/entries?durability=local HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(entry_body("h/4", "four").size()) + "\r\n\r\n" + entry_body("h/4", "four"));
  auto got = s.responses(5, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), 5u) << s.raw();
  EXPECT_EQ(got[0].second, R"({"seq":1})");
  EXPECT_EQ(got[1].second, R"({"seq":2})");
  EXPECT_EQ(got[2].first, 200);
  EXPECT_EQ(nlohmann::json::parse(got[2].second)["data"], "one");
  EXPECT_EQ(got[3].second, R"({"seq":3})");
  EXPECT_EQ(got[4].second, R"({"seq":4})");
  EXPECT_EQ(data_of(4), "four");
}

TEST_F(FastPath, ExpectChunkedAndConnectionCloseTakeHttplibsPath) {
  start();
  const std::string body = entry_body("e/1", "x");
  {
    FastPathSocket s(daemon_->port());
    s.send(
        fmt::format("POST /v1/entries HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    "Content-Length: {}\r\n\r\n",
                    body.size()));
    auto interim = s.responses(1, std::chrono::seconds(10));
    ASSERT_EQ(interim.size(), 1u) << s.raw();
    EXPECT_EQ(interim[0].first, 100);
    s.send(body);
    auto got = s.responses(1, std::chrono::seconds(10));
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].second, R"({"seq":1})");
  }
  {
    FastPathSocket s(daemon_->port());
    s.send(
        fmt::format("POST /v1/entries HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "{:x}\r\n{}\r\n0\r\n\r\n",
                    body.size(), body));
    auto got = s.responses(1, std::chrono::seconds(10));
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].second, R"({"seq":2})");
  }
  {
    FastPathSocket s(daemon_->port());
    s.send(fast_post(body, "Connection: close\r\n"));
    bool closed = false;
    auto got = s.responses(1, std::chrono::seconds(10), &closed);
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].second, R"({"seq":3})");
    EXPECT_TRUE(closed);
  }
  EXPECT_EQ(head(), 3u);
}

TEST_F(FastPath, AWrongTokenIs401AndWritesNothingWhileTheRightOneAppends) {
  start({{"STRATA_TOKEN", "s3cret-token-0123456789"}});
  {
    FastPathSocket s(daemon_->port());
    s.send(fast_post(entry_body("t/1", "x"), "Authorization: Bearer s3cret-token-0123456789\r\n") +
           fast_post(entry_body("t/2", "y"), "Authorization: Bearer s3cret-token-012345678X\r\n") +
           fast_post(entry_body("t/3", "z"), "Authorization: Bearer s3cret-token-0123456789\r\n"));
    bool closed = false;
    auto got = s.responses(3, std::chrono::seconds(10), &closed);
    ASSERT_EQ(got.size(), 2u) << s.raw();
    EXPECT_EQ(got[0].second, R"({"seq":1})");
    EXPECT_EQ(got[1].first, 401);
    EXPECT_EQ(nlohmann::json::parse(got[1].second)["error"]["code"], "UNAUTHORIZED");
    EXPECT_EQ(got[1].second.find("s3cret"), std::string::npos) << "the token was echoed";
    EXPECT_TRUE(closed) << "the request after a refused one must not be read";
  }
  {
    FastPathSocket s(daemon_->port());
    s.send(fast_post(entry_body("t/4", "x")));
    auto got = s.responses(1, std::chrono::seconds(10));
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].first, 401);
  }
  EXPECT_EQ(head(), 1u);
}

TEST_F(FastPath, BadBodiesAndOversizedOnesGetTheirErrorsAndWriteNothing) {
  start({{"STRATA_MAX_BODY_BYTES", "4096"}, {"WAL_MAX_ENTRY_BYTES", "1000"}});
  FastPathSocket s(daemon_->port());
  const std::string too_big_entry = entry_body("big", std::string(2000, 'x'));
  // A bad body, a good one and one the WAL refuses arrive together: only
  // the good one is appended and each gets its own answer.
  s.send(fast_post("{not json") + fast_post(entry_body("ok", "x")) + fast_post(too_big_entry) +
         fast_post(entry_body("../up", "x")));
  auto got = s.responses(4, std::chrono::seconds(10));
  ASSERT_EQ(got.size(), 4u) << s.raw();
  EXPECT_EQ(got[0].first, 400);
  EXPECT_EQ(nlohmann::json::parse(got[0].second)["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(got[1].second, R"({"seq":1})");
  EXPECT_EQ(got[2].first, 413);
  EXPECT_EQ(nlohmann::json::parse(got[2].second)["error"]["code"], "ENTRY_TOO_LARGE");
  EXPECT_EQ(got[3].first, 400);
  EXPECT_EQ(nlohmann::json::parse(got[3].second)["error"]["code"], "INVALID_PATH");
  // Over STRATA_MAX_BODY_BYTES: httplib's 413 before the body is read.
  s.send(fmt::format("POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{}",
                     std::string(100, ' ')));
  bool closed = false;
  got = s.responses(1, std::chrono::seconds(10), &closed);
  ASSERT_EQ(got.size(), 1u) << s.raw();
  EXPECT_EQ(got[0].first, 413);
  EXPECT_EQ(nlohmann::json::parse(got[0].second)["error"]["code"], "PAYLOAD_TOO_LARGE");
  EXPECT_TRUE(closed);
  EXPECT_EQ(head(), 1u);
}

TEST_F(FastPath, IdleAndStalledConnectionsAreClosed) {
  start({{"STRATA_READ_TIMEOUT_MS", "400"}, {"STRATA_IDLE_TIMEOUT_MS", "600"}});
  {
    FastPathSocket s(daemon_->port());
    s.send(fast_post(entry_body("i/1", "x")));
    bool closed = false;
    auto got = s.responses(2, std::chrono::seconds(10), &closed);
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].second, R"({"seq":1})");
    EXPECT_TRUE(closed) << "an idle keep-alive connection stayed open";
  }
  {
    // Half a head, then silence.
    FastPathSocket s(daemon_->port());
    s.send("POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Le");
    bool closed = false;
    auto got = s.responses(2, std::chrono::seconds(10), &closed);
    EXPECT_TRUE(closed);
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].first, 400);
  }
  {
    // A whole head, part of the body.
    FastPathSocket s(daemon_->port());
    s.send("POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\"");
    bool closed = false;
    auto got = s.responses(2, std::chrono::seconds(10), &closed);
    EXPECT_TRUE(closed);
    ASSERT_EQ(got.size(), 1u) << s.raw();
    EXPECT_EQ(got[0].first, 400);
  }
  EXPECT_EQ(head(), 1u);
}

TEST_F(FastPath, ASlowReaderHoldsOnlyItsOwnConnection) {
  start({{"STRATA_WRITE_TIMEOUT_MS", "60000"}});
  FastPathSocket slow(daemon_->port(), 4096);
  ASSERT_TRUE(slow.ok());
  // Far more answers than the socket buffers hold, sent without reading.
  constexpr int kRequests = 3000;
  std::string burst;
  for (int i = 0; i < kRequests; ++i) burst += fast_post(entry_body("s/slow", "x"));
  std::thread sender([&] { slow.send(burst); });
  // Meanwhile the loop serves everyone else.
  for (int i = 0; i < 20; ++i) {
    auto r = post(*client_, "/v1/entries", entry_body(fmt::format("s/{}", i), "y"));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  auto got = slow.responses(kRequests, std::chrono::seconds(120));
  sender.join();
  ASSERT_EQ(got.size(), static_cast<size_t>(kRequests));
  uint64_t prev = 0;
  for (const auto& [status, body] : got) {
    ASSERT_EQ(status, 200) << body;
    const uint64_t seq = nlohmann::json::parse(body)["seq"].get<uint64_t>();
    EXPECT_GT(seq, prev);
    prev = seq;
  }
  EXPECT_EQ(head(), static_cast<uint64_t>(kRequests + 20));
}

TEST_F(FastPath, ManyConnectionsPipeliningGetGaplessSeqs) {
  start({{"STRATA_MAX_CONNECTIONS", "200"}});
  constexpr int kConns = 100;
  constexpr int kRounds = 5;
  constexpr int kDepth = 4;  // pipelined requests per round
  std::vector<std::vector<uint64_t>> seqs(kConns);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConns; ++c) {
    threads.emplace_back([&, c] {
      FastPathSocket s(daemon_->port());
      for (int r = 0; r < kRounds; ++r) {
        std::string burst;
        for (int d = 0; d < kDepth; ++d) {
          burst += fast_post(entry_body(fmt::format("m/{}/{}/{}", c, r, d), "z"));
        }
        s.send(burst);
        auto got = s.responses(kDepth, std::chrono::seconds(60));
        if (got.size() != kDepth) failures++;
        for (const auto& [status, body] : got) {
          if (status != 200) {
            failures++;
            continue;
          }
          seqs[c].push_back(nlohmann::json::parse(body)["seq"].get<uint64_t>());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures, 0);
  std::set<uint64_t> all;
  for (const auto& v : seqs) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
    all.insert(v.begin(), v.end());
  }
  constexpr uint64_t kTotal = kConns * kRounds * kDepth;
  ASSERT_EQ(all.size(), kTotal);
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), kTotal) << "a gap";
  // Every fast-path answer is counted by route and status.
  const std::string metrics = get(*client_, "/metrics").body;
  const std::string key = R"(method="POST",route="/v1/entries",status="200"} )";
  const size_t at = metrics.find(key);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_EQ(std::stod(metrics.substr(at + key.size())), static_cast<double>(kTotal));
}

TEST_F(FastPath, ShutdownAnswersTheRequestsInFlightAndKeepsThemAll) {
  start();
  constexpr int kConns = 8;
  constexpr int kDepth = 50;
  std::vector<std::unique_ptr<FastPathSocket>> socks;
  for (int c = 0; c < kConns; ++c)
    socks.push_back(std::make_unique<FastPathSocket>(daemon_->port()));
  for (int c = 0; c < kConns; ++c) {
    std::string burst;
    for (int d = 0; d < kDepth; ++d)
      burst += fast_post(entry_body(fmt::format("z/{}/{}", c, d), "w"));
    socks[c]->send(burst);
  }
  daemon_->signal(SIGTERM);
  std::vector<uint64_t> acked;
  for (auto& s : socks) {
    for (const auto& [status, body] : s->responses(kDepth, std::chrono::seconds(30))) {
      if (status == 200) acked.push_back(nlohmann::json::parse(body)["seq"].get<uint64_t>());
    }
  }
  EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->log();
  // Every answer it gave holds after a restart, and it gave them all: the
  // requests had arrived before the signal.
  EXPECT_EQ(acked.size(), static_cast<size_t>(kConns * kDepth));
  daemon_->start();
  client_ = daemon_->client();
  const uint64_t h = head();
  for (uint64_t seq : acked) EXPECT_LE(seq, h);
  EXPECT_EQ(h, acked.size());
}

}  // namespace
}  // namespace strata
