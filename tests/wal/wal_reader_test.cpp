// WalReader: the lock-free, read-only view of a WAL (issue #10 defects 5
// and 6, issue #13's read-only commands while the daemon runs).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "strata/error.h"
#include "strata/testing/fault_injection_file_system.h"
#include "strata/wal.h"
#include "strata/wal_reader.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::make_entry;
using testing::TempDir;

class WalReaderTest : public ::testing::Test {
 protected:
  WalOptions opts() { return testing::test_options(dir_); }
  WalOptions small() {
    WalOptions o = opts();
    o.segment_bytes = 4096;
    return o;
  }
  static std::string payload(uint64_t seq) {
    return fmt::format("v{}-{}", seq, std::string(60, 'd'));
  }
  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
};

TEST_F(WalReaderTest, Defect5ReadsWhileAWriterHoldsTheLock) {
  auto wal = Wal::open(small());
  for (uint64_t i = 1; i <= 100; ++i) wal->append(make_entry(fmt::format("p{}", i), payload(i)));
  ASSERT_GE(wal->snapshot().sealed.size(), 2u);
  // The writer holds the lock: a second writer could not open, a reader can.
  auto reader = WalReader::open(opts());
  EXPECT_EQ(reader->head_seq(), 100u);
  auto e = reader->read_entry(57);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "p57");
  EXPECT_EQ(e->data, payload(57));
  EXPECT_FALSE(reader->read_entry(101));
  EXPECT_FALSE(reader->read_entry(0));
  uint64_t expect = 41;
  EXPECT_EQ(reader->replay_view(40, 0,
                                [&](const EntryView& v) {
                                  EXPECT_EQ(v.seq, expect++);
                                  EXPECT_EQ(v.data, payload(v.seq));
                                  return true;
                                }),
            60u);
  EXPECT_EQ(reader->replay_view(10, 5, [](const EntryView&) { return true; }), 5u);

  // Same figures as the writer's own.
  WalSnapshot mine = reader->snapshot(), theirs = wal->snapshot();
  ASSERT_EQ(mine.sealed.size(), theirs.sealed.size());
  for (size_t i = 0; i < mine.sealed.size(); ++i) {
    EXPECT_EQ(mine.sealed[i].file, theirs.sealed[i].file);
    EXPECT_EQ(mine.sealed[i].sha256, theirs.sealed[i].sha256);
    EXPECT_EQ(mine.sealed[i].last_seq, theirs.sealed[i].last_seq);
  }
  EXPECT_EQ(mine.active.file, theirs.active.file);
  EXPECT_EQ(mine.active.last_seq, theirs.active.last_seq);
  EXPECT_EQ(mine.active.bytes, theirs.active.bytes);
  WalStatus st = reader->status();
  EXPECT_EQ(st.head_seq, 100u);
  EXPECT_EQ(st.first_seq, 1u);
  EXPECT_EQ(st.segments, wal->status().segments);
  EXPECT_EQ(st.total_bytes, wal->status().total_bytes);
  EXPECT_EQ(st.history_id, wal->status().history_id);

  // New entries show after refresh().
  wal->append(make_entry("late", payload(101)));
  EXPECT_EQ(reader->head_seq(), 100u);
  reader->refresh();
  EXPECT_EQ(reader->head_seq(), 101u);
  EXPECT_EQ(reader->read_entry(101)->data, payload(101));
}

TEST_F(WalReaderTest, Defect5ReaderWritesNothingAndLeavesATornTailAlone) {
  {
    auto wal = Wal::open(opts());
    for (uint64_t i = 1; i <= 5; ++i) wal->append(make_entry(fmt::format("p{}", i), payload(i)));
    auto snap = wal->snapshot();
    wal->close();
    testing::patch_file(dir_ + "/" + snap.active.file, snap.active.bytes, "GARBAGE");
  }
  const auto before = testing::dir_bytes(dir_);
  FaultInjectionFileSystem fs;
  // As on a read-only file system: anything that would change it fails.
  for (FsOp op : {FsOp::kWrite, FsOp::kSyncData, FsOp::kSync, FsOp::kTruncate, FsOp::kRename,
                  FsOp::kRemove, FsOp::kMakeDirs, FsOp::kSyncDir, FsOp::kLock}) {
    fs.add_rule(FaultRule{op, "", 0, -1, EROFS, 0});
  }
  WalOptions o = opts();
  o.fs = &fs;
  auto reader = WalReader::open(o);
  EXPECT_EQ(reader->head_seq(), 5u);
  EXPECT_EQ(reader->read_entry(5)->data, payload(5));
  EXPECT_EQ(reader->replay_view(0, 0, [](const EntryView&) { return true; }), 5u);
  reader->snapshot();
  reader->status();
  reader->refresh();
  for (FsOp op : {FsOp::kWrite, FsOp::kSyncData, FsOp::kSync, FsOp::kTruncate, FsOp::kRename,
                  FsOp::kRemove, FsOp::kMakeDirs, FsOp::kSyncDir, FsOp::kLock}) {
    EXPECT_EQ(fs.count(op), 0u) << "op " << static_cast<int>(op);
  }
  EXPECT_EQ(testing::dir_bytes(dir_), before);
}

TEST_F(WalReaderTest, Defect6MissingWalIsNotFoundAndNothingIsCreated) {
  try {
    WalReader::open(opts());
    ADD_FAILURE() << "opened a WAL that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir_), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir_));
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.path()));
}

TEST_F(WalReaderTest, Defect5ReaderCopesWithRotationCompactionAndPruningUnderIt) {
  WalOptions o = small();
  o.tiers = {"object"};
  auto wal = Wal::open(o);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  std::thread writer([&] {
    uint64_t i = 0;
    while (!stop) {
      for (int k = 0; k < 20; ++k) {
        ++i;
        ASSERT_EQ(wal->append(make_entry(fmt::format("p{}", i % 7), payload(i))), i);
      }
      written = i;
      if (i % 100 == 0) wal->compact(/*force=*/true);
      if (i % 160 == 0) {
        wal->confirm("object", i - 40);
        wal->delete_sealed_through(i - 40);
      }
    }
  });
  uint64_t rounds = 0, last_head = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until || rounds < 20) {
    auto reader = WalReader::open(opts());
    const uint64_t head = reader->head_seq();
    EXPECT_GE(head, last_head) << "the head went backwards";
    last_head = head;
    uint64_t prev = 0;
    reader->replay_view(0, 0, [&](const EntryView& v) {
      EXPECT_GT(v.seq, prev);
      EXPECT_EQ(v.data, payload(v.seq)) << "seq " << v.seq;
      prev = v.seq;
      return !::testing::Test::HasFailure();
    });
    EXPECT_EQ(prev, head) << "the newest entry is never compacted away";
    if (head > 0) {
      EXPECT_EQ(reader->read_entry(head)->data, payload(head));
    }
    rounds++;
    if (::testing::Test::HasFailure()) break;
  }
  stop = true;
  writer.join();
  EXPECT_GT(written.load(), 200u) << "the writer did too little for the test to mean much";
  EXPECT_GT(wal->metrics().compactions, 0u);
  EXPECT_GT(wal->metrics().sealed_segments_deleted, 0u);
  RecordProperty("reader_rounds", std::to_string(rounds));
}

}  // namespace
}  // namespace strata
