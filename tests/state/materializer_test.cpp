// The materializer: DATA_DIR/state equals "all entries up to state.seq
// applied", deletes prune empty directories, files and directories replace
// each other, a crash in the middle is repaired by the next run, and a log
// truncated below the applied seq makes run() rebuild.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "strata/error.h"
#include "strata/materializer.h"
#include "strata/testing/fault_injection_file_system.h"
#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using testing::make_entry;
using testing::read_file;
using testing::TempDir;

using Tree = std::map<std::string, std::string>;

// What the state directory must hold after applying `entries` in order.
Tree model(const std::vector<Entry>& entries) {
  Tree t;
  auto erase_under = [&](const std::string& dir) {
    const std::string prefix = dir + "/";
    for (auto it = t.lower_bound(prefix); it != t.end() && it->first.starts_with(prefix);) {
      it = t.erase(it);
    }
  };
  for (const auto& e : entries) {
    if (e.op == EntryOp::kDelete) {
      t.erase(e.path);
      erase_under(e.path);
      continue;
    }
    erase_under(e.path);
    for (size_t pos = e.path.find('/'); pos != std::string::npos; pos = e.path.find('/', pos + 1)) {
      t.erase(e.path.substr(0, pos));  // a file where a directory must be
    }
    t[e.path] = e.data;
  }
  return t;
}

// Regular files under dir; fails the test on anything else or on an empty
// directory (deletes must prune them).
Tree actual(const std::string& dir) {
  Tree t;
  if (!fs::exists(dir)) return t;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(e.path(), dir).string();
    if (e.is_directory()) {
      EXPECT_FALSE(fs::is_empty(e.path())) << "empty directory left behind: " << rel;
    } else if (e.is_regular_file()) {
      t[rel] = read_file(e.path().string());
    } else {
      ADD_FAILURE() << "unexpected file type: " << rel;
    }
  }
  return t;
}

class Materialize : public ::testing::Test {
 protected:
  void SetUp() override { wal_ = Wal::open(testing::test_options(data_ + "/wal")); }
  uint64_t add(const Entry& e) {
    log_.push_back(e);
    return wal_->append(e);
  }
  uint64_t add(std::string path, std::string data, EntryOp op = EntryOp::kCreate) {
    return add(make_entry(std::move(path), std::move(data), op));
  }
  uint64_t del(std::string path) { return add(make_entry(std::move(path), "", EntryOp::kDelete)); }
  std::vector<Entry> first(size_t n) { return {log_.begin(), log_.begin() + n}; }
  // A copy of the WAL directory as it is now, and putting it back later (a
  // restore from an old backup): the model forgets what came since.
  void copy_wal_aside() {
    wal_->close();
    fs::copy(data_ + "/wal", tmp_ / "wal.copy", fs::copy_options::recursive);
    wal_ = Wal::open(testing::test_options(data_ + "/wal"));
    log_at_copy_ = log_.size();
  }
  void put_wal_back() {
    wal_->close();
    fs::remove_all(data_ + "/wal");
    fs::copy(tmp_ / "wal.copy", data_ + "/wal", fs::copy_options::recursive);
    wal_ = Wal::open(testing::test_options(data_ + "/wal"));
    log_.resize(log_at_copy_);
  }
  std::string state() const { return data_ + "/state"; }
  // The first line of state.seq (the seq); the second names the WAL history.
  std::string seq_file_text() const {
    std::string t = read_file(data_ + "/state.seq");
    return t.substr(0, t.find('\n') + 1);
  }
  std::string seq_file_history() const {
    std::string t = read_file(data_ + "/state.seq");
    return t.substr(t.find('\n') + 1);
  }

  TempDir tmp_;
  std::string data_ = tmp_.path();
  std::unique_ptr<Wal> wal_;
  std::vector<Entry> log_;
  size_t log_at_copy_ = 0;
};

TEST_F(Materialize, EmptyLogGivesEmptyStateAtSeqZero) {
  Materializer m(data_);
  EXPECT_EQ(m.applied_seq(), 0u);
  auto r = m.run(*wal_);
  EXPECT_EQ(r.applied_seq, 0u);
  EXPECT_EQ(r.entries_applied, 0u);
  EXPECT_TRUE(actual(state()).empty());
  EXPECT_EQ(m.state_dir(), state());
}

