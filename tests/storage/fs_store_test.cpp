// FsCheckpointStorage on a real directory.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fcntl.h>

#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/storage.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/error_helpers.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

using testing::fault;
using testing::TempDir;

WriteOptions absent() {
  WriteOptions o;
  o.if_absent = true;
  return o;
}
WriteOptions match(const std::string& etag) {
  WriteOptions o;
  o.if_match = etag;
  return o;
}
WriteOptions meta(std::map<std::string, std::string> m) {
  WriteOptions o;
  o.metadata = std::move(m);
  return o;
}

using testing::code_of;

std::vector<std::string> all_files(const std::string& root) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) {
    out.push_back(e.path().string().substr(root.size() + 1));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FsStore, WriteReadStatListDelete) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  EXPECT_TRUE(s.is_available());
  EXPECT_EQ(s.read_file("wal/a"), std::nullopt);
  EXPECT_EQ(s.stat("wal/a"), std::nullopt);
  s.write_file("wal/a", "alpha", meta({{"seq", "7"}}));
  s.write_file("wal/b c+é", "beta");
  s.write_file("checkpoint.json", "{}");
  EXPECT_EQ(s.read_file("wal/a"), "alpha");
  EXPECT_EQ(testing::read_file(dir / "store/wal/a"), "alpha");  // a plain file: a mount
  auto st = s.stat("wal/a");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 5u);
  EXPECT_EQ(st->etag, sha256_hex("alpha"));
  EXPECT_EQ(st->metadata.at("sha256"), sha256_hex("alpha"));
  EXPECT_EQ(st->metadata.at("seq"), "7");
  EXPECT_LE(std::chrono::system_clock::now() - st->mtime, std::chrono::minutes(1));
  EXPECT_EQ(s.list_files(""), (std::vector<std::string>{"checkpoint.json", "wal/a", "wal/b c+é"}));
  EXPECT_EQ(s.list_files("wal/"), (std::vector<std::string>{"wal/a", "wal/b c+é"}));
  EXPECT_EQ(s.list_files("wal/b"), (std::vector<std::string>{"wal/b c+é"}));
  EXPECT_EQ(s.list_files("nothing"), std::vector<std::string>{});
  EXPECT_TRUE(s.verify_checksum("wal/a", sha256_hex("alpha")));
  EXPECT_FALSE(s.verify_checksum("wal/a", sha256_hex("other")));
  EXPECT_FALSE(s.verify_checksum("missing", sha256_hex("alpha")));
  s.delete_file("wal/a");
  s.delete_file("wal/a");  // idempotent
  s.delete_file("wal/b c+é");
  EXPECT_EQ(s.list_files(""), std::vector<std::string>{"checkpoint.json"});
  EXPECT_FALSE(std::filesystem::exists(dir / "store/wal"));  // emptied directories go
}

TEST(FsStore, OverwriteLeavesNoTemporaryFiles) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  for (int i = 0; i < 5; ++i) s.write_file("k", std::string(1000 + i, 'x'));
  EXPECT_EQ(s.read_file("k")->size(), 1004u);
  EXPECT_EQ(all_files(dir / "store"), (std::vector<std::string>{".strata-lock", "k"}));
}

TEST(FsStore, RejectsBadAndReservedKeys) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  for (std::string k :
       {"../escape", "/abs", "a//b", ".strata-lock", "x/.strata-meta", "a/.f.strata-tmp-1234"}) {
    EXPECT_EQ(code_of([&] { s.write_file(k, "x"); }), ErrorCode::kInvalidPath) << k;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "escape"));
}

TEST(FsStore, SymlinksInsideTheRootCannotLeadOutside) {
  TempDir dir;
  std::filesystem::create_directories(dir / "outside");
  std::filesystem::create_directories(dir / "store");
  FsCheckpointStorage s(dir / "store");
  std::filesystem::create_directory_symlink(dir / "outside", dir / "store/link");
  testing::write_file(dir / "outside/secret", "outside");
  std::filesystem::create_symlink(dir / "outside/secret", dir / "store/file-link");
  EXPECT_EQ(code_of([&] { s.write_file("link/x", "data"); }), ErrorCode::kInvalidPath);
  EXPECT_EQ(code_of([&] { (void)s.read_file("link/secret"); }), ErrorCode::kInvalidPath);
  EXPECT_EQ(code_of([&] { (void)s.read_file("file-link"); }), ErrorCode::kInvalidPath);
  EXPECT_FALSE(std::filesystem::exists(dir / "outside/x"));
  EXPECT_EQ(s.list_files(""), std::vector<std::string>{});
}

