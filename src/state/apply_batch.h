// A run of log entries applied to the state directory as one step: only
// the last write of each path reaches the disk, each directory is opened or
// made once, and each file costs one temporary file and one rename.
//
// What a batch does to a state directory D (a set of files, no empty
// directories) is exactly what applying its entries one by one does:
//   - a write of p removes everything below p, every file that is an
//     ancestor of p (a file where a directory must be) and then holds p;
//   - a delete of p removes p and everything below it;
//   - directories left empty are removed.
// So the result is (D minus every file any entry of the batch removes) plus
// the batch's writes that no later entry of the batch removed. A superseded
// write still counts for what it removed: "write a/b, delete a/b" over a
// file "a" leaves no "a" (the WAL compaction's tangled rule guards the same
// case).
//
// Crash safety: apply() may stop anywhere (an error, a power cut). What it
// did by then is removing files of D that the batch removes, replacing files
// by whole new contents (rename; with Writes::kInPlace a file it was writing
// may hold part of its new content), and making directories that some write
// of the batch needs. Applying the same entries again, or a longer run of
// entries starting with them, from the same recorded seq removes and writes
// the same paths and prunes every directory the first attempt may have left
// empty, so it reaches the same state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "strata/entry.h"
#include "strata/fs.h"

namespace strata::state_detail {

class ApplyBatch {
 public:
  // Adds an entry after the ones added so far. Throws kInvalidPath (nothing
  // added) for a path that could lead outside the state directory. Copies
  // the data of a write; a later entry of the same path frees it.
  void add(const EntryView& e);

  // How a surviving write reaches its file.
  enum class Writes {
    // A temporary file in tmp_dir renamed over the name: a reader of the
    // directory sees the old content or the new, never a part.
    kStaged,
    // Written at its own name (an existing file is overwritten and cut to
    // size): no temporary file and no rename, so a crash can leave a file
    // half-written, which applying again rewrites whole (see above). For a
    // directory nobody reads until it is complete: recovery's staging
    // directory, a rebuild of an empty state/. On this machine's ext4 each
    // file created costs about a millisecond, so a rebuild over a restored
    // snapshot creates no file at all this way instead of one per path.
    kInPlace,
  };

  // Brings the directory state_dir (which must exist) to the batch's effect;
  // with kStaged each file goes through tmp_dir (same file system). No file
  // or directory is fsynced: the caller makes the whole state durable
  // (syncfs) before it records the seq.
  void apply(FileSystem& fs, const std::string& state_dir, const std::string& tmp_dir,
             Writes writes = Writes::kStaged) const;

  size_t entries() const { return entries_; }
  // Bytes of data held for the writes that will reach the disk.
  uint64_t pending_bytes() const { return pending_bytes_; }
  bool empty() const { return entries_ == 0; }
  void clear();

 private:
  struct Item {
    bool touched = false;             // an entry of the batch named this path
    bool ancestor = false;            // a write of the batch named a path below it
    std::optional<std::string> data;  // the write that reaches the disk
  };
  void drop(Item& item);

  // Sorted, so a directory comes before everything below it.
  std::map<std::string, Item> items_;
  size_t entries_ = 0;
  uint64_t pending_bytes_ = 0;
};

}  // namespace strata::state_detail
