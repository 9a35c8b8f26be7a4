// The crash test: a child `strata append --jsonl` (WAL_SYNC=always) appends
// entries as fast as it can and prints each seq once it is durable; the
// parent SIGKILLs it at a random moment, reopens the WAL and checks that every
// acknowledged entry is intact and that nothing but whole, valid entries
// follows. Small segments make kills land during rotation too.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "strata/hash.h"
#include "strata/wal.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

// The data of the entry with this seq: recognisable, of varying size (up to
// ~48 KiB, so some records span several pages and can be torn).
std::string payload_for(uint64_t seq) {
  std::mt19937_64 rng(seq);
  size_t len = (seq % 17 == 0) ? 20000 + rng() % 28000 : 10 + rng() % 300;
  std::string data = fmt::format("seq-{}-", seq);
  while (data.size() < len) data += static_cast<char>('a' + rng() % 26);
  return data;
}

struct Child {
  pid_t pid = -1;
  int in_fd = -1;   // we write JSON lines here
  int out_fd = -1;  // acknowledged seqs come back here
};

Child spawn_appender(const std::string& data_dir) {
  int to_child[2], from_child[2];
  EXPECT_EQ(pipe(to_child), 0);
  EXPECT_EQ(pipe(from_child), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    close(to_child[1]);
    close(from_child[0]);
    setenv("WAL_SYNC", "always", 1);
    setenv("WAL_SEGMENT_BYTES", "262144", 1);
    execl(STRATA_BINARY, STRATA_BINARY, "--data-dir", data_dir.c_str(), "append", "--jsonl",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  return Child{pid, to_child[1], from_child[0]};
}

TEST(CrashTest, EveryAcknowledgedEntrySurvivesSigkill) {
  testing::TempDir dir;
  const std::string data_dir = dir.path();
  const std::string wal_dir = data_dir + "/wal";
  std::mt19937_64 rng(std::random_device{}());
  uint64_t head = 0;  // entries known to be in the log before this round
  uint64_t total_acked = 0;
  int rounds_with_torn_tail = 0;
  constexpr int kRounds = 60;
  constexpr auto kAckTimeout = std::chrono::seconds(60);

  for (int round = 0; round < kRounds; ++round) {
    Child c = spawn_appender(data_dir);
    const uint64_t first = head + 1;
    std::atomic<bool> stop{false};
    // Feed lines until the child dies (the write fails with EPIPE).
    std::thread feeder([&] {
      signal(SIGPIPE, SIG_IGN);
      for (uint64_t seq = first; !stop; ++seq) {
        std::string line =
            fmt::format(R"({{"type":"session","op":"update","path":"s/{}","data":"{}"}})", seq % 50,
                        payload_for(seq)) +
            "\n";
        const char* p = line.data();
        size_t left = line.size();
        while (left > 0) {
          ssize_t n = write(c.in_fd, p, left);
          if (n <= 0) return;
          p += n;
          left -= static_cast<size_t>(n);
        }
      }
    });
    // Collect acknowledgements until a random moment, then kill. Even
    // rounds count that moment from the spawn, so they also kill the child
    // while it opens the log; odd rounds count it from the first
    // acknowledgement, so they kill it while appending even where starting
    // takes longer than the whole window (a sanitized strata on a loaded
    // machine: every round then died before its first acknowledgement).
    const auto window = std::chrono::microseconds(5000 + rng() % 120000);
    const auto spawned = std::chrono::steady_clock::now();
    const bool from_first_ack = round % 2 == 1;
    auto kill_at = spawned + window;
    fcntl(c.out_fd, F_SETFL, O_NONBLOCK);
    std::string acks;
    char buf[4096];
    bool waiting_for_ack = from_first_ack;
    while (waiting_for_ack || std::chrono::steady_clock::now() < kill_at) {
      ssize_t n = read(c.out_fd, buf, sizeof(buf));
      if (n > 0) {
        acks.append(buf, static_cast<size_t>(n));
        if (waiting_for_ack) {
          waiting_for_ack = false;
          kill_at = std::chrono::steady_clock::now() + window;
        }
      } else if (n == 0) {
        break;  // the child is gone: nothing more to collect
      } else if (waiting_for_ack && std::chrono::steady_clock::now() - spawned > kAckTimeout) {
        ADD_FAILURE() << "round " << round << ": no acknowledgement within 60 s";
        break;
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    kill(c.pid, SIGKILL);
    stop = true;
    int status = 0;
    waitpid(c.pid, &status, 0);
    // The feeder's write fails with EPIPE now that the child is gone; only
    // after it returns may its descriptor be closed, or a write could land
    // in whatever file next reuses the number (ThreadSanitizer's report).
    feeder.join();
    close(c.in_fd);
    // Acks already written by the child before it died still count.
    ssize_t n;
    fcntl(c.out_fd, F_SETFL, 0);
    while ((n = read(c.out_fd, buf, sizeof(buf))) > 0) acks.append(buf, static_cast<size_t>(n));
    close(c.out_fd);

    uint64_t last_acked = head;
    size_t pos = 0;
    while (true) {
      size_t nl = acks.find('\n', pos);
      if (nl == std::string::npos) break;  // a partial line was not a full acknowledgement
      uint64_t seq = std::stoull(acks.substr(pos, nl - pos));
      ASSERT_EQ(seq, last_acked + 1) << "acknowledged seqs must be consecutive";
      last_acked = seq;
      pos = nl + 1;
    }
    total_acked += last_acked - head;

    OpenReport report;
    auto wal = Wal::open(WalOptions{.dir = wal_dir}, &report);
    if (report.torn_bytes_dropped > 0) rounds_with_torn_tail++;
    const uint64_t new_head = wal->status().head_seq;
    ASSERT_GE(new_head, last_acked) << "round " << round << ": an acknowledged entry was lost";
    // Every entry in the log is exactly what was sent for its seq: the
    // acknowledged ones and any that were durable but not yet acknowledged.
    uint64_t expect = first;
    wal->replay_view(head, 0, [&](const EntryView& e) {
      EXPECT_EQ(e.seq, expect);
      EXPECT_EQ(e.data, payload_for(e.seq)) << "round " << round << " seq " << e.seq;
      expect++;
      return true;
    });
    ASSERT_EQ(expect, new_head + 1);
    wal->close();
    VerifyResult v = Wal::verify(wal_dir);
    ASSERT_TRUE(v.ok) << v.bad_file << " @" << v.bad_offset << ": " << v.problem;
    head = new_head;
  }
  RecordProperty("acknowledged_entries", std::to_string(total_acked));
  RecordProperty("rounds_with_torn_tail", std::to_string(rounds_with_torn_tail));
  std::printf(
      "crash test: %d rounds, %llu entries acknowledged, %llu in the log, %d torn tails cut\n",
      kRounds, static_cast<unsigned long long>(total_acked), static_cast<unsigned long long>(head),
      rounds_with_torn_tail);
  EXPECT_GT(total_acked, 0u);
}

}  // namespace
}  // namespace strata
