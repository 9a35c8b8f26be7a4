// A simulated power cut undoes directory-entry changes (creates, renames,
// unlinks, mkdirs) that no fsync of their directory covered, the way
// LevelDB's and RocksDB's fault-injection environments drop files created
// after the last directory sync: the ALICE class of bugs (a rename or a
// create trusted before its directory was synced) shows up in power-loss
// tests instead of only on real machines.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/fs.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

namespace stdfs = std::filesystem;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

void put(Dir& d, const std::string& name, const std::string& bytes) {
  auto f = d.open_file(name, OpenMode::kCreate);
  f->pwrite(bytes.data(), bytes.size(), 0);
  f->sync();
}

// What a directory holds: name -> content ("<dir>" for a directory).
std::string listing(const std::string& dir) {
  std::string out;
  std::set<std::string> names;
  for (const auto& e : stdfs::directory_iterator(dir)) names.insert(e.path().filename());
  for (const auto& n : names) {
    const std::string p = dir + "/" + n;
    out += n + "=" + (stdfs::is_directory(p) ? "<dir>" : read_file(p)) + ";";
  }
  return out;
}

// Runs `scenario` on a fresh directory for 32 seeds, cutting the power after
// it, and returns the distinct listings of the directory seen after the cut.
std::set<std::string> outcomes(const std::function<void(FaultInjectionFileSystem&, Dir&)>& setup,
                               const std::function<void(FaultInjectionFileSystem&, Dir&)>& scenario,
                               const std::function<std::string(const std::string&)>& observe) {
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= 32; ++seed) {
    TempDir t;
    FaultInjectionFileSystem fi;
    {
      auto d = fi.open_dir(t.path());
      setup(fi, *d);
      fi.track_unsynced_writes(true);
      scenario(fi, *d);
    }
    fi.cut_power();
    fi.lose_unsynced_writes(seed);
    seen.insert(observe(t.path()));
  }
  return seen;
}

void nothing(FaultInjectionFileSystem&, Dir&) {}

TEST(PowerLossNamespace, ACreateTheDirectoryNeverSyncedMayVanish) {
  auto seen = outcomes(
      nothing, [](FaultInjectionFileSystem&, Dir& d) { put(d, "new", "data"); }, listing);
  EXPECT_EQ(seen, (std::set<std::string>{"", "new=data;"}));
}

TEST(PowerLossNamespace, ACreateFollowedByADirectoryFsyncStays) {
  auto seen = outcomes(
      nothing,
      [](FaultInjectionFileSystem& fi, Dir& d) {
        put(d, "new", "data");
        d.sync();
        EXPECT_EQ(fi.unsynced_changes(), 0u);
      },
      listing);
  EXPECT_EQ(seen, (std::set<std::string>{"new=data;"}));
}

// The ALICE bug: write a temporary, fsync it, rename it over the name, and
// trust the rename without fsyncing the directory.
TEST(PowerLossNamespace, ARenameOverAFileIsUndoneWholeAndTheOldFileComesBackWithItsAttributes) {
  {
    TempDir probe;
    write_file(probe / "x", "");
    try {
      FileSystem::real().open(probe / "x", OpenMode::kReadWrite)->set_xattr("user.strata.t", "1");
    } catch (const Error&) {
      GTEST_SKIP() << "no extended attributes here";
    }
  }
  auto setup = [](FaultInjectionFileSystem&, Dir& d) {
    put(d, "name", "old");
    auto f = d.open_file("name", OpenMode::kReadWrite);
    f->set_mode(0600);
    f->set_xattr("user.strata.test", "kept");
    d.sync();
  };
  auto seen = outcomes(
      setup,
      [](FaultInjectionFileSystem&, Dir& d) {
        put(d, "tmp", "new");
        d.rename("tmp", d, "name");
      },
      [](const std::string& dir) {
        std::string out = listing(dir);
        if (read_file(dir + "/name") == "old") {
          auto f = FileSystem::real().open(dir + "/name", OpenMode::kRead);
          out += fmt::format("{:o}", f->info().mode) +
                 f->get_xattr("user.strata.test").value_or("lost");
        }
        return out;
      });
  // Old (with its mode and attribute) or new, never none; the temporary may
  // be left beside the old one (its create kept, the rename lost).
  EXPECT_EQ(seen,
            (std::set<std::string>{"name=old;600kept", "name=old;tmp=new;600kept", "name=new;"}));
}

TEST(PowerLossNamespace, AnUnlinkNotSyncedMayBeUndoneAndASyncedOneStays) {
  auto setup = [](FaultInjectionFileSystem&, Dir& d) {
    put(d, "gone", "bytes");
    d.sync();
  };
  EXPECT_EQ(outcomes(
                setup, [](FaultInjectionFileSystem&, Dir& d) { d.remove_file("gone"); }, listing),
            (std::set<std::string>{"", "gone=bytes;"}));
  EXPECT_EQ(outcomes(
                setup,
                [](FaultInjectionFileSystem&, Dir& d) {
                  d.remove_file("gone");
                  d.sync();
                },
                listing),
            (std::set<std::string>{""}));
}