TEST_F(Materialize, AppliesCreatesUpdatesAndDeletes) {
  add("sessions/s1.json", "{\"a\":1}");
  add("beads/b1", "bead one");
  add("sessions/s1.json", "{\"a\":2}", EntryOp::kUpdate);
  add("memory/m", std::string("\x00\x01\xff", 3));
  add("empty", "");
  del("beads/b1");
  Materializer m(data_);
  auto r = m.run(*wal_);
  EXPECT_EQ(r.from_seq, 0u);
  EXPECT_EQ(r.applied_seq, 6u);
  EXPECT_EQ(r.entries_applied, 6u);
  EXPECT_FALSE(r.rebuilt);
  EXPECT_EQ(actual(state()), model(log_));
  EXPECT_EQ(actual(state())["sessions/s1.json"], "{\"a\":2}");
  EXPECT_FALSE(fs::exists(state() + "/beads")) << "empty directory not pruned";
}

TEST_F(Materialize, StateSeqIsRecordedAsDecimalLine) {
  for (int i = 0; i < 7; ++i) add(fmt::format("f{}", i), "x");
  Materializer m(data_);
  m.run(*wal_);
  EXPECT_EQ(seq_file_text(), "7\n");
  auto last = wal_->read_entry(7);
  ASSERT_TRUE(last);
  const std::string fingerprint = entry_fingerprint(
      EntryView{last->seq, last->timestamp_ms, last->type, last->op, last->path, last->data});
  EXPECT_EQ(seq_file_history(),
            "history " + wal_->status().history_id + "\nlast 7 " + fingerprint + "\n");
  EXPECT_EQ(m.applied_entry(), (AppliedEntry{7, fingerprint}));
  EXPECT_EQ(m.applied_seq(), 7u);
  EXPECT_EQ(Materializer(data_).applied_seq(), 7u);
  EXPECT_FALSE(fs::exists(data_ + "/state.seq.tmp"));
}

TEST_F(Materialize, IncrementalRunsApplyOnlyNewEntries) {
  add("a", "1");
  add("b", "2");
  Materializer m(data_);
  EXPECT_EQ(m.run(*wal_).entries_applied, 2u);
  add("a", "3", EntryOp::kUpdate);
  auto r = m.run(*wal_);
  EXPECT_EQ(r.from_seq, 2u);
  EXPECT_EQ(r.entries_applied, 1u);
  EXPECT_EQ(r.applied_seq, 3u);
  EXPECT_EQ(actual(state()), model(log_));
  auto again = m.run(*wal_);  // nothing new
  EXPECT_EQ(again.entries_applied, 0u);
  EXPECT_EQ(again.applied_seq, 3u);
}

TEST_F(Materialize, DeletePrunesEmptyParentsButKeepsNonEmptyOnes) {
  add("a/b/c/d", "deep");
  add("a/keep", "k");
  del("a/b/c/d");
  Materializer m(data_);
  m.run(*wal_);
  EXPECT_FALSE(fs::exists(state() + "/a/b"));
  EXPECT_TRUE(fs::exists(state() + "/a/keep"));
  EXPECT_EQ(actual(state()), model(log_));
  del("a/keep");
  m.run(*wal_);
  EXPECT_FALSE(fs::exists(state() + "/a"));
  EXPECT_TRUE(fs::is_directory(state()));
}

TEST_F(Materialize, DeleteOfMissingPathIsHarmless) {
  del("never/was");
  add("x", "1");
  Materializer m(data_);
  EXPECT_EQ(m.run(*wal_).applied_seq, 2u);
  EXPECT_EQ(actual(state()), model(log_));
}

TEST_F(Materialize, FileReplacedByDirectory) {
  add("a", "file");
  add("a/b", "child");
  Materializer m(data_);
  m.run(*wal_);
  EXPECT_TRUE(fs::is_directory(state() + "/a"));
  EXPECT_EQ(actual(state()), model(log_));
}

TEST_F(Materialize, DirectoryReplacedByFile) {
  add("a/b/c", "1");
  add("a/x", "2");
  add("a", "now a file");
  Materializer m(data_);
  m.run(*wal_);
  EXPECT_TRUE(fs::is_regular_file(state() + "/a"));
  EXPECT_EQ(actual(state()), model(log_));
}

