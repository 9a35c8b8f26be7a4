// run_recovery: probe every source, choose, build in staging, verify,
// commit; or, for an intact local WAL that is new enough, replay in place.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/random_id.h"
#include "recovery/builders.h"
#include "recovery/git_source.h"
#include "recovery/local_source.h"
#include "recovery/loop_record.h"
#include "recovery/object_source.h"
#include "recovery/run_context.h"
#include "recovery/staging.h"
#include "recovery/template_source.h"
#include "strata/error.h"
#include "strata/lineage.h"
#include "strata/materializer.h"
#include "strata/recovery.h"

namespace strata::recovery {

namespace {

// For the same seq, earlier is preferred (less to download, fewer parts).
enum class Plan { kLocalInPlace, kLocalCopy, kObject, kGit, kTemplate, kEmpty };

struct Candidate {
  Candidate(Plan p, RecoverySource s, uint64_t r, std::string l, std::string w)
      : plan(p), source(s), reach(r), lineage(std::move(l)), what(std::move(w)) {}
  Plan plan;
  RecoverySource source;
  uint64_t reach = 0;  // the seq it would restore to
  std::string lineage;
  const SnapshotInfo* git_snapshot = nullptr;
  bool with_local = false;  // git or r2: local entries follow on
  std::optional<ObjectPlan> object_plan;
  std::string what;  // for plans and reports
};

struct Probed {
  LocalWal local;
  GitOffer git;
  ObjectOffer r2;
  Offer tmpl;
  std::string home;  // the lineage this data directory continues ("" = none yet)
};

// The highest seq the local log reaches when it continues `after` without a
// gap (after itself when it does not).
uint64_t local_reach_after(const RunContext& ctx, const LocalWal& l, const std::string& lineage,
                           uint64_t after) {
  if (!l.exists || !l.offer.has_data || l.offer.lineage != lineage) return after;
  if (l.base_seq > after + 1) return after;
  if (l.intact) {
    if (l.head_seq <= after) return after;
    if (!l.complete_from_one && l.first_seq > after + 1) return after;
    return l.head_seq;
  }
  // A damaged log may read on from `after` past damage before it (which the
  // snapshot makes irrelevant): walk it from there, as the build will.
  uint64_t expect = after + 1;
  std::string stopped;
  read_local_records(
      ctx.fs, ctx.dest + "/wal", after, ctx.config.wal.max_entry_bytes,
      [&](const EntryView& e, std::string_view) {
        if (e.seq != expect) return false;
        expect++;
        return true;
      },
      &stopped);
  return expect - 1;
}

std::vector<Candidate> candidates(const RunContext& ctx, const Probed& p) {
  std::vector<Candidate> out;
  const LocalWal& l = p.local;
  const Target& t = ctx.target;
  const uint64_t want = t.seq.value_or(UINT64_MAX);
  // Local, in place: the normal start. The state must cover what the log no
  // longer holds (pruned segments).
  if (!t.any() && l.intact && l.offer.has_data &&
      (l.complete_from_one || l.state_seq + 1 >= l.base_seq)) {
    out.emplace_back(Plan::kLocalInPlace, RecoverySource::kLocal, l.head_seq, p.home,
                     fmt::format("replay the local WAL into state/ (head {})", l.head_seq));
  }
  if (p.r2.manifest && p.r2.offer.has_data && (p.home.empty() || p.r2.offer.lineage == p.home)) {
    const Manifest& m = *p.r2.manifest;
    if (auto plan = plan_object(m, t)) {
      uint64_t reach = t.any() ? t.seq.value_or(m.head_seq)
                               : local_reach_after(ctx, l, m.lineage_id, m.head_seq);
      Candidate c(
          Plan::kObject, RecoverySource::kObjectStore, reach, m.lineage_id,
          fmt::format(
              "r2 manifest v{}: {}{} log objects to seq {}{}", m.manifest_version,
              plan->snapshot ? fmt::format("snapshot at seq {}, ", plan->snapshot->seq) : "",
              plan->logs.size(), t.seq ? *t.seq : m.head_seq,
              reach > m.head_seq ? fmt::format(", then local entries to {}", reach) : ""));
      c.with_local = !t.any() && reach > m.head_seq;
      c.object_plan = std::move(plan);
      out.push_back(std::move(c));
    }
  }
  if (p.git.offer.reachable) {
    if (const SnapshotInfo* s = pick_git_snapshot(p.git, p.home, want)) {
      uint64_t reach = local_reach_after(ctx, l, s->lineage_id, s->wal_seq);
      if (t.seq) reach = std::min(reach, *t.seq);
      if (!t.time_ms && (!t.seq || reach == *t.seq)) {
        Candidate c(
            Plan::kGit, RecoverySource::kGit, reach, s->lineage_id,
            fmt::format(
                "Git snapshot {} at seq {}{}", s->commit.substr(0, 12), s->wal_seq,
                reach > s->wal_seq ? fmt::format(", then local entries to {}", reach) : ""));
        c.git_snapshot = s;
        c.with_local = reach > s->wal_seq;
        out.push_back(std::move(c));
      }
    }
  }
  // A log pruned down to no entries (PRUNE_KEEP_SEGMENTS=0, then a rotation
  // or a torn first record) still knows its head, and state/ holds the rest.
  // Unless a remote reaches past that head, it continues in place: a remote
  // holding the same head has nothing more, only something to download (and
  // a restore that fails over to a tier holding less would start a new
  // lineage). Before, it counted as no data and the plan was to start empty,
  // setting the whole state aside.
  // A log never written to (a daemon restarted before its first append) is
  // the same case at head 0: it continues with its lineage, instead of being
  // set aside under .recovery/ at every restart for a new one.
  const bool idle = l.head_seq == 0 && l.state_seq == 0 && lineage::is_valid(l.offer.lineage);
  if (!t.any() && l.intact && !l.offer.has_data && (l.head_seq > 0 || idle) &&
      l.state_seq + 1 >= l.base_seq && l.state_seq <= l.head_seq &&
      std::none_of(out.begin(), out.end(),
                   [&](const Candidate& c) { return idle ? c.reach > 0 : c.reach > l.head_seq; })) {
    out.emplace_back(Plan::kLocalInPlace, RecoverySource::kLocal, l.head_seq,
                     idle ? l.offer.lineage : p.home,
                     idle ? std::string("continue the local WAL (never written to)")
                          : fmt::format("continue the local WAL (head {}, every entry pruned) "
                                        "with state/ at seq {}",
                                        l.head_seq, l.state_seq));
  }
  const bool time_ok =
      !t.time_ms || (*t.time_ms >= l.first_time_ms && *t.time_ms <= l.head_time_ms);
  if (l.exists && l.offer.has_data && l.complete_from_one && (l.intact ? t.any() : true) &&
      (!t.seq || *t.seq <= l.head_seq) && time_ok) {
    const uint64_t reach = t.seq ? *t.seq : l.head_seq;
    out.emplace_back(Plan::kLocalCopy, RecoverySource::kLocal, reach, l.offer.lineage,
                     fmt::format("copy the local WAL's entries 1-{} into a new log", reach));
  }
  if (!t.any()) {
    if (p.tmpl.reachable)
      out.emplace_back(Plan::kTemplate, RecoverySource::kTemplate, 0, "",
                       "copy " + ctx.config.template_dir + " into state/");
    out.emplace_back(Plan::kEmpty, RecoverySource::kNone, 0, "",
                     "start with an empty log and state");
  }
  std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    if (a.reach != b.reach) return a.reach > b.reach;
    return a.plan < b.plan;
  });
  return out;
}

