// Tier marks in memory: which remote tiers are registered (WalOptions::tiers),
// what each tier has confirmed, and the retention floor they give. The file
// behind them is wal/MARKS (wal/dir_state.h: written atomically with the
// history id).
//
// Contract: a TierMarks is plain state with no lock of its own; the WAL
// reads and changes it under its mutex (mu_). Writers of MARKS (confirm,
// truncate_after) are serialized by the WAL's marks_mu_, write the file
// first and install the new map with set() after it is durable, so memory
// never claims more than a power loss leaves.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "strata/fs.h"
#include "strata/wal.h"
#include "wal/dir_state.h"

namespace strata::wal {

class TierMarks {
 public:
  // Throws kInvalidArgument for a tier name that validate_tier_name refuses.
  explicit TierMarks(const std::vector<std::string>& registered);

  // The seq the tier confirmed (0: nothing, or a tier never seen).
  uint64_t confirmed(std::string_view tier) const;
  // The minimum over the registered tiers; 0 with none registered, so
  // nothing is dropped that no remote holds unless forced.
  uint64_t floor() const;
  const MarkMap& marks() const { return marks_; }

  // The marks with tier raised to seq; nullopt when it already holds seq.
  std::optional<MarkMap> raised(std::string_view tier, uint64_t seq) const;
  void set(MarkMap marks) { marks_ = std::move(marks); }
  // Lowers every mark to at most seq (truncate_after).
  void clamp(uint64_t seq);

  // Reads dir/MARKS at open: kept when it belongs to history_id, each mark
  // lowered to head; a damaged file, one of another history and a lowered
  // mark each add a line to notes. Read-only.
  void load(FileSystem& fs, const std::string& dir, const std::string& history_id, uint64_t head,
            std::vector<std::string>& notes);

  // Every registered tier (registered = true), then any other with a mark.
  std::vector<TierMark> describe() const;

 private:
  const std::set<std::string, std::less<>> registered_;
  MarkMap marks_;
};

}  // namespace strata::wal
