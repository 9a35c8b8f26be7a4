#include "wal/commit_pipeline.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace strata::wal {

namespace {

// A batch's writers sleep on its state word with the futex system call
// itself: one FUTEX_WAKE wakes the whole group, one wakes the next leader,
// and a state changed before the sleeper got there returns at once, so no
// wake-up is lost (std::atomic::wait would do the same through libstdc++'s
// shared waiter table and a spin first).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>& word, int count) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr,
            nullptr, 0);
}

}  // namespace

CommitPipeline::CommitPipeline(std::condition_variable& cv, PipelineOptions options)
    : cv_(cv), opt_(std::move(options)) {
  slot_busy_.assign(std::max<size_t>(1, opt_.slots), false);
}

void CommitPipeline::reset(std::shared_ptr<CommitSink> sink, uint64_t end, uint64_t head) {
  sink_ = std::move(sink);
  pending_.clear();
  pending_entries_ = 0;
  written_end_ = ack_end_ = end;
  next_seq_ = head + 1;
  taken_seq_ = written_seq_ = durable_seq_ = ack_seq_ = head;
  batches_.clear();
}

bool CommitPipeline::io_running() const {
  return interval_sync_running_ ||
         std::find(slot_busy_.begin(), slot_busy_.end(), true) != slot_busy_.end();
}

char* CommitPipeline::add(size_t bytes) {
  if (stopped_) throw stopped_error();
  const size_t old = pending_.size();
  pending_.resize(old + bytes);
  return pending_.data() + old;
}

void CommitPipeline::add_done(uint64_t entries, uint64_t last) {
  pending_entries_ += entries;
  next_seq_ = last + 1;
  if (opt_.mode != SyncMode::kAlways) return;
  if (batches_.empty() || batches_.back()->state.load(std::memory_order_relaxed) >= Batch::kTaken) {
    batches_.push_back(std::make_shared<Batch>());
  }
  batches_.back()->upto = last;
}

void CommitPipeline::commit(std::unique_lock<std::mutex>& lk, uint64_t last) {
  switch (opt_.mode) {
    case SyncMode::kAlways:
      wait_for_durable(lk, last);  // returns unlocked
      return;
    case SyncMode::kInterval:
      // Written now, so a crash of the process loses nothing; the owner's
      // background thread syncs (a concurrent write is fine while it does).
      write_pending();
      break;
    case SyncMode::kNone:
      if (pending_.size() >= opt_.buffered_write_bytes) write_pending();
      ack_seq_ = last;  // readers write the buffer before reading
      break;
  }
  lk.unlock();
}

Error CommitPipeline::stopped_error() const {
  return Error(ErrorCode::kWalStopped,
               fmt::format("{} stopped accepting writes: {}", opt_.log_name, stop_reason_));
}

void CommitPipeline::stop(const std::string& reason, const Error& cause) {
  if (!stopped_) {
    stopped_ = true;
    // What reached the sink is what a reopen can find; in `none` mode
    // entries are acknowledged before that, and those are gone.
    std::string lost;
    if (ack_seq_ > written_seq_) {
      lost = fmt::format(
          "; seqs {} to {} were acknowledged (WAL_SYNC=none acknowledges before writing) and "
          "are lost",
          written_seq_ + 1, ack_seq_);
    } else if (next_seq_ - 1 > ack_seq_) {
      lost = fmt::format("; entries after seq {} were not acknowledged and may be lost", ack_seq_);
    }
    stop_reason_ = fmt::format(
        "{}: {}. Entries up to seq {} reached the segment{}; reopen the WAL to recover its "
        "durable prefix",
        reason, cause.what(), written_seq_, lost);
    spdlog::critical("{} stopped: {}", opt_.log_name, stop_reason_);
  }
  cv_.notify_all();
  std::vector<std::shared_ptr<Batch>> finished;
  finish_batches(finished);
  wake_all(finished);
  throw stopped_error();
}

size_t CommitPipeline::free_slot() const {
  for (size_t i = 0; i < slot_busy_.size(); ++i) {
    if (!slot_busy_[i]) return i;
  }
  return kNoSlot;
}

void CommitPipeline::wait_for_durable(std::unique_lock<std::mutex>& lk, uint64_t seq) {
  // The records were added with the mutex held since: they are the pending
  // batch's. Shared, so it outlives the leader's wake-up call.
  const std::shared_ptr<Batch> mine = batches_.back();
  while (true) {
    if (stopped_) throw stopped_error();
    if (durable_seq_ >= seq) {
      lk.unlock();
      return;
    }
    const uint32_t state = mine->state.load(std::memory_order_relaxed);
    if (state <= Batch::kLead && free_slot() != kNoSlot) {
      lead_group(lk);
      continue;
    }
    lk.unlock();
    futex_wait(mine->state, state);
    // Done is stored after durable_seq_ passed the batch, under the mutex
    // this writer no longer needs.
    if (mine->state.load(std::memory_order_acquire) == Batch::kDone) return;
    lk.lock();
  }
}

