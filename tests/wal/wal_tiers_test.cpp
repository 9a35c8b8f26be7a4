// Tier marks: confirm() persisted with the history id, read back at open,
// clamped by truncate_after, safe after a power loss; the retention floor
// over the registered tiers; compaction against the floor; the pressure
// warning and the command the critical-pressure refusal names.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "strata/error.h"
#include "strata/fs.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::code_of;
using testing::dir_bytes;
using testing::make_entry;
using testing::read_file;
using testing::TempDir;

class WalTiers : public ::testing::Test {
 protected:
  WalOptions opts(std::vector<std::string> tiers = {"object", "git"}) {
    auto o = testing::test_options(dir_);
    o.tiers = std::move(tiers);
    return o;
  }
  void append_n(Wal& wal, int n) {
    for (int i = 0; i < n; ++i) wal.append(make_entry(fmt::format("p{}", i % 4), "v"));
  }
  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
};

TEST_F(WalTiers, MarksSurviveReopenAndTheFloorIsTheLowestRegisteredOne) {
  {
    auto wal = Wal::open(opts());
    append_n(*wal, 20);
    EXPECT_EQ(wal->retention_floor(), 0u);  // git has confirmed nothing yet
    wal->confirm("object", 15);
    EXPECT_EQ(wal->retention_floor(), 0u);
    wal->confirm("git", 7);
    EXPECT_EQ(wal->confirmed("object"), 15u);
    EXPECT_EQ(wal->confirmed("git"), 7u);
    EXPECT_EQ(wal->retention_floor(), 7u);
  }
  auto wal = Wal::open(opts());
  EXPECT_EQ(wal->confirmed("object"), 15u);
  EXPECT_EQ(wal->confirmed("git"), 7u);
  EXPECT_EQ(wal->retention_floor(), 7u);
  const auto st = wal->status();
  EXPECT_EQ(st.retention_floor, 7u);
  ASSERT_EQ(st.tiers.size(), 2u);
  for (const auto& t : st.tiers) {
    EXPECT_TRUE(t.registered) << t.tier;
    EXPECT_EQ(t.seq, t.tier == "git" ? 7u : 15u);
  }
  // The marks file names the history they were confirmed in.
  const std::string marks = read_file(dir_ + "/MARKS");
  EXPECT_NE(marks.find("history " + st.history_id), std::string::npos) << marks;
  EXPECT_EQ(Wal::read_tier_marks(dir_).size(), 2u);
}

TEST_F(WalTiers, TheMarksFileIsReadAsDocumented) {
  {
    auto wal = Wal::open(opts());
    append_n(*wal, 200);
  }
  // The example in docs/format.md, "Tier marks".
  testing::write_file(dir_ + "/HISTORY", "1a2b3c4d5e6f7a8b\n");
  testing::write_file(dir_ + "/MARKS",
                      "strata-wal-marks 1\nhistory 1a2b3c4d5e6f7a8b\ntier git 100\n"
                      "tier object 120\ncrc32c 5a971ec9\n");
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_TRUE(rep.notes.empty());
  EXPECT_EQ(wal->confirmed("git"), 100u);
  EXPECT_EQ(wal->confirmed("object"), 120u);
  EXPECT_EQ(wal->retention_floor(), 100u);
  // And written the same way.
  wal->confirm("git", 110);
  EXPECT_EQ(read_file(dir_ + "/MARKS").substr(0, 73),
            "strata-wal-marks 1\nhistory 1a2b3c4d5e6f7a8b\ntier git 110\ntier object 120\n");
}

TEST_F(WalTiers, AnUnregisteredTierKeepsItsMarkButDoesNotHoldTheFloor) {
  {
    auto wal = Wal::open(opts({"object"}));
    append_n(*wal, 10);
    wal->confirm("git", 2);
    wal->confirm("object", 9);
    EXPECT_EQ(wal->retention_floor(), 9u);
    const auto st = wal->status();
    ASSERT_EQ(st.tiers.size(), 2u);
    for (const auto& t : st.tiers) EXPECT_EQ(t.registered, t.tier == "object") << t.tier;
  }
  // Registered later, the kept mark counts.
  auto wal = Wal::open(opts({"object", "git"}));
  EXPECT_EQ(wal->retention_floor(), 2u);
}

TEST_F(WalTiers, WithNoTierRegisteredNothingIsConfirmed) {
  auto wal = Wal::open(opts({}));
  append_n(*wal, 10);
  wal->confirm("object", 10);
  EXPECT_EQ(wal->confirmed("object"), 10u);
  EXPECT_EQ(wal->retention_floor(), 0u);
  wal->rotate();
  append_n(*wal, 4);
  EXPECT_EQ(wal->compact().entries_dropped, 0u);
  EXPECT_TRUE(wal->delete_sealed_through(UINT64_MAX).empty());
}