TEST(FsStore, ConditionalWrites) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  s.write_file("c", "v1", absent());
  EXPECT_EQ(code_of([&] { s.write_file("c", "v2", absent()); }),
            ErrorCode::kStoragePreconditionFailed);
  std::string etag = s.stat("c")->etag;
  s.write_file("c", "v2", match(etag));
  EXPECT_EQ(code_of([&] { s.write_file("c", "v3", match(etag)); }),
            ErrorCode::kStoragePreconditionFailed);
  EXPECT_EQ(s.read_file("c"), "v2");
}

TEST(FsStore, ConcurrentIfAbsentWritersExactlyOneWins) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      try {
        s.write_file("lease", "owner-" + std::to_string(t), absent());
        ++wins;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kStoragePreconditionFailed);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST(FsStore, ConcurrentWritersNeverExposeATornObject) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i)
        s.write_file("hot", std::string(100000, static_cast<char>('a' + t)));
    });
  }
  std::thread reader([&] {
    while (!stop) {
      auto v = s.read_file("hot");  // integrity-checked against its stored SHA-256
      if (v) {
        ASSERT_EQ(v->size(), 100000u);
        ASSERT_EQ(v->find_first_not_of((*v)[0]), std::string::npos);
      }
    }
  });
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
}

TEST(FsStore, DetectsCorruptedContent) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  s.write_file("k", "good data");
  // Flip the bytes in place, keeping the stored hash (as bit rot would).
  {
    FILE* f = std::fopen((dir / "store/k").c_str(), "r+");
    std::fputs("evil data", f);
    std::fclose(f);
  }
  EXPECT_EQ(code_of([&] { (void)s.read_file("k"); }), ErrorCode::kStorageIntegrity);
  EXPECT_FALSE(s.verify_checksum("k", sha256_hex("good data")));
}

TEST(FsStore, FilesToAndFromLocalPaths) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  testing::write_file(dir / "in.bin", big);
  s.write_file_from("big.bin", dir / "in.bin");
  ASSERT_TRUE(s.read_file_to("big.bin", dir / "out.bin"));
  EXPECT_EQ(testing::read_file(dir / "out.bin"), big);
  EXPECT_FALSE(s.read_file_to("missing", dir / "none.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir / "none.bin"));
  EXPECT_EQ(s.stat("big.bin")->etag, sha256_hex(big));
}

TEST(FsStore, CheckPassesEveryStep) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  auto results = s.check();
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) EXPECT_TRUE(r.ok) << r.name << ": " << r.detail;
  EXPECT_EQ(s.list_files(""), std::vector<std::string>{});
}

TEST(FsStore, MetadataRulesAreEnforced) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  EXPECT_EQ(code_of([&] {
              s.write_file("k", "x", meta({{"Bad Name", "v"}}));
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] {
              s.write_file("k", "x", meta({{"sha256", "v"}}));
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] {
              s.write_file("k", "x", meta({{"a", "line\nbreak"}}));
            }),
            ErrorCode::kInvalidArgument);
}

