// Runs the fuzz property (fuzz/wal_open_property.h) over systematic and
// random damage to a valid segment: single byte flips everywhere, cuts at
// every length, garbage appended, zeroed ranges.
#include <unistd.h>

#include <cstdlib>
#include <random>

#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include "wal_open_property.h"

namespace strata::fuzz {
namespace {

constexpr uint64_t kEntries = 30;

class MutationTest : public ::testing::Test {
 protected:
  // The property is about parsing, not durability: run on tmpfs where one is
  // mounted so thousands of opens are not thousands of real fsyncs.
  static void SetUpTestSuite() {
    if (access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 1);
    seed_ = new std::string(make_segment(kEntries));
  }
  static void TearDownTestSuite() { delete seed_; }
  static std::string* seed_;
  testing::TempDir dir_;
};
std::string* MutationTest::seed_ = nullptr;

TEST_F(MutationTest, SeedSegmentOpensWithAllEntries) {
  EXPECT_EQ(check_open(dir_.path(), *seed_, seed_->size(), kEntries), "");
}

TEST_F(MutationTest, EveryBitFlipOfTheRecordsIsCaughtOrHarmless) {
  std::mt19937 rng(7);
  for (size_t at = 32; at < seed_->size(); ++at) {
    std::string seg = *seed_;
    seg[at] = static_cast<char>(seg[at] ^ (1 << (rng() % 8)));
    ASSERT_EQ(check_open(dir_.path(), seg, at, kEntries), "") << "flip at offset " << at;
  }
}

TEST_F(MutationTest, EveryCutKeepsTheRecordsBeforeIt) {
  for (size_t len = 32; len <= seed_->size(); len += 7) {
    ASSERT_EQ(check_open(dir_.path(), seed_->substr(0, len), len, kEntries), "")
        << "cut at " << len;
  }
}

TEST_F(MutationTest, RandomGarbageAndZeroedRanges) {
  std::mt19937 rng(11);
  for (int i = 0; i < 400; ++i) {
    std::string seg = *seed_;
    size_t at = 32 + rng() % (seg.size() - 32);
    size_t len = 1 + rng() % 200;
    for (size_t k = at; k < std::min(seg.size(), at + len); ++k) {
      seg[k] = (i % 2) ? static_cast<char>(rng()) : '\0';
    }
    if (i % 5 == 0) seg.append(std::string(1 + rng() % 64, static_cast<char>(rng())));
    size_t first = 0;
    while (first < seg.size() && first < seed_->size() && seg[first] == (*seed_)[first]) first++;
    ASSERT_EQ(check_open(dir_.path(), seg, first, kEntries), "") << "case " << i;
  }
}

}  // namespace
}  // namespace strata::fuzz
