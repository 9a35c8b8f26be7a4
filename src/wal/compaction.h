// Compaction of sealed segments: keeps the latest entry per path (seqs
// unchanged), drops only superseded entries at or below a floor, and writes
// each run of merged inputs to a NEW file under a NEW name (a sealed
// segment's name identifies its bytes: docs/format.md, "Segment names").
//
// Contract:
//  - Reads only the inputs it is given, through their open files (the caller
//    keeps them from being deleted meanwhile); takes no lock and keeps no
//    state between calls.
//  - Streams: memory is bounded by the per-path map and one write buffer,
//    never by the size of an output.
//  - A pinned input is read (its entries supersede older ones) but never
//    rewritten; each output covers exactly the seq range of the run of
//    inputs it replaces (so the open-time repair can tell output from
//    leftover).
//  - An output is written to "<name>.compact", synced, and handed to
//    `install`, which renames it into place and retires the inputs, or
//    returns false (an input was pinned meanwhile: the temporary file is
//    removed). Throws strata::Error on a read or write failure, with the
//    temporary file of the current output removed; earlier outputs stay
//    installed (each one is a whole, consistent replacement).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/fs.h"
#include "strata/wal.h"
#include "wal/segment_file.h"

namespace strata::wal {

struct CompactionInput {
  std::shared_ptr<Segment> segment;  // sealed
  std::shared_ptr<File> file;        // open for reading
};

struct CompactionOutput {
  size_t first = 0, last = 0;        // the run of inputs it replaces
  std::shared_ptr<Segment> segment;  // sealed, named, file not kept open
  std::string temp_path;             // where it is written, to rename
  uint64_t entries_dropped = 0;
};

// `pinned(i)` says whether input i is pinned now (asked when runs are
// chosen; install must ask again under the pin lock).
CompactResult compact_segments(FileSystem& fs, const std::string& dir,
                               const std::vector<CompactionInput>& inputs, uint64_t floor,
                               uint64_t segment_bytes, const std::function<bool(size_t)>& pinned,
                               const std::function<bool(const CompactionOutput&)>& install);

}  // namespace strata::wal
