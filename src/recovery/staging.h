// Where recovery builds the new data directory, and the commit protocol that
// moves it into place: DATA_DIR/.recovery/staging holds wal/, state/,
// state.seq and lineage-id as they will be; DATA_DIR/.recovery/COMMIT, written
// atomically once they are complete and verified, decides the outcome.
//   - Without a COMMIT record, the data directory is untouched; the staging
//     directory is garbage and the next run removes it.
//   - With one, the moves are finished by whoever finds it (this run, or
//     the next after a crash). Each move is recognisable as done (a staged
//     directory by its inode in the record, a staged file by its absence
//     from staging), so finishing again after another crash is safe.
// What a move replaces goes to DATA_DIR/.recovery/replaced-<ms>/, never
// deleted unless the caller said it held nothing worth keeping.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/fs.h"

namespace strata::recovery {

struct ResumeReport {
  bool finished = false;   // a committed restore was moved into place
  bool discarded = false;  // an uncommitted staging directory was removed
  std::string replaced_dir;
};

// Whether an interrupted commit waits to be finished.
bool has_pending_commit(FileSystem& fs, const std::string& data_dir);
// Finishes an interrupted commit or discards an uncommitted staging area.
ResumeReport resume_interrupted(FileSystem& fs, const std::string& data_dir);

class Staging {
 public:
  // A fresh DATA_DIR/.recovery/staging (a leftover one is removed first).
  Staging(FileSystem& fs, std::string data_dir);
  ~Staging();  // removes the staging directory unless a COMMIT record may point to it
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // The staged data directory: wal/, state/, state.seq, lineage-id go here.
  const std::string& dir() const { return dir_; }

  // Makes the staged files durable, writes the COMMIT record and moves wal/,
  // state/, lineage-id and state.seq (whichever are staged) into the data
  // directory in that order; entries named in `aside` (e.g. "sync") are
  // moved out of the way too. Returns where the replaced entries were kept,
  // "" when keep_replaced is false (then they are deleted).
  // `failpoint` (may be empty) is called at "staged", "committed",
  // "moved-wal" and "moved-state".
  std::string commit(const std::vector<std::string>& aside, bool keep_replaced,
                     const std::function<void(std::string_view)>& failpoint = {});

 private:
  FileSystem& fs_;
  std::string data_dir_;
  std::string dir_;
  bool committed_ = false;
};

}  // namespace strata::recovery