[[noreturn]] void out_of_range(const RunContext& ctx, const Probed& p) {
  std::vector<std::string> ranges;
  const LocalWal& l = p.local;
  if (l.exists && l.offer.has_data)
    ranges.push_back(l.complete_from_one
                         ? fmt::format("local WAL: seqs 1-{}, times {}-{} (ms)", l.head_seq,
                                       l.first_time_ms, l.head_time_ms)
                         : fmt::format("local WAL: only its head {} (entries before {} pruned)",
                                       l.head_seq, l.first_seq));
  if (p.r2.manifest && p.r2.offer.has_data) ranges.push_back(object_range(*p.r2.manifest));
  if (!p.git.snapshots.empty()) {
    std::string seqs;
    for (auto it = p.git.snapshots.rbegin(); it != p.git.snapshots.rend(); ++it)
      seqs += (seqs.empty() ? "" : ", ") + std::to_string(it->wal_seq);
    ranges.push_back(fmt::format("git: snapshots at seqs {} (seq targets only)", seqs));
  }
  throw Error(
      ErrorCode::kRecoveryOutOfRange,
      fmt::format("cannot restore {}: no source holds it; restorable: {}", ctx.target.describe(),
                  ranges.empty() ? "nothing" : fmt::format("{}", fmt::join(ranges, "; "))));
}

