// Power loss during the WAL's maintenance: compaction (its output renamed
// into place, the inputs deleted) and pruning (delete_sealed_through), on the
// fault-injecting file system, which at the cut reverts unsynced data blocks
// and undoes directory entries no directory fsync covered. The power goes at
// each rename, unlink and directory fsync in turn. After every cut the log
// opens without damage, holds every entry it must (nothing above the floor,
// no entry that is the latest of its path), each one intact and once, with no
// gap, and the tier mark it had acknowledged.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "strata/error.h"
#include "strata/testing/fault_injection_file_system.h"
#include "strata/wal.h"
#include "support/power_loss.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::make_entry;
using testing::TempDir;

constexpr uint64_t kN = 300;
std::string path_of(uint64_t i) {
  return fmt::format("p{}", i % 5);
}
std::string maintained_data(uint64_t i) {
  return fmt::format("v{}-{}", i, std::string(60, 'd'));
}

struct Cut {
  FsOp op;
  const char* path;
  int skip;
};

// The calls a cut is aimed at: each rename, unlink, file and directory
// fsync of the maintenance step (skip = how many of that kind go through
// first), and last none (the cut right after it returned).
constexpr Cut kCuts[] = {
    {FsOp::kRename, "", 0}, {FsOp::kRemove, "", 0},  {FsOp::kSyncDir, "", 0}, {FsOp::kSync, "", 0},
    {FsOp::kRename, "", 1}, {FsOp::kRemove, "", 1},  {FsOp::kSyncDir, "", 1}, {FsOp::kSync, "", 1},
    {FsOp::kRemove, "", 2}, {FsOp::kSyncDir, "", 2}, {FsOp::kRemove, "", 3},  {FsOp::kCount, "", 0},
};

class WalPowerLoss : public ::testing::TestWithParam<bool> {
 protected:
  WalOptions opts(FileSystem* fs) {
    auto o = testing::test_options(dir_);
    o.segment_bytes = 4096;
    o.tiers = {"object"};
    o.fs = fs;
    return o;
  }
  // Writes kN entries and confirms `floor` (the segments up to it are
  // prunable, their superseded entries compactable).
  // Once, into template_; each round starts from a copy.
  void fill() {
    auto o = opts(nullptr);
    o.dir = template_;
    o.sync = SyncMode::kNone;  // a copy is made of it closed: the fsyncs would only cost time
    auto wal = Wal::open(o);
    for (uint64_t i = 1; i <= kN; ++i) wal->append(make_entry(path_of(i), maintained_data(i)));
    const auto snap = wal->snapshot();
    ASSERT_GE(snap.sealed.size(), 4u);
    sealed_last_ = snap.sealed.back().last_seq;
    floor_ = snap.sealed[snap.sealed.size() / 2].last_seq;
    wal->confirm("object", floor_);
    latest_.clear();
    for (uint64_t i = 1; i <= sealed_last_; ++i) latest_[path_of(i)] = i;
  }
  // Whether the maintenance step may have removed seq.
  bool may_go(uint64_t seq, bool pruning) const {
    if (seq > floor_) return false;
    if (pruning) return true;
    return latest_.at(path_of(seq)) != seq;
  }

  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
  std::string template_ = tmp_ / "template";
  uint64_t sealed_last_ = 0, floor_ = 0;
  std::map<std::string, uint64_t> latest_;
};

TEST_P(WalPowerLoss, EveryEntryItMustKeepSurvivesACutAtEachStep) {
  const bool pruning = GetParam();
  uint64_t seed = 1;
  size_t undone = 0, reverted = 0;
  fill();
  if (HasFatalFailure()) return;
  for (const Cut& cut : kCuts) {
    for (int round = 0; round < testing::power_loss_rounds(4); ++round, ++seed) {
      SCOPED_TRACE(fmt::format("{} cut at op {} after {}, seed {}",
                               pruning ? "pruning" : "compaction", static_cast<int>(cut.op),
                               cut.skip, seed));
      std::filesystem::remove_all(dir_);
      std::filesystem::copy(template_, dir_);
      FaultInjectionFileSystem fi;
      {
        auto wal = Wal::open(opts(&fi));
        fi.track_unsynced_writes(true);
        if (cut.op != FsOp::kCount) fi.add_rule(testing::fault(cut.op, cut.path, cut.skip, -1));
        try {
          if (pruning) {
            wal->delete_sealed_through(floor_);
          } else {
            wal->compact();
          }
        } catch (const Error&) {
          // The power went (the rule fails every later call of that kind).
        }
        fi.cut_power();
      }
      reverted += fi.lose_unsynced_writes(seed);
      undone += fi.changes_undone();
      fi.clear_rules();

      OpenReport rep;
      std::unique_ptr<Wal> wal;
      ASSERT_NO_THROW(wal = Wal::open(opts(nullptr), &rep));
      EXPECT_EQ(wal->status().head_seq, kN);
      EXPECT_EQ(wal->confirmed("object"), floor_);
      uint64_t prev = 0;
      bool started = false;
      wal->replay(0, 0, [&](const Entry& e) {
        EXPECT_GT(e.seq, prev) << "seq " << e.seq << " out of order or twice";
        EXPECT_EQ(e.path, path_of(e.seq));
        EXPECT_EQ(e.data, maintained_data(e.seq));
        // Nothing it must keep is missing between the entries it shows.
        for (uint64_t s = started ? prev + 1 : 1; s < e.seq; ++s) {
          EXPECT_TRUE(may_go(s, pruning)) << "seq " << s << " lost";
          if (pruning && started) ADD_FAILURE() << "a hole at seq " << s << " in a pruned log";
        }
        started = true;
        prev = e.seq;
        return true;
      });
      EXPECT_EQ(prev, kN);
      const VerifyResult v = Wal::verify(dir_);
      EXPECT_TRUE(v.ok) << v.bad_file << " at " << v.bad_offset << ": " << v.problem;
    }
  }
  // The cuts did hit: some directory changes and data were lost.
  EXPECT_GT(undone, 0u);
  RecordProperty("changes_undone", static_cast<int>(undone));
  RecordProperty("blocks_reverted", static_cast<int>(reverted));
}

INSTANTIATE_TEST_SUITE_P(Maintenance, WalPowerLoss, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Pruning" : "Compaction"; });

}  // namespace
}  // namespace strata
