// The space guard with a fake clock and a fake free-space reading: how often
// free space is asked, the stop/resume hysteresis, and the size warning
// reported once per crossing.
#include <gtest/gtest.h>

#include <chrono>

#include "wal/space_guard.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;
using wal::SpaceGuard;

struct Fixture {
  Fixture()
      : guard(
            wal::SpaceLimits{/*warn=*/1000, /*max=*/2000, /*stop_free=*/100,
                             /*resume_free=*/150},
            [this] {
              asked++;
              return free;
            },
            "/model/wal", [this] { return now; }) {}
  Clock::time_point now{};
  uint64_t free = 1 << 20;
  int asked = 0;
  SpaceGuard guard;
};

TEST(SpaceGuard, FreeSpaceIsAskedOncePerIntervalWhilePlentiful) {
  Fixture f;
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(f.guard.check(0, 10).low_free);
  EXPECT_EQ(f.asked, 1);
  f.now += SpaceGuard::kFreeCheckInterval - std::chrono::milliseconds(1);
  f.guard.check(0, 10);
  EXPECT_EQ(f.asked, 1);
  f.now += std::chrono::milliseconds(1);
  f.guard.check(0, 10);
  EXPECT_EQ(f.asked, 2);
}

TEST(SpaceGuard, LowFreeSpaceRefusesUntilItIsBackAboveTheResumeMark) {
  Fixture f;
  f.free = 99;
  EXPECT_TRUE(f.guard.check(0, 10).low_free);
  EXPECT_EQ(f.guard.low_free_error().code(), ErrorCode::kDiskFull);
  EXPECT_NE(std::string(f.guard.low_free_error().what()).find("only 99 bytes free"),
            std::string::npos);
  // While low it is asked on every check, with no time passing.
  f.free = 120;  // above stop, below resume: still refused
  EXPECT_TRUE(f.guard.check(0, 10).low_free);
  EXPECT_TRUE(f.guard.low_with(120));
  EXPECT_EQ(f.asked, 2);
  f.free = 150;
  EXPECT_FALSE(f.guard.check(0, 10).low_free);
  EXPECT_FALSE(f.guard.low_with(120));  // not low now: 120 is above the stop mark
  EXPECT_TRUE(f.guard.low_with(99));
}

TEST(SpaceGuard, SizeWarningOncePerCrossingAndReArmedOnlyBelowTheMark) {
  Fixture f;
  EXPECT_FALSE(f.guard.check(900, 50).warn_crossed);
  EXPECT_TRUE(f.guard.check(950, 50).warn_crossed);  // reaches 1000
  for (uint64_t total = 1000; total < 1500; total += 100) {
    EXPECT_FALSE(f.guard.check(total, 50).warn_crossed) << total;
  }
  // A compaction that drops nothing (still above the mark) does not re-arm.
  EXPECT_FALSE(f.guard.check(1200, 50).warn_crossed);
  EXPECT_FALSE(f.guard.check(999, 0).warn_crossed);  // below again: re-armed
  EXPECT_TRUE(f.guard.check(999, 1).warn_crossed);
}

TEST(SpaceGuard, PastTheMaximumIsTooBig) {
  Fixture f;
  EXPECT_FALSE(f.guard.check(1990, 10).too_big);
  EXPECT_TRUE(f.guard.check(1990, 11).too_big);
}

}  // namespace
}  // namespace strata