RecoverySourceReport report_of(const Offer& o) {
  RecoverySourceReport r;
  r.source = o.source;
  r.configured = o.configured;
  r.reachable = o.reachable;
  if (o.has_data) r.head_seq = o.head_seq;
  r.lineage_id = o.lineage;
  r.line = o.line;
  return r;
}

// Every configured tier that could not be read, and what that may cost.
std::vector<std::string> unreachable(const Probed& p) {
  std::vector<std::string> out;
  for (const Offer* o : {&p.r2.offer, &p.git.offer, &p.tmpl}) {
    if (o->configured && o->error)
      out.push_back(fmt::format("{} could not be read ({}): whatever it holds was not used",
                                recovery_source_name(o->source), describe(*o->error)));
  }
  if (p.local.exists && !p.local.intact)
    out.push_back(
        fmt::format("the local WAL is damaged ({}): from there on its records were not read "
                    "(it reads whole to seq {})",
                    p.local.damage, p.local.head_seq));
  return out;
}

// The newest seq any readable source of `lineage` holds.
uint64_t newest_known(const Probed& p, const std::string& lineage) {
  uint64_t best = 0;
  for (const Offer* o : {&p.local.offer, &p.r2.offer, &p.git.offer}) {
    if (o->has_data && (lineage.empty() || o->lineage == lineage))
      best = std::max(best, o->head_seq);
  }
  return best;
}

void write_lineage(RunContext& ctx, const std::string& dir, const std::string& lineage) {
  write_file_atomically(ctx.fs, dir + "/lineage-id", lineage + "\n");
}

class Recovery {
 public:
  Recovery(RunContext& ctx, RecoveryResult& result) : ctx_(ctx), r_(result) {}

  void run() {
    prepare_dest();
    if (!loop_allows()) return;
    probe();
    if (ctx_.config.mode == RecoveryMode::kClean) return clean();
    std::vector<Candidate> cands = candidates(ctx_, p_);
    if (cands.empty()) out_of_range(ctx_, p_);
    const std::vector<std::string> lost = unreachable(p_);
    if (ctx_.config.mode == RecoveryMode::kStrict) strict_checks(cands.front(), lost);
    if (ctx_.config.dry_run) return plan(cands.front(), lost);
    for (size_t i = 0; i < cands.size(); ++i) {
      const Candidate& c = cands[i];
      try {
        ctx_.check_deadline("recovering from " + std::string(recovery_source_name(c.source)));
        execute(c, lost);
        return;
      } catch (const Error& e) {
        if (ctx_.config.mode == RecoveryMode::kStrict || e.code() == ErrorCode::kWalLockFailed ||
            i + 1 == cands.size())
          throw;
        fallbacks_.push_back(fmt::format("{} ({}) failed and was skipped: {}",
                                         recovery_source_name(c.source), c.what, describe(e)));
        spdlog::warn("recovery: {}", fallbacks_.back());
      }
    }
  }

 private:
  void prepare_dest() {
    if (!ctx_.live && is_directory_following_links(ctx_.fs, ctx_.dest)) {
      for (const auto& name : ctx_.fs.list_dir(ctx_.dest)) {
        if (name != kRecoveryDirName)
          throw Error(ErrorCode::kInvalidArgument,
                      fmt::format("--target {} is not empty ({}): restore into a new directory",
                                  ctx_.dest, name));
      }
    }
    if (ctx_.config.dry_run) {
      if (has_pending_commit(ctx_.fs, ctx_.dest))
        r_.notes.push_back("an interrupted recovery was committed; the next run finishes it first");
      return;
    }
    create_directories(ctx_.fs, ctx_.dest);
    const ResumeReport rr = resume_interrupted(ctx_.fs, ctx_.dest);
    if (rr.finished)
      r_.notes.push_back(fmt::format("finished the interrupted recovery recorded in {}/{}",
                                     ctx_.dest, kRecoveryDirName));
    if (rr.discarded)
      r_.notes.push_back("removed the staging directory of an interrupted recovery");
  }

