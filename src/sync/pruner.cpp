// The pruner: local sealed segments go only when every configured remote
// tier holds their entries, and the newest PRUNE_KEEP_SEGMENTS stay.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sync/retention.h"
#include "sync/sync_impl.h"
#include "sync/wal_source.h"

namespace strata {

PruneResult ObjectStoreSync::prune(bool dry_run) {
  Impl& im = *impl_;
  MutexLock lk(im.prune_mu);
  PruneResult r;
  r.dry_run = dry_run;
  r.object_confirmed = im.confirmed.load();
  r.confirmed_seq = r.object_confirmed;
  if (im.opt.git_tier) {
    r.git_confirmed = sync::tier_confirmed(im.wal, "git");
    r.confirmed_seq = std::min(r.confirmed_seq, *r.git_confirmed);
  }
  WalSnapshot snap = im.wal.snapshot();
  r.sealed_before = snap.sealed.size();
  auto plan = sync::plan_prune(snap.sealed, r.confirmed_seq, im.opt.prune_keep_segments);
  if (plan.empty()) {
    if (snap.sealed.size() <= im.opt.prune_keep_segments) {
      r.reason = fmt::format("{} sealed segment(s), PRUNE_KEEP_SEGMENTS keeps {}",
                             snap.sealed.size(), im.opt.prune_keep_segments);
    } else {
      r.reason = fmt::format(
          "the oldest sealed segment ends at seq {}, above the seq every "
          "configured tier confirmed ({})",
          snap.sealed.front().last_seq, r.confirmed_seq);
    }
    return r;
  }
  std::vector<SegmentInfo> gone = plan;
  if (!dry_run) gone = sync::delete_sealed_through(im.wal, plan.back().last_seq);
  for (const auto& s : gone) {
    r.deleted.push_back({s.file, s.first_seq, s.last_seq, s.bytes});
    r.bytes += s.bytes;
  }
  if (!dry_run) {
    MutexLock m(im.mu);
    im.counters.segments_pruned += r.deleted.size();
    im.counters.bytes_pruned += r.bytes;
  }
  return r;
}

}  // namespace strata