// Issue #10, defect 6: `remote ls` created DATA_DIR/remote. Opening and
// reading a store that was never written must create nothing.
TEST(FsStore, ReadingAStoreThatWasNeverWrittenCreatesNothing) {
  TempDir dir;
  FsCheckpointStorage s(dir / "data/remote");
  EXPECT_EQ(s.list_files(""), std::vector<std::string>{});
  EXPECT_EQ(s.list_files("wal/"), std::vector<std::string>{});
  EXPECT_EQ(s.read_file("k"), std::nullopt);
  EXPECT_EQ(s.stat("k"), std::nullopt);
  EXPECT_FALSE(s.verify_checksum("k", sha256_hex("")));
  EXPECT_FALSE(s.read_file_to("k", dir / "out"));
  EXPECT_FALSE(s.stream_file("k", [](const char*, size_t) { ADD_FAILURE(); }));
  s.delete_file("k");
  EXPECT_TRUE(s.is_available());  // the first write can create it
  EXPECT_EQ(s.describe(), "file://" + (dir / "data/remote"));
  EXPECT_FALSE(std::filesystem::exists(dir / "data"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  // The first write creates the root and its parents.
  s.write_file("k", "v");
  EXPECT_EQ(testing::read_file(dir / "data/remote/k"), "v");
}

TEST(FsStore, FirstWriteMakesTheNewRootDurable) {
  TempDir dir;
  FaultInjectionFileSystem fi;
  FsCheckpointStorage s(dir / "a/b/store", fi);
  s.write_file("x/k", "v");
  // a, b, store and x each fsynced into their parent, then the object's directory.
  EXPECT_EQ(fi.count(FsOp::kMakeDirs), 4u);
  EXPECT_EQ(fi.count(FsOp::kSyncDir), 5u);
  EXPECT_EQ(s.read_file("x/k"), "v");
}

// Issue #10, defect 12: a FIFO in the store hung `remote get` forever (open
// blocked waiting for a writer). Anything but a regular file is refused
// without blocking.
TEST(FsStore, AFifoIsRefusedWithoutBlocking) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  s.write_file("real", "x");
  ASSERT_EQ(::mkfifo((dir / "store/fifo").c_str(), 0644), 0);
  const std::vector<std::function<void()>> reads = {
      [&] { (void)s.read_file("fifo"); },
      [&] { (void)s.stat("fifo"); },
      [&] { (void)s.verify_checksum("fifo", sha256_hex("")); },
      [&] { (void)s.read_file_to("fifo", dir / "out"); },
      [&] { (void)s.stream_file("fifo", [](const char*, size_t) {}); },
  };
  for (size_t i = 0; i < reads.size(); ++i) {
    auto done = std::async(std::launch::async, [&] { return code_of(reads[i]); });
    if (done.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      // Blocked in open(): give it a writer so the test can finish.
      int fd = ::open((dir / "store/fifo").c_str(), O_WRONLY | O_NONBLOCK);
      done.wait();
      ::close(fd);
      FAIL() << "read " << i << " of a FIFO blocked";
    }
    EXPECT_EQ(done.get(), ErrorCode::kInvalidPath) << i;
  }
  EXPECT_EQ(s.list_files(""), std::vector<std::string>{"real"});  // only regular files are keys
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

TEST(FsStore, StreamFileDeliversTheObjectInChunks) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 253);
  s.write_file("big", big);
  std::string got;
  int chunks = 0;
  EXPECT_TRUE(s.stream_file("big", [&](const char* p, size_t n) {
    got.append(p, n);
    ++chunks;
  }));
  EXPECT_EQ(got, big);
  EXPECT_GT(chunks, 1);
  // A corrupted object is reported after its bytes went by.
  {
    FILE* f = std::fopen((dir / "store/big").c_str(), "r+");
    std::fputs("evil", f);
    std::fclose(f);
  }
  EXPECT_EQ(code_of([&] { s.stream_file("big", [](const char*, size_t) {}); }),
            ErrorCode::kStorageIntegrity);
}

// Every write is an atomic replace through the seam: a failure at any step
// leaves the old object (or, once the rename happened, the new one) and no
// temporary file.
TEST(FsStore, WritesUnderInjectedFailuresLeaveOldOrNewAndNoTemporaryFile) {
  struct Case {
    FsOp op;
    bool new_visible;
  };
  for (const Case c :
       {Case{FsOp::kOpen, false}, Case{FsOp::kWrite, false}, Case{FsOp::kSetXattr, false},
        Case{FsOp::kSync, false}, Case{FsOp::kRename, false}, Case{FsOp::kSyncDir, true}}) {
    TempDir dir;
    FaultInjectionFileSystem fi;
    FsCheckpointStorage s(dir / "store", fi);
    s.write_file("d/k", "old");
    fi.add_rule(fault(c.op, c.op == FsOp::kSyncDir ? "store/d" : "/d/", 0, 1,
                      c.op == FsOp::kWrite ? ENOSPC : EIO));
    EXPECT_EQ(code_of([&] { s.write_file("d/k", "new"); }), ErrorCode::kIoError)
        << static_cast<int>(c.op);
    EXPECT_EQ(s.read_file("d/k"), c.new_visible ? "new" : "old") << static_cast<int>(c.op);
    EXPECT_EQ(all_files(dir / "store"), (std::vector<std::string>{".strata-lock", "d", "d/k"}))
        << static_cast<int>(c.op);
  }
}