  bool loop_allows() {
    if (!ctx_.live || ctx_.config.dry_run) return true;
    const auto recent = recent_failures(ctx_.fs, ctx_.dest, now_ms(),
                                        static_cast<uint64_t>(ctx_.config.loop_window.count()));
    if (recent.size() < ctx_.config.loop_max) return true;
    r_.state = RecoveryState::kLoopDetected;
    r_.error_code = std::string(error_code_name(ErrorCode::kRecoveryLoop));
    const uint64_t until = recent[recent.size() - ctx_.config.loop_max].time_ms +
                           static_cast<uint64_t>(ctx_.config.loop_window.count());
    r_.error = fmt::format(
        "{} recoveries failed in the last {} ms (RECOVERY_LOOP_MAX {}, RECOVERY_LOOP_WINDOW_MS "
        "{}); the last: {}: {}. Not retrying: fix the cause and run `strata recover "
        "--reset-loop`, or wait {} ms",
        recent.size(), ctx_.config.loop_window.count(), ctx_.config.loop_max,
        ctx_.config.loop_window.count(), recent.back().code, recent.back().message,
        until > now_ms() ? until - now_ms() : 0);
    return false;
  }

  void probe() {
    p_.local = probe_local(ctx_);
    const bool remotes = ctx_.config.mode != RecoveryMode::kClean;
    if (remotes) {
      p_.r2 = probe_object(ctx_);
      p_.git = probe_git(ctx_);
    } else {
      p_.r2.offer.source = RecoverySource::kObjectStore;
      p_.r2.offer.line = "not used: --mode clean";
      p_.git.offer.source = RecoverySource::kGit;
      p_.git.offer.line = "not used: --mode clean";
    }
    p_.tmpl = probe_template(ctx_);
    // The data directory continues its own lineage when it holds history of
    // its own: entries, a log pruned to none, or state/ at a seq (its WAL
    // lost). A lineage-id alone is not enough: a directory started once
    // while idle, then pointed at an older lineage's remotes, restores them.
    const LocalWal& l = p_.local;
    const bool own_history = l.offer.has_data || l.head_seq > 0 || l.state_seq > 0;
    if (own_history && !l.offer.lineage.empty()) {
      p_.home = p_.local.offer.lineage;
    } else if (p_.r2.offer.has_data) {
      p_.home = p_.r2.offer.lineage;
    } else if (p_.git.offer.has_data) {
      p_.home = p_.git.offer.lineage;
    }
    for (const Offer* o : {&p_.local.offer, &p_.r2.offer, &p_.git.offer, &p_.tmpl})
      r_.sources.push_back(report_of(*o));
  }

  void strict_checks(const Candidate& c, const std::vector<std::string>& lost) {
    if (!lost.empty())
      throw Error(ErrorCode::kRecoveryFailed, fmt::format("strict: {}", lost.front()));
    const uint64_t newest = newest_known(p_, c.lineage);
    if (!ctx_.target.any() && c.reach < newest)
      throw Error(ErrorCode::kRecoveryFailed,
                  fmt::format("strict: the best source ({}) reaches seq {}, but seq {} exists: "
                              "restoring would lose entries {}-{}",
                              c.what, c.reach, newest, c.reach + 1, newest));
  }

  void mark_used(RecoverySource s) {
    for (auto& line : r_.sources) {
      if (line.source == s) {
        line.used = true;
        line.line += "; used";
      }
    }
  }

  void plan(const Candidate& c, const std::vector<std::string>& lost) {
    r_.source = c.source;
    r_.seq_reached = c.reach;
    r_.plan.push_back({"", 0, c.what});
    if (c.plan == Plan::kGit) r_.plan.front().key = c.git_snapshot->commit;
    if (c.object_plan) {
      const ObjectPlan& op = *c.object_plan;
      if (op.snapshot)
        r_.plan.push_back({op.snapshot->key, op.snapshot->stored_bytes,
                           fmt::format("snapshot at seq {}", op.snapshot->seq)});
      for (const LogObjectInfo* l : op.logs)
        r_.plan.push_back(
            {l->key, l->stored_bytes, fmt::format("log {}-{}", l->first_seq, l->last_seq)});
      r_.plan_bytes = op.bytes;
    }
    r_.missing = lost;
    const uint64_t newest = newest_known(p_, c.lineage);
    if (!ctx_.target.any() && c.reach < newest)
      r_.missing.push_back(fmt::format("entries {}-{} would not be restored", c.reach + 1, newest));
    r_.lineage_id = c.lineage;
    mark_used(c.source);
    r_.state = r_.missing.empty() ? RecoveryState::kRunning : RecoveryState::kDegraded;
  }