TEST_F(Materialize, DeleteOfADirectoryPathRemovesTheTree) {
  add("a/b", "1");
  add("a/c/d", "2");
  add("z", "3");
  del("a");
  Materializer m(data_);
  m.run(*wal_);
  EXPECT_EQ(actual(state()), (Tree{{"z", "3"}}));
}

TEST_F(Materialize, ApplyRefusesPathsOutsideTheState) {
  Materializer m(data_);
  EntryView v;
  v.path = "../escape";
  v.data = "x";
  EXPECT_THROW(m.apply(v), Error);
  EXPECT_FALSE(fs::exists(data_ + "/escape"));
}

TEST_F(Materialize, ResetEmptiesStateAndRecordsZero) {
  add("a", "1");
  Materializer m(data_);
  m.run(*wal_);
  m.reset();
  EXPECT_EQ(m.applied_seq(), 0u);
  EXPECT_TRUE(actual(state()).empty());
  EXPECT_EQ(m.run(*wal_).applied_seq, 1u);  // and it rebuilds from the log
  EXPECT_EQ(actual(state()), model(log_));
}

// ---- crash in the middle

TEST_F(Materialize, CrashAfterApplyingWithoutCommitIsRepaired) {
  for (int i = 0; i < 5; ++i) add(fmt::format("d{}/f", i % 2), fmt::format("v{}", i));
  Materializer m(data_);
  m.run(*wal_);
  add("d0/f", "", EntryOp::kDelete);
  add("d0", "file now");
  add("d1/f/g", "deeper");
  add("d2/new", "n");
  // The crashed run applied the first three new entries but never committed.
  wal_->replay_view(5, 3, [&](const EntryView& v) {
    m.apply(v);
    return true;
  });
  EXPECT_EQ(m.applied_seq(), 5u);
  Materializer fresh(data_);
  auto r = fresh.run(*wal_);
  EXPECT_EQ(r.from_seq, 5u);
  EXPECT_EQ(r.applied_seq, 9u);
  EXPECT_EQ(actual(state()), model(log_));
}

TEST_F(Materialize, FailedRenameMidRunIsRepairedByTheNextRun) {
  for (int i = 0; i < 20; ++i) {
    if (i % 7 == 6)
      del(fmt::format("dir{}/file{}", (i - 1) % 3, i - 1));
    else
      add(fmt::format("dir{}/file{}", i % 3, i), fmt::format("content {}", i));
  }
  FaultInjectionFileSystem fi;
  Materializer crashing(data_, &fi);
  fi.add_rule(testing::fault(FsOp::kRename, "/state/", 8));
  EXPECT_THROW(crashing.run(*wal_), Error);
  EXPECT_NE(actual(state()), model(log_)) << "the fault did not interrupt the run";
  EXPECT_EQ(Materializer(data_).applied_seq(), 0u);
  fi.clear_rules();
  auto r = crashing.run(*wal_);
  EXPECT_EQ(r.applied_seq, 20u);
  EXPECT_EQ(actual(state()), model(log_));
}

TEST_F(Materialize, FailedSyncfsDoesNotRecordTheSeq) {
  add("a", "1");
  add("b", "2");
  FaultInjectionFileSystem fi;
  Materializer m(data_, &fi);
  fi.add_rule(testing::fault(FsOp::kSyncFilesystem));
  EXPECT_THROW(m.run(*wal_), Error);
  EXPECT_EQ(m.applied_seq(), 0u) << "state.seq vouched for files not known to be durable";
  EXPECT_EQ(m.run(*wal_).applied_seq, 2u);
  EXPECT_EQ(actual(state()), model(log_));
}

// ---- the log moves back

TEST_F(Materialize, TruncateBelowAppliedSeqRebuilds) {
  for (int i = 1; i <= 10; ++i) add(fmt::format("f{}", i % 4), fmt::format("v{}", i));
  Materializer m(data_);
  m.run(*wal_);
  wal_->truncate_after(5);
  auto r = m.run(*wal_);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_EQ(r.applied_seq, 5u);
  EXPECT_EQ(actual(state()), model(first(5)));
  EXPECT_EQ(seq_file_text(), "5\n");
}

