// ExpectedState, the post-restore check's digest that hashes only the
// writes that survive, must give exactly what hashing every write
// (apply_to_digest) gives, whatever the log does to files and directories
// and however little data it may hold back.
#include <gtest/gtest.h>

#include <random>

#include "recovery/state_check.h"
#include "strata/hash.h"

namespace strata::recovery {
namespace {

struct ExpectedStateLogEntry {
  EntryOp op;
  std::string path;
  std::string data;
};

// Paths that collide as files and directories: "a" and "a/b" and "a/b/c".
std::vector<ExpectedStateLogEntry> expected_state_random_log(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  const std::vector<std::string> paths = {"a", "a/b", "a/b/c", "a/d", "e", "e/f", "g/h/i", "g"};
  std::vector<ExpectedStateLogEntry> log;
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = paths[rng() % paths.size()];
    const uint32_t kind = rng() % 5;
    const EntryOp op = kind == 0   ? EntryOp::kDelete
                       : kind == 1 ? EntryOp::kCreate
                                   : EntryOp::kUpdate;
    std::string data = op == EntryOp::kDelete ? "" : std::string(rng() % 40, char('a' + i % 26));
    log.push_back({op, p, std::move(data)});
  }
  return log;
}

StateDigest expected_state_by_every_write(const StateDigest& base,
                                          const std::vector<ExpectedStateLogEntry>& log) {
  StateDigest d = base;
  uint64_t seq = 0;
  for (const auto& e : log)
    apply_to_digest(d, EntryView{++seq, 0, EntryType::kMemory, e.op, e.path, e.data});
  return d;
}

TEST(ExpectedState, GivesTheDigestOfHashingEveryWriteWhateverItHoldsBack) {
  const StateDigest base = {{"a", to_hex(sha256("base a"))},
                            {"e/f", to_hex(sha256("base e/f"))},
                            {"z/y", to_hex(sha256("base z/y"))}};
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    const auto log = expected_state_random_log(seed, 60);
    const StateDigest want = expected_state_by_every_write(base, log);
    // 0: every write hashed as it comes; 50: some held back; default: all.
    for (uint64_t limit : {uint64_t{0}, uint64_t{50}, ExpectedState::kPendingBytes}) {
      ExpectedState x(base, limit);
      uint64_t seq = 0;
      for (const auto& e : log)
        x.apply(EntryView{++seq, 0, EntryType::kMemory, e.op, e.path, e.data});
      ASSERT_EQ(x.finish(), want) << "seed " << seed << ", limit " << limit;
    }
  }
}

TEST(ExpectedState, ALaterWriteOfTheSamePathReplacesTheEarlierData) {
  ExpectedState x({});
  x.apply(EntryView{1, 0, EntryType::kMemory, EntryOp::kCreate, "p", "one"});
  x.apply(EntryView{2, 0, EntryType::kMemory, EntryOp::kUpdate, "p", "two"});
  x.apply(EntryView{3, 0, EntryType::kMemory, EntryOp::kCreate, "q/r", "three"});
  x.apply(EntryView{4, 0, EntryType::kMemory, EntryOp::kDelete, "q", ""});
  const StateDigest got = x.finish();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.at("p"), to_hex(sha256("two")));
}

}  // namespace
}  // namespace strata::recovery
