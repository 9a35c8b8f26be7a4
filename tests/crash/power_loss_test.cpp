// The power-loss test: writers append concurrently (several group commits in
// flight), the power is cut at a random moment, and every block written but
// not yet covered by a completed fdatasync is reverted with probability 1/2,
// in no order, as a disk that lost power may leave it. Reopening must then
// succeed (a torn tail is fine, WAL_CORRUPT is not), keep every acknowledged
// entry intact, and leave a log that verifies.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "strata/error.h"
#include "strata/testing/fault_injection_file_system.h"
#include "strata/wal.h"
#include "support/power_loss.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

std::string payload(int thread, int i, std::mt19937& rng) {
  // Mostly small entries, some spanning several blocks.
  const size_t len = (rng() % 13 == 0) ? 5000 + rng() % 9000 : 20 + rng() % 400;
  std::string d = fmt::format("{}/{}:", thread, i);
  d.append(len, static_cast<char>('a' + (thread * 7 + i) % 26));
  return d;
}

// Options for a WAL in dir whose I/O goes through fi, which tracks what a
// power loss may take back.
WalOptions tracked_options(FaultInjectionFileSystem& fi, const std::string& dir) {
  fi.track_unsynced_writes(true);
  auto o = testing::test_options(dir);
  o.fs = &fi;
  return o;
}

// Reopens dir on the real file system after the power loss; a refusal is a
// test failure (and null).
std::unique_ptr<Wal> reopen_after_power_loss(const std::string& dir, OpenReport* rep) {
  try {
    return Wal::open(testing::test_options(dir), rep);
  } catch (const Error& e) {
    ADD_FAILURE() << "reopen after power loss: " << e.what();
    return nullptr;
  }
}