// Regression test (a bug the black-box suite found, since fixed): run() notices a truncation only
// while the head is below state.seq. Once new entries take the head past it again, entries 6..10 of
// the old history stay in the state and the new 6..10 are never applied.
TEST_F(Materialize, TruncateBelowAppliedSeqThenAppendPastItStillRebuilds) {
  for (int i = 1; i <= 10; ++i) add(fmt::format("old{}", i), fmt::format("v{}", i));
  Materializer m(data_);
  m.run(*wal_);
  wal_->truncate_after(5);
  log_.resize(5);
  for (int i = 6; i <= 12; ++i) add(fmt::format("new{}", i), fmt::format("n{}", i));
  auto r = m.run(*wal_);
  EXPECT_EQ(r.applied_seq, 12u);
  EXPECT_EQ(actual(state()), model(log_));
}

// Regression test (found while building the crash harness, tests/crash/serve_crash_test.cpp): with
// PRUNE_KEEP_SEGMENTS=0 the pruner deletes every confirmed sealed segment, and after a rotation
// (or a kill that tore the first record of a new segment) that includes the one holding the last
// entry applied to the state. The next run took the missing entry for a rolled-back WAL and
// rebuilt the state from a log that no longer starts at 1: every file but the newest was gone.
TEST_F(Materialize, ThePrunedLastAppliedEntryIsNoReasonToRebuild) {
  wal_->close();
  auto o = testing::test_options(data_ + "/wal");
  o.segment_bytes = 4096;
  o.tiers = {"remote"};
  wal_ = Wal::open(o);
  for (int i = 0; i < 40; ++i) add(fmt::format("s/{}", i), std::string(200, 'a' + i % 26));
  Materializer m(data_);
  ASSERT_EQ(m.run(*wal_).applied_seq, 40u);
  wal_->rotate();
  wal_->confirm("remote", 40);
  ASSERT_FALSE(wal_->delete_sealed_through(40).empty());
  ASSERT_FALSE(wal_->read_entry(40)) << "the last applied entry should be pruned";
  add("s/after", "x");
  const auto r = m.run(*wal_);
  EXPECT_FALSE(r.rebuilt) << r.rebuild_reason;
  EXPECT_EQ(r.applied_seq, 41u);
  EXPECT_EQ(actual(state()), model(log_));
}

// Regression test (issue 10, defect 9): a WAL directory put back from an
// older copy, then appended to, has the seqs the state was applied up to
// but other entries under them. run() continued from the recorded seq and
// kept an entry that is in no log (b) and never applied one that is (c).
TEST_F(Materialize, WalDirectoryRolledBackThenAppendedToRebuilds) {
  add("a", "A");
  copy_wal_aside();
  add("b", "B");
  Materializer m(data_);
  EXPECT_EQ(m.run(*wal_).applied_seq, 2u);
  put_wal_back();
  add("c", "C");  // seq 2 again, another entry
  add("d", "D");
  auto r = m.run(*wal_);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_NE(r.rebuild_reason.find("entry 2"), std::string::npos) << r.rebuild_reason;
  EXPECT_EQ(r.applied_seq, 3u);
  EXPECT_EQ(actual(state()), (Tree{{"a", "A"}, {"c", "C"}, {"d", "D"}}));
  EXPECT_EQ(actual(state()), model(log_));
  EXPECT_FALSE(m.run(*wal_).rebuilt) << "the rebuilt state must match the log from then on";
}

TEST_F(Materialize, WalDirectoryRolledBackToTheSameHeadRebuilds) {
  add("a", "A");
  copy_wal_aside();
  add("b", "B");
  Materializer m(data_);
  m.run(*wal_);
  put_wal_back();
  add("c", "C");  // the head is 2 again: nothing looks new
  auto r = m.run(*wal_);
  EXPECT_TRUE(r.rebuilt);
  EXPECT_EQ(actual(state()), model(log_));
}

TEST_F(Materialize, RunLeavesNoStagingDirectory) {
  add("a/b", "1");
  add("c", "2");
  Materializer m(data_);
  m.run(*wal_);
  EXPECT_FALSE(fs::exists(data_ + "/state.tmp")) << "an empty state.tmp/ was left behind";
}

