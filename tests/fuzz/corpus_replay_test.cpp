// Replays every file of fuzz/corpus/<target>/ and fuzz/regressions/<target>/
// through the target's property (fuzz/properties.h), in every tree: a crash
// the fuzzer once found stays fixed under g++ and without the fuzzer too.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "properties.h"

namespace strata::fuzz {
namespace {

class CorpusReplay : public ::testing::TestWithParam<Target> {};

// The files of fuzz/<kind>/<target>/, sorted (an absent folder has none).
std::vector<std::filesystem::path> replay_inputs(const std::string& kind, const char* target) {
  std::vector<std::filesystem::path> out;
  const std::filesystem::path dir =
      std::filesystem::path(STRATA_SOURCE_DIR) / "fuzz" / kind / target;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_P(CorpusReplay, EverySeedAndRegressionInputKeepsTheProperty) {
  const Target& t = GetParam();
  const auto seeds = replay_inputs("corpus", t.name);
  // A target without seeds would fuzz from nothing and replay nothing here.
  EXPECT_GE(seeds.size(), 3u) << "fuzz/corpus/" << t.name << " holds too few seeds";
  auto inputs = seeds;
  for (auto& p : replay_inputs("regressions", t.name)) inputs.push_back(p);
  for (const auto& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    EXPECT_EQ(t.check(bytes.str()), "") << p;
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, CorpusReplay, ::testing::ValuesIn(kTargets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace strata::fuzz
