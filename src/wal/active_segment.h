// The active segment: the one unsealed segment records go into, as the
// commit pipeline's sink. Creating or adopting it, growing its zero-filled
// space ahead of the writers in `always` mode (preallocation), sealing it
// and replacing it by the next one (rotation).
//
// In `always` mode the file grows by kPreallocChunk of zeros at a time:
// overwriting allocated blocks lets fdatasync skip the file-size journal
// update. The WAL's background thread fills and syncs the next chunk before
// the writers need it (preallocate); a writer that gets there first grows
// the file itself (ensure_allocated).
//
// Rotation does not create the next segment under the mutex either: once
// the active segment is half full the background thread makes a spare (a
// file under a name opening removes as a leftover, in `always` mode with its
// first chunk zero-filled and synced, its sync descriptors open), so
// rotation only writes the spare's header, fdatasyncs it, renames it and
// fsyncs the directory. Without a spare (the thread was behind, or making
// one failed) rotation creates the segment as before.
//
// Contract: every method runs with the WAL's mutex (mu_) held, passed in as
// the unique_lock when the method may release it: preallocate writes and
// syncs without it, drain and rotate wait on the pipeline, ensure_allocated
// waits for a preallocation in flight. Progress is signalled on the WAL's
// condition variable cv; preallocation requests on bg_cv. A failed sync,
// seal or creation stops the pipeline (kWalStopped from then on); a failed
// growth only refuses the write that needed it (kIoError).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "strata/fs.h"
#include "strata/wal.h"
#include "wal/commit_pipeline.h"
#include "wal/segment_file.h"
#include "wal/segment_reader.h"

namespace strata::wal {

class ActiveSegment {
 public:
  ActiveSegment(FileSystem& fs, const WalOptions& opt, CommitPipeline& pipe,
                std::condition_variable& cv, std::condition_variable& bg_cv, WalMetrics& metrics);

  // Null only before open and after close.
  const std::shared_ptr<Segment>& segment() const { return seg_; }
  Segment* operator->() const { return seg_.get(); }
  const std::shared_ptr<SegmentSink>& sink() const { return sink_; }

  // A new empty segment for `base` (header and syncs: create_segment); the
  // pipeline restarts at it with head base-1. Throws on failure.
  void create(uint64_t base);
  // Makes the unsealed segment described by scan the active one; its
  // records are durable. sha_valid: scan.sha covers [0, scan.end).
  void adopt(const std::string& name, uint64_t base, std::shared_ptr<File> file, TailScan& scan,
             bool sha_valid);
  void reset() {
    seg_.reset();
    sink_.reset();
  }

  // Makes sure the file is zero-filled up to end (always mode; other modes
  // let the file grow with its writes) and asks for the next chunk when
  // little is left. False when it had to wait without the mutex, so the
  // caller must look again (the segment may have rotated).
  bool ensure_allocated(std::unique_lock<std::mutex>& lk, uint64_t end);
  // The background thread's part: grows the file by a chunk and syncs it,
  // without the mutex. A failed sync stops the pipeline (it may have
  // consumed a writeback error of records); a failed write is only logged.
  void preallocate(std::unique_lock<std::mutex>& lk);
  bool prealloc_wanted() const { return prealloc_wanted_; }
  bool prealloc_running() const { return prealloc_running_; }

  // The background thread's other part: makes the spare without the mutex.
  // A failure is logged and no spare is tried again for this segment.
  void prepare_spare(std::unique_lock<std::mutex>& lk);
  bool spare_wanted() const { return spare_wanted_; }
  // Removes the spare's file (close; only once the background thread is
  // gone). Errors are logged: opening removes a spare left behind.
  void discard_spare();

  // Writes and syncs everything appended so far; waits out the pipeline's
  // I/O and the preallocation in flight.
  void drain(std::unique_lock<std::mutex>& lk) {
    pipe_.drain(lk, [&] { return prealloc_running_; });
  }
  // Drains, seals the segment, hands it to on_sealed (which puts it in the
  // sealed list) and creates the next one. Does nothing when another writer
  // rotated while this one waited.
  void rotate(std::unique_lock<std::mutex>& lk,
              const std::function<void(std::shared_ptr<Segment>)>& on_sealed);

 private:
  struct Spare {
    std::string name;
    std::shared_ptr<File> file;
    std::vector<std::shared_ptr<File>> sync_files;
    uint64_t alloc_end = 0;  // zero-filled and synced up to here
  };

  std::vector<std::shared_ptr<File>> open_sync_files(const std::string& path);
  void seal();
  // The next segment for base from the spare (rotate).
  void install_spare(uint64_t base);
  // Asks the background thread for a spare once `end` passes half the
  // segment size.
  void want_spare(uint64_t end);

  FileSystem& fs_;
  const WalOptions& opt_;
  CommitPipeline& pipe_;
  std::condition_variable& cv_;
  std::condition_variable& bg_cv_;
  WalMetrics& metrics_;

  std::shared_ptr<Segment> seg_;
  std::shared_ptr<SegmentSink> sink_;
  uint64_t alloc_end_ = kHeaderSize;  // the file is zero-filled up to here
  bool prealloc_wanted_ = false;      // the background thread should grow the file
  bool prealloc_running_ = false;
  std::optional<Spare> spare_;
  bool spare_wanted_ = false;
  bool spare_running_ = false;
  bool spare_refused_ = false;  // making one failed: not again for this segment
};

}  // namespace strata::wal