TEST_F(Materialize, DamagedStateSeqIsRefusedNamingTheFile) {
  add("a", "1");
  testing::write_file(data_ + "/state.seq", "seven\n");
  Materializer m(data_);
  try {
    m.applied_seq();
    ADD_FAILURE() << "a damaged state.seq was read as a seq";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIoError);
    EXPECT_NE(std::string(e.what()).find("state.seq"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.run(*wal_), Error);
  EXPECT_EQ(testing::read_file(data_ + "/state.seq"), "seven\n") << "run() overwrote it";
  // A state.seq of an older strata (seq only, or seq and history) still reads.
  testing::write_file(data_ + "/state.seq", "1\n");
  EXPECT_EQ(m.applied_seq(), 1u);
}

// ---- compaction must not change what the log materializes to

TEST_F(Materialize, CompactedLogMaterializesToTheSameTree) {
  wal_->close();
  auto o = testing::test_options(data_ + "/wal");
  o.segment_bytes = 4096;
  wal_ = Wal::open(o);
  for (int i = 0; i < 200; ++i) {
    if (i % 9 == 8)
      del(fmt::format("s/{}", (i - 3) % 6));
    else
      add(fmt::format("s/{}", i % 6), fmt::format("value {} {}", i, std::string(50, 'p')));
  }
  wal_->rotate();
  wal_->compact(true);
  Materializer m(tmp_ / "other");
  m.run(*wal_);
  EXPECT_EQ(actual(tmp_ / "other/state"), model(log_));
}

// Regression test (a bug the black-box suite found, since fixed): compaction keeps the latest entry
// per path, but a create of "a/b" implicitly removes a file "a". Dropping the superseded "a/b"
// entries while keeping the older "a" resurrects "a" on a rebuild from the log.
TEST_F(Materialize, CompactionKeepsFileDirectoryReplacementsFaithful) {
  wal_->close();
  auto o = testing::test_options(data_ + "/wal");
  o.segment_bytes = 4096;
  wal_ = Wal::open(o);
  add("a", "file a");        // 1
  add("a/b", "replaces a");  // 2: "a" becomes a directory
  add("a/b", "update");      // 3: supersedes 2
  del("a/b");                // 4: supersedes 3; prunes "a"
  for (int i = 0; i < 60; ++i) add(fmt::format("pad/{}", i % 2), std::string(100, 'x'));
  wal_->rotate();
  Materializer before(tmp_ / "before");
  before.run(*wal_);
  ASSERT_EQ(actual(tmp_ / "before/state"), model(log_));
  wal_->compact(true);
  Materializer after(tmp_ / "after");
  after.run(*wal_);
  EXPECT_EQ(actual(tmp_ / "after/state"), model(log_));
}

// ---- batches: a run applies up to 100,000 entries as one step

// The tangled case: a write that a later entry of the same batch supersedes
// still removed the file in its way. Applying only "delete a/b" would leave
// the file "a".
TEST_F(Materialize, SupersededWriteInABatchStillRemovesTheFileInItsWay) {
  add("a", "file a");
  Materializer m(data_);
  m.run(*wal_);
  add("a/b", "replaces a");
  del("a/b");  // prunes the directory "a"
  m.run(*wal_);
  EXPECT_EQ(actual(state()), model(log_));
  EXPECT_FALSE(fs::exists(state() + "/a"));
}

TEST_F(Materialize, OrderWithinABatchIsKeptForReplacementsAndDeletes) {
  add("a/b", "1");
  add("a/c", "2");
  add("d", "3");
  add("k/l/m", "4");
  add("k/n", "5");
  Materializer m(data_);
  m.run(*wal_);
  del("a");                // the tree goes ...
  add("a/x", "new");       // ... and comes back with one file
  add("d/e", "d is dir");  // file replaced by a directory
  add("d", "file again");  // and back
  add("q/r/s", "t");
  del("q/r/s");  // never reaches the disk, nor do q/ and q/r/
  add("m", "1");
  add("m/n", "2");  // "m" becomes a directory
  del("k/l/m");     // prunes k/l, keeps k (k/n)
  add("k/n/o", "3");
  m.run(*wal_);
  EXPECT_EQ(actual(state()), model(log_));
  EXPECT_EQ(actual(state()),
            (Tree{{"a/x", "new"}, {"d", "file again"}, {"m/n", "2"}, {"k/n/o", "3"}}));
}

// Batches of random writes and deletes over nested paths, each on top of the
// state the earlier ones left, give what applying every entry in order
// gives.
TEST_F(Materialize, RandomBatchesMatchApplyingEntriesOneByOne) {
  std::mt19937 rng(12);
  const std::vector<std::string> parts = {"a", "b", "c"};
  auto random_path = [&] {
    std::string p = parts[rng() % parts.size()];
    for (unsigned depth = rng() % 3; depth > 0; --depth) p += "/" + parts[rng() % parts.size()];
    return p;
  };
  Materializer m(data_);
  for (int round = 0; round < 60; ++round) {
    const unsigned n = 1 + rng() % 30;
    for (unsigned i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        del(random_path());
      } else {
        add(random_path(), fmt::format("r{} i{}", round, i));
      }
    }
    m.run(*wal_);
    ASSERT_EQ(actual(state()), model(log_)) << "after round " << round;
  }
}

