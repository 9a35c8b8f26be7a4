// The one random-id generator: hex ids and ULIDs.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "common/random_id.h"
#include "strata/error.h"

namespace strata {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST(RandomId, HexHasTheAskedLengthAndNeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = random_hex(16);
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(random_hex(0), "");
  unsigned char buf[64] = {};
  random_bytes(buf, sizeof(buf));
  int zeros = 0;
  for (unsigned char c : buf) zeros += c == 0;
  EXPECT_LT(zeros, 16);
}

TEST(Ulid, MatchesTheSpecsTimeEncoding) {
  // The spec's example: 1469918176385 ms is "01ARYZ6S41" in the first ten digits.
  const std::string id = new_ulid(system_clock::time_point(milliseconds(1469918176385)));
  ASSERT_EQ(id.size(), 26u);
  EXPECT_EQ(id.substr(0, 10), "01ARYZ6S41");
  EXPECT_TRUE(is_ulid(id));
  EXPECT_EQ(new_ulid(system_clock::time_point(milliseconds(0))).substr(0, 10), "0000000000");
  // 2^40 ms is 32^8: a one in the ninth digit from the right of the time part.
  EXPECT_EQ(new_ulid(system_clock::time_point(milliseconds(1ll << 40))).substr(0, 10),
            "0100000000");
}

TEST(Ulid, LaterMillisecondsSortLaterAndRandomPartsDiffer) {
  const auto t = system_clock::now();
  std::string prev = new_ulid(t);
  for (int i = 1; i < 200; ++i) {
    std::string next = new_ulid(t + milliseconds(i));
    EXPECT_LT(prev, next);
    prev = next;
  }
  EXPECT_NE(new_ulid(t), new_ulid(t));  // 80 random bits
  EXPECT_EQ(new_ulid(t).substr(0, 10), new_ulid(t).substr(0, 10));
}

TEST(Ulid, Validation) {
  EXPECT_TRUE(is_ulid(new_ulid()));
  EXPECT_FALSE(is_ulid(""));
  EXPECT_FALSE(is_ulid("01ARYZ6S41TSV4RRFFQ69G5FA"));    // 25 digits
  EXPECT_FALSE(is_ulid("01ARYZ6S41TSV4RRFFQ69G5FAVX"));  // 27
  EXPECT_FALSE(is_ulid("01arYZ6S41TSV4RRFFQ69G5FAV"));   // lower case
  EXPECT_FALSE(is_ulid("01IRYZ6S41TSV4RRFFQ69G5FAV"));   // I is not a digit
  EXPECT_FALSE(is_ulid("81ARYZ6S41TSV4RRFFQ69G5FAV"));   // more than 128 bits
  EXPECT_TRUE(is_ulid("01ARYZ6S41TSV4RRFFQ69G5FAV"));
  EXPECT_THROW(new_ulid(system_clock::time_point(milliseconds(-1))), Error);
}

}  // namespace
}  // namespace strata
