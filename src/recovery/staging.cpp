#include "recovery/staging.h"

#include <sys/stat.h>

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recovery/loop_record.h"
#include "strata/error.h"

namespace strata::recovery {

namespace {

constexpr const char* kStagingName = "staging";
constexpr const char* kCommitName = "COMMIT";
// In this order: a directory that has the new WAL but the old state.seq
// makes the materializer rebuild (the history ids differ) rather than trust
// a stale state; state.seq, which vouches for state/, moves last.
constexpr const char* kStagedDirs[] = {"wal", "state"};
constexpr const char* kStagedFiles[] = {"lineage-id", "state.seq"};

struct Identity {
  uint64_t dev = 0, ino = 0;
  bool operator==(const Identity&) const = default;
};

// Which directory a name refers to, so a finished move is recognised after
// a crash. (The seam's FileInfo carries no inode.)
std::optional<Identity> identity(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return Identity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string recovery_dir(const std::string& data_dir) {
  return data_dir + "/" + kRecoveryDirName;
}

void remove_entry(FileSystem& fs, const std::string& parent, const std::string& name) {
  if (auto d = fs.open_dir(parent)) remove_tree(*d, name);
}

// Moves data_dir/name into the replaced directory under a name not taken.
void move_aside(FileSystem& fs, const std::string& data_dir, const std::string& replaced,
                const std::string& name) {
  std::string to = replaced + "/" + name;
  for (int i = 1; fs.exists(to); ++i) to = fmt::format("{}/{}.{}", replaced, name, i);
  fs.rename(data_dir + "/" + name, to);
}

using Failpoint = std::function<void(std::string_view)>;

void apply(FileSystem& fs, const std::string& data_dir, const nlohmann::json& rec,
           const Failpoint& failpoint = {}) {
  const std::string rdir = recovery_dir(data_dir);
  const std::string staging = rdir + "/" + kStagingName;
  const std::string replaced = rdir + "/" + rec.at("replaced").get<std::string>();
  create_directories(fs, replaced);
  for (const auto& d : rec.at("dirs")) {
    const std::string name = d.at("name");
    const Identity want{d.at("dev").get<uint64_t>(), d.at("ino").get<uint64_t>()};
    if (identity(data_dir + "/" + name) == want) continue;  // moved before a crash
    if (!fs.exists(staging + "/" + name)) {
      throw Error(ErrorCode::kRecoveryFailed,
                  fmt::format("finishing the recovery recorded in {}/{}: the staged {} is "
                              "neither in {} nor in place",
                              rdir, kCommitName, name, staging));
    }
    if (fs.exists(data_dir + "/" + name)) move_aside(fs, data_dir, replaced, name);
    fs.rename(staging + "/" + name, data_dir + "/" + name);
    if (failpoint) failpoint("moved-" + name);
  }
  for (const auto& a : rec.at("aside")) {
    const std::string name = a;
    if (fs.exists(data_dir + "/" + name)) move_aside(fs, data_dir, replaced, name);
  }
  for (const char* name : kStagedFiles) {
    if (!fs.exists(staging + "/" + name)) continue;  // moved before a crash, or not staged
    if (fs.exists(data_dir + "/" + name)) move_aside(fs, data_dir, replaced, name);
    fs.rename(staging + "/" + name, data_dir + "/" + name);
  }
  fs.sync_dir(replaced);
  fs.sync_dir(data_dir);
  fs.remove(rdir + "/" + kCommitName);
  fs.sync_dir(rdir);
  remove_entry(fs, rdir, kStagingName);
  if (!rec.at("keep").get<bool>()) remove_entry(fs, rdir, rec.at("replaced").get<std::string>());
}

}  // namespace

bool has_pending_commit(FileSystem& fs, const std::string& data_dir) {
  return fs.exists(recovery_dir(data_dir) + "/" + kCommitName);
}

ResumeReport resume_interrupted(FileSystem& fs, const std::string& data_dir) {
  ResumeReport r;
  const std::string rdir = recovery_dir(data_dir);
  if (auto text = read_small_file(fs, rdir + "/" + kCommitName)) {
    nlohmann::json rec = nlohmann::json::parse(*text, nullptr, false);
    if (!rec.is_object() || !rec.contains("replaced") || !rec.contains("dirs") ||
        !rec.contains("aside") || !rec.contains("keep")) {
      throw Error(ErrorCode::kRecoveryFailed,
                  fmt::format("{}/{} is not a recovery commit record; move it away to go on", rdir,
                              kCommitName));
    }
    apply(fs, data_dir, rec);
    r.finished = true;
    if (rec["keep"].get<bool>()) r.replaced_dir = rdir + "/" + rec["replaced"].get<std::string>();
  } else if (fs.exists(rdir + "/" + kStagingName)) {
    remove_entry(fs, rdir, kStagingName);
    r.discarded = true;
  }
  return r;
}

Staging::Staging(FileSystem& fs, std::string data_dir) : fs_(fs), data_dir_(std::move(data_dir)) {
  const std::string rdir = recovery_dir(data_dir_);
  create_directories(fs_, rdir);
  remove_entry(fs_, rdir, kStagingName);
  dir_ = rdir + "/" + kStagingName;
  create_directories(fs_, dir_);
}

Staging::~Staging() {
  if (committed_) return;
  try {
    remove_entry(fs_, recovery_dir(data_dir_), kStagingName);
  } catch (const Error&) {
    // Left for the next run, which removes an uncommitted staging directory.
  }
}

std::string Staging::commit(const std::vector<std::string>& aside, bool keep_replaced,
                            const Failpoint& failpoint) {
  fs_.sync_filesystem(dir_);
  if (failpoint) failpoint("staged");
  const std::string replaced_name = fmt::format("replaced-{}", now_ms());
  nlohmann::json rec = {{"replaced", replaced_name},
                        {"keep", keep_replaced},
                        {"aside", aside},
                        {"dirs", nlohmann::json::array()}};
  for (const char* name : kStagedDirs) {
    auto id = identity(dir_ + "/" + name);
    if (!id) continue;
    rec["dirs"].push_back({{"name", name}, {"dev", id->dev}, {"ino", id->ino}});
  }
  const std::string rdir = recovery_dir(data_dir_);
  try {
    write_file_atomically(fs_, rdir + "/" + kCommitName, rec.dump() + "\n");
  } catch (const Error&) {
    // The record may be in place although its write failed (renamed in, its
    // directory's sync failed), and may survive a power cut: the staging
    // directory it points to stays for the next run, which finishes the
    // move or, finding no record, discards it. Removing it here left a
    // record no run could finish (StagingPowerLoss found it).
    committed_ = true;
    throw;
  }
  committed_ = true;  // from here on the data directory is the new one
  if (failpoint) failpoint("committed");
  apply(fs_, data_dir_, rec, failpoint);
  return keep_replaced ? rdir + "/" + replaced_name : "";
}

}  // namespace strata::recovery