// Only the last write of a path reaches the disk: 200 entries over 10 paths
// cost 10 renames (and one for state.seq), and each directory is made once.
TEST_F(Materialize, OnlyTheLastWriteOfAPathInABatchReachesTheDisk) {
  for (int i = 0; i < 200; ++i) add(fmt::format("d{}/f{}", i % 2, i % 10), fmt::format("v{}", i));
  FaultInjectionFileSystem fi;
  Materializer m(data_, &fi);
  EXPECT_EQ(m.run(*wal_).entries_applied, 200u);
  EXPECT_EQ(actual(state()), model(log_));
  EXPECT_EQ(fi.count(FsOp::kRename), 10u + 1u);
  EXPECT_EQ(fi.count(FsOp::kSyncFilesystem), 1u);
}

// A power cut anywhere in a batch, losing every block not yet covered by a
// sync: the batch committed before it survives, and a run from the recorded
// seq repairs the rest.
TEST_F(Materialize, PowerCutDuringABatchIsRepairedFromStateSeq) {
  std::vector<Entry> entries;
  for (int i = 0; i < 40; ++i) {
    const std::string p = fmt::format("s{}/f{}", i % 3, i % 7);
    entries.push_back(i % 9 == 8 ? make_entry(p, "", EntryOp::kDelete)
                                 : make_entry(p, std::string(40 + i, 'a' + i % 26)));
  }
  entries.push_back(make_entry("s0", "a file where a directory was"));
  entries.push_back(make_entry("s1/f1/g", "a directory where a file was"));
  entries.push_back(make_entry("s2", "", EntryOp::kDelete));
  // Where the cut comes: the n-th call of that kind in the second run.
  std::vector<std::pair<FsOp, int>> cuts = {{FsOp::kSyncFilesystem, 0}, {FsOp::kRemove, 0}};
  for (int n = 0; n < 8; ++n) cuts.emplace_back(FsOp::kRename, n);
  for (int n = 0; n < 3; ++n) cuts.emplace_back(FsOp::kWrite, n);
  for (size_t round = 0; round < cuts.size(); ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    const std::string dir = tmp_ / fmt::format("round{}", round);
    auto wal = Wal::open(testing::test_options(dir + "/wal"));
    for (size_t i = 0; i < 20; ++i) wal->append(entries[i]);
    FaultInjectionFileSystem fi;
    fi.track_unsynced_writes(true);
    Materializer m(dir, &fi);
    m.run(*wal);
    for (size_t i = 20; i < entries.size(); ++i) wal->append(entries[i]);
    fi.add_rule(testing::fault(cuts[round].first, "/state", cuts[round].second));
    EXPECT_THROW(m.run(*wal), Error);
    fi.cut_power();
    fi.lose_unsynced_writes(round);
    EXPECT_EQ(Materializer(dir).applied_seq(), 20u);
    EXPECT_EQ(Materializer(dir).run(*wal).applied_seq, entries.size());
    EXPECT_EQ(actual(dir + "/state"), model(entries));
  }
}

}  // namespace
}  // namespace strata