  void execute(const Candidate& c, const std::vector<std::string>& lost) {
    r_.source = c.source;
    if (c.plan == Plan::kLocalInPlace) return in_place(lost);
    Staging staging(ctx_.fs, ctx_.dest);
    Built b;
    switch (c.plan) {
      case Plan::kGit:
        b = build_git(ctx_, staging, *c.git_snapshot, p_.local, c.with_local);
        break;
      case Plan::kObject:
        b = build_object(ctx_, staging, *p_.r2.manifest, *c.object_plan, p_.local, c.with_local);
        break;
      case Plan::kLocalCopy:
        b = build_local_copy(ctx_, staging, p_.local);
        break;
      case Plan::kTemplate:
        b = build_fresh(ctx_, staging, true);
        break;
      default:
        b = build_fresh(ctx_, staging, false);
        break;
    }
    if (ctx_.target.any() && ctx_.target.seq && b.seq != *ctx_.target.seq)
      throw Error(ErrorCode::kRecoveryFailed, fmt::format("{} reached seq {}, not the target {}",
                                                          c.what, b.seq, *ctx_.target.seq));
    // The history continues only when nothing newer of it exists anywhere
    // this run could not see or did not restore.
    const uint64_t newest = newest_known(p_, b.lineage);
    // A time target is resolved only while restoring: continuing the
    // lineage from it would need the history id decided before.
    const bool keep =
        lineage::is_valid(b.lineage) && b.seq >= newest && lost.empty() && !ctx_.target.time_ms &&
        (c.plan == Plan::kGit || c.plan == Plan::kObject || c.plan == Plan::kLocalCopy);
    std::vector<std::string> missing = lost;
    missing.insert(missing.end(), fallbacks_.begin(), fallbacks_.end());
    if (!ctx_.target.any() && b.seq < newest)
      missing.push_back(fmt::format("entries {}-{} exist only on {} and were not restored",
                                    b.seq + 1, newest, holders_of(newest, b.lineage)));
    missing.insert(missing.end(), b.missing.begin(), b.missing.end());
    r_.lineage_id = keep ? b.lineage : new_ulid();
    r_.new_lineage = !keep;
    write_lineage(ctx_, staging.dir(), r_.lineage_id);
    const std::string old_lineage = p_.local.offer.lineage;
    std::vector<std::string> aside;
    if (r_.lineage_id != old_lineage && ctx_.fs.exists(ctx_.dest + "/sync"))
      aside.push_back("sync");
    const bool had_data = p_.local.exists || !digest_tree(ctx_.fs, ctx_.dest + "/state").empty();
    const std::string replaced = staging.commit(aside, had_data, ctx_.config.failpoint);
    p_.local.wal.reset();  // the previous WAL, moved aside: its lock goes now
    p_.local.lock.reset();
    if (!replaced.empty())
      r_.notes.push_back(fmt::format("the previous WAL and state are kept in {}", replaced));
    if (r_.new_lineage && !b.lineage.empty())
      r_.notes.push_back(
          fmt::format("new lineage {}: the history of lineage {} after seq {} is "
                      "left alone on every remote",
                      r_.lineage_id, b.lineage, b.seq));
    r_.notes.insert(r_.notes.end(), b.notes.begin(), b.notes.end());
    r_.files_restored = b.files_restored;
    r_.entries_restored = b.entries_restored;
    r_.entries_replayed = b.entries_replayed;
    r_.seq_reached = b.seq;
    r_.objects_downloaded = b.objects;
    r_.bytes_downloaded = b.bytes;
    r_.verified = true;
    r_.missing = missing;
    mark_used(c.source);
    if ((c.plan == Plan::kGit || c.plan == Plan::kObject) && c.with_local)
      mark_used(RecoverySource::kLocal);
    r_.state = missing.empty() ? RecoveryState::kRunning : RecoveryState::kDegraded;
  }

