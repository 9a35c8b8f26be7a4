// Recovery at open: which segment files of a WAL directory make up the log,
// whether they form one chain, and the repair of its unsealed tail. In the
// style of etcd's wal/repair.go: reading what is there is separate from
// changing it, so `strata verify` and a read-only opening use the same
// listing and chain rules as a writing open without writing a byte.
//
// Contract: list_segments and plan_log never write; they need no lock and
// no Wal (a reader running next to a writer sees a consistent listing or a
// problem, never a change). repair_tail and remove_redundant write and must
// only run under the directory's write lock (flock on LOCK). Every problem
// names the file it is in.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/fs.h"
#include "strata/wal.h"
#include "wal/segment_file.h"
#include "wal/segment_reader.h"

namespace strata::wal {

struct ListedSegment {
  uint64_t base = 0;
  std::string name;
  std::shared_ptr<Segment> sealed;  // null: not a whole sealed segment
};

struct DirListing {
  // By base; for one base, sealed before unsealed, and the segment covering
  // the most (then holding the fewest entries: a compaction's output)
  // first, so that the leftovers of an interrupted compaction come after it.
  std::vector<ListedSegment> segments;
  // Unfinished compaction/repair/truncation outputs (what they were made
  // from is still in place) and temporary files of HISTORY/MARKS
  // replacements: a writing open removes them.
  std::vector<std::string> leftovers;
};

// Lists dir's segments (sealed ones loaded: header, trailer, index).
DirListing list_segments(FileSystem& fs, const std::string& dir);

struct LogProblem {
  std::string file;  // full path
  std::string what;  // without the path
};

// The files that make up the log.
struct LogPlan {
  std::vector<std::shared_ptr<Segment>> sealed;  // the chain, oldest first
  // Sealed segments whose range another one covers (left behind by a
  // compaction or truncate_after that replaced them before removing them),
  // with a note each: a writing open removes them, a reader ignores them.
  std::vector<std::pair<std::string, std::string>> redundant;  // (name, note)
  std::optional<ListedSegment> tail;                           // the unsealed last segment, if any
  uint64_t tail_prev_last = 0;        // the last seq before the tail (0: none)
  std::optional<LogProblem> problem;  // the chain is broken: nothing to open
};

// Applies the chain rules to a listing: consecutive ranges, only the last
// segment unsealed. Pure.
LogPlan plan_log(const DirListing& listing, const std::string& dir);

// kWalCorrupt "<file>: <what>".
Error log_problem_error(const LogProblem& p);

// What repairing the unsealed tail left.
struct RepairedTail {
  // The tail was a finished seal whose preallocated space had not been cut:
  // it is sealed now and there is no active segment yet.
  std::shared_ptr<Segment> sealed;
  // Otherwise (when `file` is set) the active segment: open for reading and
  // writing, its records [kHeaderSize, scan.end) durable.
  std::shared_ptr<File> file;
  TailScan scan;
  // Neither: the tail's creation never finished and it was removed.
};

// Repairs the unsealed tail `name` (base seq `base`, following prev_last):
// removes a segment whose creation did not finish, finishes or drops an
// interrupted seal, rewrites it without corrupt records (skip_corrupt; the
// damaged file is kept beside it), cuts a torn tail, and fdatasyncs what
// stays so nothing found only in the page cache is acknowledged. Every
// change adds a note (and counts) to rep. Throws kWalCorrupt for mid-log
// corruption (without skip_corrupt) or a damaged header in front of records.
RepairedTail repair_tail(FileSystem& fs, const std::string& dir, const std::string& name,
                         uint64_t base, uint64_t prev_last, bool skip_corrupt, OpenReport& rep);

// Removes the plan's redundant segments and the listing's leftovers, each
// noted in rep; the directory is fsynced after the segments go.
void remove_redundant(FileSystem& fs, const std::string& dir, const DirListing& listing,
                      const LogPlan& plan, OpenReport& rep);

}  // namespace strata::wal