TEST(PowerLoss, AcknowledgedEntriesSurviveLosingAnyUnsyncedBlocks) {
  const int kRounds = testing::power_loss_rounds(60);
  testing::TempDir tmp;
  const std::string dir = tmp / "wal";
  std::mt19937_64 seeds(20261126);
  uint64_t total_acked = 0, total_reverted = 0, torn_rounds = 0, hole_rounds = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    std::filesystem::remove_all(dir);
    FaultInjectionFileSystem fi;
    auto o = tracked_options(fi, dir);
    o.syncs_in_flight = 1 + round % 3;
    o.segment_bytes = 128 * 1024;  // rotations happen during the run
    std::map<uint64_t, std::string> acked;
    std::mutex mu;
    {
      auto wal = Wal::open(o);
      std::atomic<bool> stop{false};
      std::vector<std::thread> writers;
      for (int t = 0; t < 6; ++t) {
        writers.emplace_back([&, t] {
          std::mt19937 rng(static_cast<uint32_t>(round * 100 + t));
          for (int i = 0; !stop && i < 100000; ++i) {
            Entry e = testing::make_entry(fmt::format("w{}/{}", t, i % 50), payload(t, i, rng));
            try {
              const uint64_t seq = wal->append(e);
              std::lock_guard lk(mu);
              acked[seq] = e.data;
            } catch (const Error&) {
              return;  // the power is out
            }
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + seeds() % 60));
      if (round % 2 == 0) {
        // The power goes while groups are written but not synced: syncs
        // stop completing first, so their blocks are at risk.
        fi.add_rule(testing::fault(FsOp::kSyncData, "", 0, -1));
        fi.add_rule(testing::fault(FsOp::kSync, "", 0, -1));
        for (auto& w : writers) w.join();
        fi.cut_power();
      } else {
        fi.cut_power();
        for (auto& w : writers) w.join();
      }
      stop = true;
      wal.reset();  // closing fails quietly: there is no power
    }
    total_reverted += fi.lose_unsynced_writes(seeds());
    total_acked += acked.size();

    OpenReport rep;
    auto wal = reopen_after_power_loss(dir, &rep);
    ASSERT_TRUE(wal);
    if (rep.torn_bytes_dropped > 0) torn_rounds++;
    for (const auto& n : rep.notes) {
      if (n.find("never reached the disk") != std::string::npos) hole_rounds++;
    }
    EXPECT_EQ(rep.corrupt_records_skipped, 0u);
    for (const auto& [seq, data] : acked) {
      auto e = wal->read_entry(seq);
      ASSERT_TRUE(e.has_value()) << "acknowledged seq " << seq << " lost; head "
                                 << wal->status().head_seq << "; open notes: "
                                 << fmt::format("{}", fmt::join(rep.notes, " | "));
      ASSERT_EQ(e->data, data) << "seq " << seq;
    }
    // Whatever survived beyond the acknowledged ones is whole and in order.
    uint64_t prev = 0;
    wal->replay_view(0, 0, [&](const EntryView& v) {
      EXPECT_EQ(v.seq, prev + 1);
      prev = v.seq;
      return true;
    });
    EXPECT_GE(prev, acked.empty() ? 0 : acked.rbegin()->first);
    wal->append(testing::make_entry("after", "x"));
    wal->close();
    auto v = Wal::verify(dir);
    EXPECT_TRUE(v.ok) << v.bad_file << ": " << v.problem;
  }
  // The test must have exercised something: acknowledged entries and lost
  // blocks (the figures also go to the log for the curious).
  EXPECT_GT(total_acked, 100u);
  EXPECT_GT(total_reverted, 0u);
  std::printf(
      "power loss: %llu entries acknowledged over %d rounds, %llu blocks reverted, "
      "%llu rounds cut a torn tail, %llu of them after an unwritten block\n",
      static_cast<unsigned long long>(total_acked), kRounds,
      static_cast<unsigned long long>(total_reverted), static_cast<unsigned long long>(torn_rounds),
      static_cast<unsigned long long>(hole_rounds));
}

// `interval` mode acknowledges an append once the OS has it and syncs every
// WAL_SYNC_INTERVAL_MS, so a power loss may take the last interval's entries,
// and many unsynced blocks at once. Opening must still succeed, keep
// everything up to the durable seq reported before the cut, and what it keeps
// beyond that must be whole, in order and what was written.
TEST(PowerLoss, IntervalModeKeepsTheDurablePrefixAndOpensCleanly) {
  const int kRounds = testing::power_loss_rounds(30);
  testing::TempDir tmp;
  const std::string dir = tmp / "wal";
  std::mt19937_64 seeds(7);
  uint64_t reverted = 0, beyond_durable = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    std::filesystem::remove_all(dir);
    FaultInjectionFileSystem fi;
    auto o = tracked_options(fi, dir);
    o.sync = SyncMode::kInterval;
    o.sync_interval_ms = 5;
    o.segment_bytes = 256 * 1024;
    std::map<uint64_t, std::string> written;
    uint64_t durable = 0;
    {
      auto wal = Wal::open(o);
      std::mt19937 rng(static_cast<uint32_t>(round));
      const auto until =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(10 + seeds() % 40);
      for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
        Entry e = testing::make_entry(fmt::format("p/{}", i % 40), payload(0, i, rng));
        written[wal->append(e)] = e.data;
      }
      durable = wal->status().durable_seq;
      fi.cut_power();
      wal.reset();
    }
    reverted += fi.lose_unsynced_writes(seeds());
    OpenReport rep;
    auto wal = reopen_after_power_loss(dir, &rep);
    ASSERT_TRUE(wal);
    const uint64_t head = wal->status().head_seq;
    EXPECT_GE(head, durable);
    beyond_durable += head - durable;
    uint64_t prev = 0;
    wal->replay_view(0, 0, [&](const EntryView& v) {
      EXPECT_EQ(v.seq, prev + 1);
      EXPECT_EQ(std::string(v.data), written[v.seq]) << "seq " << v.seq;
      prev = v.seq;
      return true;
    });
    EXPECT_EQ(prev, head);
    wal->close();
  }
  EXPECT_GT(reverted, 0u);
  std::printf(
      "interval power loss: %llu blocks reverted over %d rounds, %llu entries kept "
      "beyond the durable seq\n",
      static_cast<unsigned long long>(reverted), kRounds,
      static_cast<unsigned long long>(beyond_durable));
}

}  // namespace
}  // namespace strata
