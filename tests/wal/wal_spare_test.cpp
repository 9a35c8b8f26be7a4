// The next segment made ahead of rotation (src/wal/active_segment.h): the
// background thread makes a spare file once the active segment is half
// full, rotation turns that very file into the new segment, and a spare
// never outlives the WAL (close removes it, opening removes one a crash
// left behind).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "strata/wal.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata {
namespace {

using testing::make_entry;
using testing::TempDir;

std::vector<std::string> spares(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".spare")) out.push_back(name);
  }
  return out;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

class WalSpare : public ::testing::TestWithParam<SyncMode> {
 protected:
  WalOptions opts() {
    auto o = testing::test_options(dir_);
    o.sync = GetParam();
    o.segment_bytes = 64 * 1024;
    return o;
  }
  // Appends 1 KiB entries until the active segment is past half full, then
  // waits (up to 20 s) for the background thread's spare to reach its final
  // size (the first chunk, zero-filled, in `always` mode; empty otherwise)
  // and a little longer for its sync, so the next rotation finds it ready.
  std::string fill_until_spare(Wal& wal) {
    while (wal.snapshot().active.bytes < 40 * 1024) {
      wal.append(make_entry(fmt::format("k{}", next_++), std::string(1024, 'x')));
    }
    const uint64_t want = GetParam() == SyncMode::kAlways ? 64 * 1024 : 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = spares(dir_);
      if (s.size() == 1 && std::filesystem::file_size(dir_ + "/" + s[0]) == want) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return s[0];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
  }

  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
  int next_ = 0;
};

TEST_P(WalSpare, RotationTurnsTheSpareIntoTheNextSegment) {
  auto wal = Wal::open(opts());
  // A spare whose sync is slower than the wait above is not ready yet and
  // rotation makes its own segment: the next segment gets another chance.
  std::string active;
  uint64_t head = 0;
  bool used = false;
  for (int attempt = 0; attempt < 5 && !used; ++attempt) {
    const std::string spare = fill_until_spare(*wal);
    ASSERT_FALSE(spare.empty()) << "no spare made while the segment was past half full";
    const ino_t spare_inode = inode_of(dir_ + "/" + spare);
    head = wal->status().head_seq;
    wal->rotate();
    active = wal->snapshot().active.file;
    // The same file, renamed: rotation created no segment of its own.
    used = inode_of(dir_ + "/" + active) == spare_inode;
  }
  ASSERT_TRUE(used) << "five rotations in a row did not use the spare made for them";
  EXPECT_TRUE(spares(dir_).empty());
  EXPECT_EQ(wal->append(make_entry("after", "A")), head + 1);
  EXPECT_EQ(wal->read_entry(head + 1)->data, "A");
  wal->close();

  OpenReport rep;
  auto again = Wal::open(opts(), &rep);
  EXPECT_TRUE(rep.notes.empty()) << rep.notes.front();
  EXPECT_EQ(again->status().head_seq, head + 1);
  EXPECT_EQ(again->snapshot().active.file, active);
  for (uint64_t s = 1; s <= head; ++s) {
    ASSERT_EQ(again->read_entry(s)->data, std::string(1024, 'x')) << s;
  }
}

TEST_P(WalSpare, CloseRemovesTheSpare) {
  auto wal = Wal::open(opts());
  ASSERT_FALSE(fill_until_spare(*wal).empty());
  wal->close();
  EXPECT_TRUE(spares(dir_).empty());
}

TEST_P(WalSpare, OpeningRemovesASpareACrashLeftBehind) {
  Wal::open(opts())->append(make_entry("a", "A"));
  const std::string left = dir_ + "/.next-00000000000000ff.spare";
  testing::write_file(left, std::string(4096, '\0'));
  OpenReport rep;
  auto wal = Wal::open(opts(), &rep);
  EXPECT_FALSE(std::filesystem::exists(left));
  EXPECT_TRUE(rep.notes.empty()) << rep.notes.front();
  EXPECT_EQ(wal->read_entry(1)->data, "A");
}

INSTANTIATE_TEST_SUITE_P(Modes, WalSpare,
                         ::testing::Values(SyncMode::kAlways, SyncMode::kInterval, SyncMode::kNone),
                         [](const auto& info) { return std::string(sync_mode_name(info.param)); });

}  // namespace
}  // namespace strata