  void in_place(const std::vector<std::string>& lost) {
    Materializer m(ctx_.dest, &ctx_.fs);
    const MaterializeResult mr = m.run(p_.local.open_for_writing());
    r_.entries_replayed = mr.entries_applied;
    r_.seq_reached = mr.applied_seq;
    r_.lineage_id = p_.local.offer.lineage;
    r_.missing = lost;
    const uint64_t newest = newest_known(p_, p_.home);
    if (r_.seq_reached < newest)
      r_.missing.push_back(fmt::format("entries {}-{} exist only on {} and were not restored",
                                       r_.seq_reached + 1, newest, holders_of(newest, p_.home)));
    r_.notes.push_back("the local WAL was used in place: nothing downloaded");
    if (mr.rebuilt) r_.notes.push_back("state/ did not match the WAL and was rebuilt");
    mark_used(RecoverySource::kLocal);
    r_.state = r_.missing.empty() ? RecoveryState::kRunning : RecoveryState::kDegraded;
  }

  void clean() {
    r_.source = RecoverySource::kNone;
    if (ctx_.config.dry_run) {
      r_.plan.push_back({"", 0, "start empty with a new lineage; keep the previous data aside"});
      r_.state = RecoveryState::kRunning;
      return;
    }
    Staging staging(ctx_.fs, ctx_.dest);
    Built b = build_fresh(ctx_, staging, false);
    r_.lineage_id = new_ulid();
    r_.new_lineage = true;
    write_lineage(ctx_, staging.dir(), r_.lineage_id);
    std::vector<std::string> aside;
    if (ctx_.fs.exists(ctx_.dest + "/sync")) aside.push_back("sync");
    const bool had_data = p_.local.exists || !digest_tree(ctx_.fs, ctx_.dest + "/state").empty();
    const std::string replaced = staging.commit(aside, had_data, ctx_.config.failpoint);
    p_.local.wal.reset();
    p_.local.lock.reset();
    if (!replaced.empty())
      r_.notes.push_back(fmt::format("the previous WAL and state are kept in {}", replaced));
    r_.verified = true;
    r_.state = RecoveryState::kRunning;
  }

  std::string holders_of(uint64_t seq, const std::string& lineage) const {
    std::vector<std::string> names;
    for (const Offer* o : {&p_.local.offer, &p_.r2.offer, &p_.git.offer}) {
      if (o->has_data && o->head_seq >= seq && (lineage.empty() || o->lineage == lineage))
        names.emplace_back(recovery_source_name(o->source));
    }
    return names.empty() ? "a source" : fmt::format("{}", fmt::join(names, ", "));
  }

  RunContext& ctx_;
  RecoveryResult& r_;
  Probed p_;
  std::vector<std::string> fallbacks_;
};

}  // namespace

}  // namespace strata::recovery

namespace strata {

RecoveryResult run_recovery(const RecoveryConfig& config, const RecoveryTiers& tiers) {
  config.validate();
  const auto start = std::chrono::steady_clock::now();
  RecoveryResult result;
  result.mode = config.mode;
  result.dry_run = config.dry_run;
  std::optional<Error> failure;
  {
    recovery::RunContext ctx(config, tiers);
    result.target_dir = ctx.dest;
    try {
      recovery::Recovery(ctx, result).run();
    } catch (const Error& e) {
      failure = e;
    } catch (const std::exception& e) {
      failure = Error(ErrorCode::kInternal, e.what());
    }
    // ctx's destructor waits for calls that outlived their timeout.
  }
  if (failure) {
    result.state = RecoveryState::kFailed;
    result.error_code = std::string(failure->code_name());
    result.error = failure->what();
    result.verified = false;
    const bool counts = !config.dry_run && config.target_dir.empty() &&
                        failure->code() != ErrorCode::kRecoveryOutOfRange &&
                        failure->code() != ErrorCode::kInvalidArgument;
    if (counts) {
      try {
        FileSystem& fs = config.fs ? *config.fs : FileSystem::real();
        recovery::record_failure(fs, config.data_dir,
                                 {recovery::now_ms(), result.error_code, result.error});
      } catch (const Error& e) {
        spdlog::warn("recovery: could not record the failure for loop detection: {}", e.what());
      }
    }
  } else if (!config.dry_run && config.target_dir.empty() &&
             result.state != RecoveryState::kLoopDetected) {
    try {
      recovery::clear_failures(config.fs ? *config.fs : FileSystem::real(), config.data_dir);
    } catch (const Error& e) {
      spdlog::warn("recovery: could not clear the failure record: {}", e.what());
    }
  }
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

}  // namespace strata