void CommitPipeline::lead_group(std::unique_lock<std::mutex>& lk) {
  const size_t slot = free_slot();
  slot_busy_[slot] = true;
  std::string buf;
  if (!spare_bufs_.empty()) {
    buf = std::move(spare_bufs_.back());
    spare_bufs_.pop_back();
  }
  buf.clear();
  buf.swap(pending_);
  const uint64_t off = written_end_ + inflight_bytes_;
  inflight_bytes_ += buf.size();
  const uint64_t upto = next_seq_ - 1;
  taken_seq_ = upto;
  const uint64_t group = pending_entries_;
  pending_entries_ = 0;
  batches_.back()->state.store(Batch::kTaken, std::memory_order_relaxed);
  inflight_.push_back(Group{upto, off + buf.size(), false});
  auto sink = sink_;
  auto release = [&] {
    slot_busy_[slot] = false;
    buf.clear();
    spare_bufs_.push_back(std::move(buf));
  };

  // Groups are written in log order: wait for those taken before this one.
  cv_.wait(lk, [&] { return stopped_ || written_end_ == off; });
  if (stopped_) {
    release();
    cv_.notify_all();
    throw stopped_error();
  }
  lk.unlock();
  std::optional<Error> failure;
  try {
    sink->write(buf, off);
  } catch (const Error& e) {
    failure = e;
  }
  lk.lock();
  if (failure) {
    release();
    stop(fmt::format("write of segment {} failed", sink->name()), *failure);
  }
  written_end_ = off + buf.size();
  inflight_bytes_ -= buf.size();
  written_seq_ = upto;
  cv_.notify_all();  // the next leader's turn to write
  lk.unlock();

  try {
    sink->sync(slot);
  } catch (const Error& e) {
    failure = e;
  }
  lk.lock();
  release();
  counters_.syncs++;
  counters_.group_commits++;
  counters_.max_group_size = std::max(counters_.max_group_size, group);
  if (failure) stop(fmt::format("fdatasync of segment {} failed", sink->name()), *failure);
  if (stopped_) {  // an overlapping sync failed
    cv_.notify_all();
    throw stopped_error();
  }
  // A group is acknowledged once its own sync and those of all groups
  // before it have succeeded: a later group's success does not prove an
  // earlier one's if that one failed.
  for (auto& g : inflight_) {
    if (g.upto == upto) g.synced = true;
  }
  while (!inflight_.empty() && inflight_.front().synced) {
    durable_seq_ = ack_seq_ = inflight_.front().upto;
    ack_end_ = inflight_.front().end;
    inflight_.pop_front();
  }
  cv_.notify_all();
  // One wake-up call per finished group, made without the mutex, so the
  // next leader (woken first, by finish_batches) can start its write.
  std::vector<std::shared_ptr<Batch>> finished;
  finish_batches(finished);
  lk.unlock();
  wake_all(finished);
  lk.lock();
}

void CommitPipeline::finish_batches(std::vector<std::shared_ptr<Batch>>& finished) {
  while (!batches_.empty()) {
    Batch& b = *batches_.front();
    const bool durable =
        b.state.load(std::memory_order_relaxed) >= Batch::kTaken && b.upto <= durable_seq_;
    if (!stopped_ && !durable) break;
    b.state.store(stopped_ ? Batch::kStopped : Batch::kDone, std::memory_order_release);
    finished.push_back(std::move(batches_.front()));
    batches_.pop_front();
  }
  // The pending batch gets a leader now if a slot is free: one of its
  // writers is woken to lead it (the sooner it runs, the shorter the gap
  // without a sync in flight). Setting kLead also turns back a writer that
  // was about to sleep on kGathering.
  if (stopped_ || batches_.empty() || free_slot() == kNoSlot) return;
  Batch& next = *batches_.back();
  if (next.state.load(std::memory_order_relaxed) != Batch::kGathering) return;
  next.state.store(Batch::kLead, std::memory_order_relaxed);
  futex_wake(next.state, 1);
}

void CommitPipeline::wake_all(const std::vector<std::shared_ptr<Batch>>& finished) {
  for (const auto& b : finished) futex_wake(b->state, INT_MAX);
}

void CommitPipeline::write_pending() {
  if (pending_.empty()) return;
  try {
    sink_->write(pending_, written_end_);
  } catch (const Error& e) {
    stop(fmt::format("write of segment {} failed", sink_->name()), e);
  }
  written_end_ += pending_.size();
  taken_seq_ = written_seq_ = next_seq_ - 1;
  if (!batches_.empty() && batches_.back()->state.load(std::memory_order_relaxed) < Batch::kTaken) {
    batches_.back()->state.store(Batch::kTaken, std::memory_order_relaxed);
  }
  if (opt_.mode != SyncMode::kAlways) {
    ack_seq_ = written_seq_;
    ack_end_ = written_end_;
  }
  counters_.group_commits++;
  counters_.max_group_size = std::max(counters_.max_group_size, pending_entries_);
  pending_entries_ = 0;
  pending_.clear();
}

void CommitPipeline::drain(std::unique_lock<std::mutex>& lk, const std::function<bool()>& busy) {
  cv_.wait(lk, [&] { return stopped_ || (idle() && (!busy || !busy())); });
  if (stopped_) throw stopped_error();
  write_pending();
  if (durable_seq_ < written_seq_) {
    try {
      sink_->sync(0);
    } catch (const Error& e) {
      stop(fmt::format("fdatasync of segment {} failed", sink_->name()), e);
    }
    counters_.syncs++;
    durable_seq_ = written_seq_;
  }
  ack_seq_ = written_seq_;
  ack_end_ = written_end_;
  cv_.notify_all();
  std::vector<std::shared_ptr<Batch>> finished;
  finish_batches(finished);
  wake_all(finished);
}

void CommitPipeline::sync_written(std::unique_lock<std::mutex>& lk) {
  if (durable_seq_ >= written_seq_ || interval_sync_running_ || stopped_) return;
  // The sync runs without the mutex so commits continue meanwhile.
  interval_sync_running_ = true;
  const uint64_t upto = written_seq_;
  auto sink = sink_;
  lk.unlock();
  std::optional<Error> failure;
  try {
    sink->sync(0);
  } catch (const Error& e) {
    failure = e;
  }
  lk.lock();
  interval_sync_running_ = false;
  cv_.notify_all();
  if (failure) stop("periodic fdatasync failed", *failure);
  counters_.syncs++;
  durable_seq_ = std::max(durable_seq_, upto);
}

}  // namespace strata::wal
