// Linked into every test binary above the common layer: at the end of a
// run that simulated power cuts it prints what FaultInjectionFileSystem
// dealt, and with STRATA_POWER_LOSS_TALLY=FILE appends it to FILE as one
// JSON line, so a run of many test processes can be summed
// (scripts/power-loss-figures.sh).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "strata/testing/fault_injection_file_system.h"

namespace {

class PowerLossTallyReport : public ::testing::Environment {
 public:
  void TearDown() override {
    const auto t = strata::FaultInjectionFileSystem::power_loss_tally();
    if (t.cuts == 0) return;
    std::printf(
        "power-loss tally: %llu cuts, %llu blocks reverted, %llu directory changes undone\n",
        static_cast<unsigned long long>(t.cuts), static_cast<unsigned long long>(t.blocks_reverted),
        static_cast<unsigned long long>(t.changes_undone));
    const char* path = std::getenv("STRATA_POWER_LOSS_TALLY");
    if (path == nullptr || *path == '\0') return;
    // Test tooling, not the data directory: plain stdio is fine here.
    if (FILE* f = std::fopen(path, "a")) {
      std::fprintf(f, "{\"cuts\":%llu,\"blocks_reverted\":%llu,\"changes_undone\":%llu}\n",
                   static_cast<unsigned long long>(t.cuts),
                   static_cast<unsigned long long>(t.blocks_reverted),
                   static_cast<unsigned long long>(t.changes_undone));
      std::fclose(f);
    }
  }
};

[[maybe_unused]] const bool registered = [] {
  ::testing::AddGlobalTestEnvironment(new PowerLossTallyReport);
  return true;
}();

}  // namespace
