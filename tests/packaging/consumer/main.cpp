// A program embedding strata from an installed tree: appends an entry to a
// WAL, reads it back, and touches the other tiers (lineage id, the
// filesystem checkpoint store, a Git snapshot) so that every library and
// dependency the package names is linked. Exits 0 only if all of it worked.
#include <cstdio>
#include <string>

#include "strata/entry.h"
#include "strata/error.h"
#include "strata/git_sync.h"
#include "strata/lineage.h"
#include "strata/storage.h"
#include "strata/version.h"
#include "strata/wal.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    strata::WalOptions options;
    options.dir = dir + "/wal";
    options.stop_free_bytes = 0;
    options.resume_free_bytes = 0;
    auto wal = strata::Wal::open(options);
    strata::Entry e;
    e.type = strata::EntryType::kConfig;
    e.op = strata::EntryOp::kCreate;
    e.path = "consumer/hello";
    e.data = "from an installed strata " STRATA_VERSION;
    const uint64_t seq = wal->append(e);
    auto back = wal->read_entry(seq);
    wal->close();
    if (!back || back->data != e.data || back->path != e.path) {
      std::fprintf(stderr, "read back something else for seq %llu\n",
                   static_cast<unsigned long long>(seq));
      return 1;
    }

    const std::string lineage = strata::lineage::load_or_create(strata::FileSystem::real(), dir);
    auto store = strata::open_checkpoint_storage_from_env(dir + "/remote");
    store->write_file("consumer/entry", back->data);
    if (store->read_file("consumer/entry") != back->data) {
      std::fprintf(stderr, "the checkpoint store returned something else\n");
      return 1;
    }

    strata::GitSyncConfig git;
    git.state_dir = dir + "/wal";  // any directory will do as state
    git.repo_dir = dir + "/archive.git";
    git.lineage_id = lineage;
    strata::GitSync sync(git);
    auto snap = sync.snapshot(seq);

    std::printf("appended seq %llu and read it back; lineage %s; snapshot %s\n",
                static_cast<unsigned long long>(seq), lineage.c_str(),
                snap.committed ? "committed" : "not committed");
    return snap.committed ? 0 : 1;
  } catch (const strata::Error& err) {
    std::fprintf(stderr, "strata: %s: %s\n", std::string(err.code_name()).c_str(), err.what());
    return 1;
  }
}