// A directory made without an fsync of its parent can take every file in it,
// however well each was synced; create_directories syncs each new one.
TEST(PowerLossNamespace, AnUnsyncedMkdirTakesWhatItHoldsAndCreateDirectoriesDoesNot) {
  auto scenario = [](bool synced_parent) {
    return [synced_parent](FaultInjectionFileSystem& fi, Dir& d) {
      if (synced_parent) {
        create_directories(fi, d.path() + "/a/b");
      } else {
        fi.make_dirs(d.path() + "/a/b");
      }
      auto b = fi.open_dir(d.path() + "/a/b");
      put(*b, "f", "x");
      b->sync();
    };
  };
  auto tree = [](const std::string& dir) {
    return stdfs::exists(dir + "/a/b/f") ? read_file(dir + "/a/b/f") : std::string("none");
  };
  EXPECT_EQ(outcomes(nothing, scenario(false), tree), (std::set<std::string>{"none", "x"}));
  EXPECT_EQ(outcomes(nothing, scenario(true), tree), (std::set<std::string>{"x"}));
}

// Recovery's staging move: a whole directory renamed into place. Undone, it
// is back under its old name with its content; it is never in both places.
TEST(PowerLossNamespace, ADirectoryRenameIsUndoneWholeWithItsContent) {
  auto setup = [](FaultInjectionFileSystem& fi, Dir& d) {
    d.make_dir("staging");
    auto s = fi.open_dir(d.path() + "/staging");
    put(*s, "f", "x");
    s->sync();
    d.sync();
  };
  auto seen = outcomes(
      setup, [](FaultInjectionFileSystem&, Dir& d) { d.rename("staging", d, "state"); },
      [](const std::string& dir) {
        return listing(dir) + (stdfs::exists(dir + "/state") ? listing(dir + "/state")
                                                             : listing(dir + "/staging"));
      });
  EXPECT_EQ(seen, (std::set<std::string>{"staging=<dir>;f=x;", "state=<dir>;f=x;"}));
}

// A rename across directories is durable once its destination directory
// is, whether or not the source was synced; before that it may be undone
// (moved back), never leaving the file under no name.
TEST(PowerLossNamespace, ACrossDirectoryRenameIsDurableWithItsDestinationDirectory) {
  auto setup = [](FaultInjectionFileSystem&, Dir& d) {
    d.make_dir("from");
    d.make_dir("to");
    d.sync();
  };
  auto scenario = [](bool sync_to) {
    return [sync_to](FaultInjectionFileSystem& fi, Dir& d) {
      auto from = fi.open_dir(d.path() + "/from");
      auto to = fi.open_dir(d.path() + "/to");
      put(*from, "f", "x");
      from->sync();
      from->rename("f", *to, "g");
      if (sync_to) to->sync();
    };
  };
  auto sides = [](const std::string& dir) {
    return listing(dir + "/from") + "|" + listing(dir + "/to");
  };
  EXPECT_EQ(outcomes(setup, scenario(true), sides), (std::set<std::string>{"|g=x;"}));
  EXPECT_EQ(outcomes(setup, scenario(false), sides), (std::set<std::string>{"f=x;|", "|g=x;"}));
}

// An uncovered change of an entry an undone change made is undone with it:
// what is left is a state a disk can hold.
TEST(PowerLossNamespace, AChangeBuiltOnAnUndoneOneIsUndoneToo) {
  auto setup = [](FaultInjectionFileSystem&, Dir& d) {
    d.make_dir("a");
    d.make_dir("b");
    d.sync();
  };
  auto seen = outcomes(
      setup,
      [](FaultInjectionFileSystem& fi, Dir& d) {
        auto a = fi.open_dir(d.path() + "/a");
        auto b = fi.open_dir(d.path() + "/b");
        put(*a, "f", "x");  // nothing here is synced
        a->rename("f", *a, "g");
        a->rename("g", *b, "h");
      },
      [](const std::string& dir) { return listing(dir + "/a") + "|" + listing(dir + "/b"); });
  // Never a/g or b/h without the changes before it.
  EXPECT_EQ(seen, (std::set<std::string>{"|", "f=x;|", "g=x;|", "|h=x;"}));
}

// A file that comes back has its own unsynced data at risk again, and the
// data of a file whose creation was undone is not written anywhere.
TEST(PowerLossNamespace, AFileThatComesBackKeepsOnlyItsSyncedData) {
  auto setup = [](FaultInjectionFileSystem&, Dir& d) {
    put(d, "f", std::string(4096, 'a'));
    d.sync();
  };
  auto seen = outcomes(
      setup,
      [](FaultInjectionFileSystem&, Dir& d) {
        auto f = d.open_file("f", OpenMode::kReadWrite);
        f->pwrite(std::string(4096, 'b').data(), 4096, 0);  // never synced
        f.reset();
        d.remove_file("f");
      },
      [](const std::string& dir) {
        return stdfs::exists(dir + "/f") ? read_file(dir + "/f").substr(0, 1) : "none";
      });
  EXPECT_EQ(seen, (std::set<std::string>{"none", "a", "b"}));
}

}  // namespace
}  // namespace strata