TEST(FsStore, ReadFileToUnderInjectedFailuresLeavesTheLocalFile) {
  for (FsOp op : {FsOp::kWrite, FsOp::kSync, FsOp::kRename}) {
    TempDir dir;
    FaultInjectionFileSystem fi;
    FsCheckpointStorage s(dir / "store", fi);
    s.write_file("k", "remote content");
    std::filesystem::create_directories(dir / "local");
    testing::write_file(dir / "local/out", "local content");
    fi.add_rule(fault(op, "local/"));
    EXPECT_EQ(code_of([&] { s.read_file_to("k", dir / "local/out"); }), ErrorCode::kIoError)
        << static_cast<int>(op);
    EXPECT_EQ(testing::read_file(dir / "local/out"), "local content") << static_cast<int>(op);
    EXPECT_EQ(all_files(dir / "local"), std::vector<std::string>{"out"}) << static_cast<int>(op);
  }
}

TEST(FsStore, WriteFileFromRefusesAFifoWithoutBlocking) {
  TempDir dir;
  FsCheckpointStorage s(dir / "store");
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0644), 0);
  auto done = std::async(std::launch::async,
                         [&] { return code_of([&] { s.write_file_from("k", dir / "fifo"); }); });
  if (done.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    int fd = ::open((dir / "fifo").c_str(), O_WRONLY | O_NONBLOCK);
    done.wait();
    ::close(fd);
    FAIL() << "reading a local FIFO blocked";
  }
  EXPECT_EQ(done.get(), ErrorCode::kInvalidPath);
}

// A power cut at each step of an overwrite, a new key in new directories and
// a delete (the fault-injecting file system loses the data no fsync covered
// and the directory entries no directory fsync covered): every write or
// delete that returned holds after the loss, the key holds the old object or
// the new one whole (its SHA-256 attribute with it), never a mix.
TEST(FsStore, APowerCutAtEachStepKeepsEveryAcknowledgedWriteAndDelete) {
  uint64_t seed = 1;
  size_t undone = 0;
  for (FsOp op : {FsOp::kWrite, FsOp::kSetXattr, FsOp::kSync, FsOp::kRename, FsOp::kSyncDir,
                  FsOp::kMakeDirs, FsOp::kRemove, FsOp::kCount}) {
    for (int round = 0; round < 4; ++round, ++seed) {
      SCOPED_TRACE(::testing::Message()
                   << "cut at op " << static_cast<int>(op) << ", seed " << seed);
      TempDir dir;
      FaultInjectionFileSystem fi;
      bool overwritten = false, created = false, deleted = false;
      {
        FsCheckpointStorage s(dir / "store", fi);
        s.write_file("d/k", "old");
        s.write_file("gone", "x");
        fi.track_unsynced_writes(true);
        if (op != FsOp::kCount) fi.add_rule(fault(op, "store", round % 2, -1));
        try {
          s.write_file("d/k", "new");
          overwritten = true;
          s.write_file("e/f/n", "n");
          created = true;
          s.delete_file("gone");
          deleted = true;
        } catch (const Error&) {
          // The power went here: every later call of that kind fails.
        }
        fi.cut_power();
      }
      fi.lose_unsynced_writes(seed);
      undone += fi.changes_undone();
      FsCheckpointStorage after(dir / "store");
      const auto k = after.read_file("d/k");
      ASSERT_TRUE(k.has_value());
      if (overwritten) {
        EXPECT_EQ(*k, "new");
      } else {
        EXPECT_TRUE(*k == "old" || *k == "new") << *k;
      }
      if (created) {
        EXPECT_EQ(after.read_file("e/f/n"), std::optional<std::string>("n"));
      }
      if (deleted) {
        EXPECT_EQ(after.read_file("gone"), std::nullopt);
      }
      for (const auto& key : after.list_files("")) {
        EXPECT_TRUE(after.read_file(key).has_value()) << key;  // reads back and verifies
      }
    }
  }
  EXPECT_GT(undone, 0u) << "no cut undid a directory entry";
}

}  // namespace
}  // namespace strata