TEST_F(WalTiers, ARegisteredTierThatNeverConfirmedHoldsTheFloorAtZero) {
  auto wal = Wal::open(opts({"object", "git"}));
  append_n(*wal, 10);
  wal->confirm("object", 10);
  EXPECT_EQ(wal->retention_floor(), 0u);
}

TEST_F(WalTiers, MarksNeverMoveBackwards) {
  auto wal = Wal::open(opts());
  append_n(*wal, 10);
  wal->confirm("object", 8);
  const auto before = dir_bytes(dir_);
  wal->confirm("object", 3);
  wal->confirm("object", 8);
  EXPECT_EQ(wal->confirmed("object"), 8u);
  EXPECT_EQ(dir_bytes(dir_).at("MARKS"), before.at("MARKS"));
}

TEST_F(WalTiers, BadConfirmationsAreRefusedAndWriteNothing) {
  auto wal = Wal::open(opts());
  append_n(*wal, 5);
  wal->confirm("git", 1);
  const auto before = dir_bytes(dir_);
  std::string msg;
  EXPECT_EQ(code_of([&] { wal->confirm("object", 6); }, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("head is 5"), std::string::npos) << msg;
  for (const std::string& bad :
       std::vector<std::string>{"", "Object", "a b", "../x", std::string(33, 'a'), "git\n1"}) {
    EXPECT_EQ(code_of([&] { wal->confirm(bad, 1); }, &msg), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(msg.find("tier name"), std::string::npos) << msg;
  }
  EXPECT_EQ(dir_bytes(dir_), before);
  EXPECT_EQ(wal->confirmed("object"), 0u);
  auto o = opts({"Bad"});
  wal.reset();
  EXPECT_EQ(code_of([&] { Wal::open(o); }), ErrorCode::kInvalidArgument);
}

TEST_F(WalTiers, TruncateBelowAMarkLowersItDurably) {
  {
    auto wal = Wal::open(opts());
    append_n(*wal, 30);
    wal->confirm("object", 25);
    wal->confirm("git", 10);
    const std::string history = wal->status().history_id;
    wal->truncate_after(12);
    EXPECT_EQ(wal->confirmed("object"), 12u);
    EXPECT_EQ(wal->confirmed("git"), 10u);
    EXPECT_NE(wal->status().history_id, history);
    // Entries 13.. are new entries now: a mark must not count them.
    append_n(*wal, 10);
    EXPECT_EQ(wal->confirmed("object"), 12u);
  }
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(wal->confirmed("object"), 12u);
  EXPECT_EQ(wal->confirmed("git"), 10u);
  EXPECT_TRUE(rep.notes.empty());
}

TEST_F(WalTiers, MarksOfAnotherHistoryAreDroppedAtOpen) {
  // truncate_after writes HISTORY, then MARKS; a failure in between leaves
  // MARKS naming the old history. Dropping those marks is the safe side: a
  // lower mark only keeps more.
  FaultInjectionFileSystem fi;
  auto o = opts();
  o.fs = &fi;
  {
    auto wal = Wal::open(o);
    append_n(*wal, 30);
    wal->confirm("object", 25);
    wal->confirm("git", 25);
    fi.add_rule(testing::fault(FsOp::kRename, "MARKS", 0, -1));
    EXPECT_EQ(code_of([&] { wal->truncate_after(5); }), ErrorCode::kIoError);
    fi.clear_rules();
    // Nothing was cut: the refusal came before.
    EXPECT_EQ(wal->status().head_seq, 30u);
  }
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_EQ(wal->status().head_seq, 30u);
  EXPECT_EQ(wal->confirmed("object"), 0u);
  EXPECT_EQ(wal->retention_floor(), 0u);
  ASSERT_EQ(rep.notes.size(), 1u);
  EXPECT_NE(rep.notes[0].find("belongs to history"), std::string::npos) << rep.notes[0];
  EXPECT_TRUE(Wal::read_tier_marks(dir_).empty());
}

TEST_F(WalTiers, ADamagedMarksFileOpensWithNoMarksAndSaysSo) {
  {
    auto wal = Wal::open(opts());
    append_n(*wal, 10);
    wal->confirm("object", 9);
  }
  const std::string marks = dir_ + "/MARKS";
  for (const std::string& damaged :
       std::vector<std::string>{std::string(), read_file(marks).substr(0, 30),
                                "strata-wal-marks 1\nhistory 00\ntier object 9\n"}) {
    testing::write_file(marks, damaged);
    OpenReport rep;
    auto wal = Wal::open(opts(), &rep);
    EXPECT_EQ(wal->confirmed("object"), 0u);
    ASSERT_EQ(rep.notes.size(), 1u);
    EXPECT_NE(rep.notes[0].find("MARKS is damaged"), std::string::npos) << rep.notes[0];
    // The next confirmation writes a whole file again.
    wal->confirm("object", 4);
    wal.reset();
    EXPECT_EQ(Wal::open(opts())->confirmed("object"), 4u);
  }
  testing::flip_byte(marks, 40);
  EXPECT_EQ(Wal::open(opts())->confirmed("object"), 0u);
}

TEST_F(WalTiers, ConfirmInIntervalModeMakesTheEntriesDurableFirst) {
  // A mark must never be above what a power loss leaves of the log.
  FaultInjectionFileSystem fi;
  fi.track_unsynced_writes(true);
  auto o = opts();
  o.fs = &fi;
  o.sync = SyncMode::kInterval;
  o.sync_interval_ms = 100000;  // no periodic sync during the test
  auto wal = Wal::open(o);
  append_n(*wal, 40);
  EXPECT_LT(wal->status().durable_seq, 40u);
  wal->confirm("object", 40);
  EXPECT_EQ(wal->status().durable_seq, 40u);
  fi.cut_power();
  wal.reset();
  fi.lose_unsynced_writes(7);
  OpenReport rep;
  auto again = Wal::open(opts(), &rep);
  EXPECT_EQ(again->status().head_seq, 40u);
  EXPECT_EQ(again->confirmed("object"), 40u);
  EXPECT_TRUE(rep.notes.empty()) << rep.notes.front();
}

// A confirm interrupted by a power loss at each step of writing MARKS (the
// temp file's fsync, the rename, the directory's fsync) leaves the mark it
// acknowledged before, or the new one, never a damaged file or no mark.
TEST_F(WalTiers, MarksStayTrueAfterPowerLossAtEveryStep) {
  struct Step {
    FsOp op;
    const char* path;
  };
  const Step steps[] = {{FsOp::kWrite, "MARKS.strata-tmp-"},
                        {FsOp::kSync, "MARKS.strata-tmp-"},
                        {FsOp::kRename, "/MARKS"},
                        {FsOp::kSyncDir, ""}};
  int round = 0;
  for (const Step& step : steps) {
    for (int k = 0; k < 6; ++k, ++round) {
      SCOPED_TRACE(fmt::format("round {}: fail op {} of confirm {}", round,
                               static_cast<int>(step.op), k + 1));
      std::filesystem::remove_all(dir_);
      FaultInjectionFileSystem fi;
      auto o = opts();
      o.fs = &fi;
      uint64_t acknowledged = 0, attempted = 0;
      {
        auto wal = Wal::open(o);
        append_n(*wal, 10);
        fi.track_unsynced_writes(true);
        fi.add_rule(testing::fault(step.op, step.path, k, -1));
        for (uint64_t seq = 1; seq <= 10; ++seq) {
          attempted = seq;
          try {
            wal->confirm("object", seq);
            wal->confirm("git", seq);
            acknowledged = seq;
          } catch (const Error&) {
            break;
          }
        }
        fi.cut_power();
      }
      fi.lose_unsynced_writes(static_cast<uint64_t>(round) * 7919 + 1);
      fi.clear_rules();
      OpenReport rep;
      auto wal = Wal::open(opts(), &rep);
      for (const auto& n : rep.notes) ADD_FAILURE() << n;
      const uint64_t object = wal->confirmed("object");
      EXPECT_GE(object, acknowledged);
      EXPECT_LE(object, attempted);
      EXPECT_GE(wal->confirmed("git"), acknowledged);
    }
  }
}

// ---- compaction against the floor

class WalFloorCompaction : public WalTiers {
 protected:
  void SetUp() override {
    auto o = opts();
    o.segment_bytes = 4096;
    wal_ = Wal::open(o);
    for (uint64_t i = 1; i <= 300; ++i) {
      wal_->append(make_entry(fmt::format("p{}", i % 5), fmt::format("{:060}", i)));
    }
    sealed_last_ = wal_->snapshot().sealed.back().last_seq;
  }
  std::unique_ptr<Wal> wal_;
  uint64_t sealed_last_ = 0;
};

TEST_F(WalFloorCompaction, NeverDropsAnEntryAboveTheFloor) {
  wal_->confirm("object", 250);
  wal_->confirm("git", 90);
  const auto r = wal_->compact();
  EXPECT_GT(r.entries_dropped, 0u);
  for (uint64_t seq = 91; seq <= 300; ++seq) {
    auto e = wal_->read_entry(seq);
    ASSERT_TRUE(e.has_value()) << seq;
    EXPECT_EQ(e->data, fmt::format("{:060}", seq));
  }
  // Below the floor only the latest entry per path among sealed segments
  // stays (here every path recurs above 90, so none below it does).
  for (uint64_t seq = 1; seq <= 90 - 5; ++seq) EXPECT_FALSE(wal_->read_entry(seq)) << seq;
  EXPECT_TRUE(Wal::verify(dir_).ok);
}

TEST_F(WalFloorCompaction, ForceIgnoresTheFloor) {
  const auto r = wal_->compact(true);
  EXPECT_GT(r.entries_dropped, 250u);
  for (uint64_t seq = sealed_last_ + 1; seq <= 300; ++seq) EXPECT_TRUE(wal_->read_entry(seq));
}

// ---- pressure

TEST_F(WalTiers, PressureWarningIsGivenOnceUntilTheLogFallsBelowTheMark) {
  auto o = opts();
  o.segment_bytes = 4096;
  o.warn_bytes = 6000;
  o.max_bytes = 1 << 20;
  auto wal = Wal::open(o);
  // Nothing is confirmed, so compaction drops nothing and the log stays
  // above the mark: one warning however many appends follow (before, each
  // compaction re-armed it and every append warned again).
  for (int i = 0; i < 150; ++i) {
    wal->append(make_entry(fmt::format("p{}", i % 3), std::string(100, 'v')));
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let compactions run
  wal->append(make_entry("q", "v"));
  EXPECT_EQ(wal->metrics().pressure_warnings, 1u);
  EXPECT_LE(wal->metrics().compactions, 1u);
  // Below the mark again, the warning is re-armed.
  wal->truncate_after(3);
  wal->append(make_entry("q", "v"));
  for (int i = 0; i < 80; ++i) wal->append(make_entry("r", std::string(100, 'v')));
  EXPECT_EQ(wal->metrics().pressure_warnings, 2u);
}

TEST_F(WalTiers, CriticalPressureNamesACommandThatFreesSpace) {
  const std::string data = tmp_ / "data";
  auto o = opts({});
  o.dir = data + "/wal";
  o.segment_bytes = 4096;
  o.warn_bytes = 20000;
  o.max_bytes = 30000;
  std::string msg;
  {
    auto wal = Wal::open(o);
    for (int i = 0;; ++i) {
      try {
        wal->append(make_entry(fmt::format("p{}", i % 3), std::string(200, 'v')));
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), ErrorCode::kDiskPressureCritical) << e.what();
        msg = e.what();
        break;
      }
    }
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(msg, m, std::regex("`(strata [^`]*)`"))) << msg;
  const std::string cmd = std::string(STRATA_BINARY) + m[1].str().substr(6);
  std::string out;
  ASSERT_EQ(testing::run_command(cmd + " 2>&1", &out), 0) << cmd << "\n" << out;
  auto wal = Wal::open(o);
  EXPECT_LT(wal->status().total_bytes, o.warn_bytes) << out;
  wal->append(make_entry("p0", "fresh"));
}

TEST_F(WalTiers, CompactCommandUsesTheRecordedMarks) {
  const std::string data = tmp_ / "data";
  auto o = opts({"object"});
  o.dir = data + "/wal";
  o.segment_bytes = 4096;
  {
    auto wal = Wal::open(o);
    for (int i = 1; i <= 200; ++i) wal->append(make_entry(fmt::format("p{}", i % 4), "v"));
    wal->confirm("object", 100);
  }
  std::string out;
  ASSERT_EQ(testing::run_command(fmt::format("env -u R2_ENDPOINT -u GIT_REMOTE {} --data-dir '{}' "
                                             "compact 2>&1",
                                             STRATA_BINARY, data),
                                 &out),
            0)
      << out;
  EXPECT_NE(out.find("up to seq 100"), std::string::npos) << out;
  EXPECT_NE(out.find("object 100"), std::string::npos) << out;
  auto wal = Wal::open(o);
  for (uint64_t seq = 101; seq <= 200; ++seq) EXPECT_TRUE(wal->read_entry(seq)) << seq;
  EXPECT_FALSE(wal->read_entry(1));
}

}  // namespace
}  // namespace strata
