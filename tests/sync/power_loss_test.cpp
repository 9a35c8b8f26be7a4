// Power loss while syncing: writers append (WAL_SYNC=interval/none, so a
// power loss may take back recent entries), a syncer ships continuously, the
// power is cut at a random moment and unsynced blocks of the data directory
// are reverted at random. The remote (another machine's disk) keeps what it
// was sent. Afterwards the local confirmed seq is never ahead of what the
// remote holds, the remote is never ahead of what the local log kept, the
// entries they share are the same, and the next sync completes.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <random>
#include <thread>

#include "strata/error.h"
#include "strata/object_sync.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/power_loss.h"
#include "sync/sync_test_support.h"
#include "wal/record_format.h"

namespace strata {
namespace {

std::string records_up_to(Wal& wal, uint64_t upto) {
  std::string out;
  wal.replay_view(0, 0, [&](const EntryView& e) {
    if (e.seq > upto) return false;
    size_t off = out.size();
    out.resize(off + wal::record_size(e.path.size(), e.data.size()));
    wal::encode_record(e.seq, e.timestamp_ms, e.to_entry(), out.data() + off);
    return true;
  });
  return out;
}

// The confirmed seq as a fresh process sees it.
uint64_t local_mark(Wal& wal, CheckpointStorage& store, const std::string& data_dir) {
  ObjectStoreSync tier(wal, store, testing::sync_options(data_dir));
  return tier.status().confirmed_seq;
}

TEST(SyncPowerLoss, TheLocalMarkNeverRunsAheadOfTheRemoteNorTheRemoteAheadOfTheLog) {
  const int kRounds = testing::power_loss_rounds(20);
  std::mt19937_64 seeds(20261201);
  uint64_t confirmed_total = 0, reverted_total = 0, rounds_with_remote = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    testing::TempDir tmp;
    const std::string data = tmp / "data";
    FsCheckpointStorage store(tmp / "remote");  // another machine: not affected
    FaultInjectionFileSystem fi;
    fi.track_unsynced_writes(true);
    {
      WalOptions o = testing::test_options(data + "/wal");
      o.tiers = {"object"};
      o.fs = &fi;
      o.sync = round % 2 ? SyncMode::kInterval : SyncMode::kNone;
      // Long intervals and large segments leave most of the log unsynced
      // (nothing seals or syncs it), so shipping it unsynced would show.
      o.sync_interval_ms = 5000;
      o.segment_bytes = 16 << 20;
      auto wal = Wal::open(o);
      ObjectSyncOptions so = testing::sync_options(data);
      so.fs = &fi;
      so.object_bytes = 32 * 1024;
      so.parallelism = 2;
      auto tier = std::make_unique<ObjectStoreSync>(*wal, store, so);
      std::atomic<bool> stop{false};
      std::thread writer([&] {
        for (uint64_t i = 0; !stop; i += 20) {
          try {
            testing::append_sessions(*wal, 20, i, 300);
          } catch (const Error&) {
            return;  // no power
          }
          // Slow enough that syncs keep up and confirm often.
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      });
      std::thread syncer([&] {
        while (!stop) {
          try {
            tier->sync();
          } catch (const Error&) {
            if (stop) return;
          }
        }
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + seeds() % 800));
      fi.cut_power();
      stop = true;
      writer.join();
      syncer.join();
      tier.reset();
      wal.reset();  // closing fails quietly: there is no power
    }
    reverted_total += fi.lose_unsynced_writes(seeds());

    auto wal = Wal::open(testing::test_options(data + "/wal"));
    const uint64_t mark = local_mark(*wal, store, data);
    auto m = read_remote_manifest(store);
    const uint64_t remote_head = m ? m->head_seq : 0;
    const uint64_t local_head = wal->status().head_seq;
    EXPECT_LE(mark, remote_head) << "confirmed locally but not on the remote";
    ASSERT_GE(local_head, remote_head) << "the remote holds entries the local log lost";
    if (m) {
      rounds_with_remote++;
      std::string remote;
      for (const auto& o : m->log) remote += decode_log_object(*store.read_file(o.key), o);
      EXPECT_EQ(remote, records_up_to(*wal, remote_head));
    }
    confirmed_total += mark;
    ObjectStoreSync tier(*wal, store, testing::sync_options(data));
    SyncResult r = tier.sync();
    EXPECT_EQ(r.confirmed_seq, local_head);
    EXPECT_TRUE(tier.verify_remote().ok);
  }
  EXPECT_GT(rounds_with_remote, kRounds / 2u);
  EXPECT_GT(confirmed_total, 0u);
  std::printf("sync power loss: %d rounds, %llu seqs confirmed in total, %llu blocks reverted\n",
              kRounds, static_cast<unsigned long long>(confirmed_total),
              static_cast<unsigned long long>(reverted_total));
  EXPECT_GT(reverted_total, 0u);
}

}  // namespace
}  // namespace strata
