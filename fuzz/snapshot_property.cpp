// check_snapshot (properties.h).
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "properties.h"
#include "property_support.h"
#include "sync/snapshot_archive.h"

namespace strata::fuzz {

namespace fs = std::filesystem;

namespace {

// Names in dir (not recursive), sorted.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string check_snapshot(std::string_view input) {
  // work/ holds the archive and out/; out/ holds the target and a sibling
  // that must stay empty: a member escaping the target lands in one of them.
  const fs::path work = fs::path(scratch_dir()) / "snapshot";
  const fs::path out = work / "out";
  const fs::path target = out / "target";
  const fs::path archive = work / "in.tar";
  fs::remove_all(work);
  fs::create_directories(out / "sibling");
  {
    std::ofstream f(archive, std::ios::binary);
    f.write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  sync::SnapshotReadOptions o;
  // Small limits: a hostile size must be refused, not fill the tmpfs.
  o.max_file_bytes = 1 << 20;
  o.max_total_bytes = 8 << 20;
  o.max_files = 10000;
  std::string problem;
  bool accepted = false;
  sync::SnapshotReadResult r;
  try {
    r = sync::read_snapshot_archive(archive.string(), target.string(), o);
    accepted = true;
  } catch (const Error& e) {
    problem = check_refusal(
        e, {ErrorCode::kInvalidPath, ErrorCode::kSnapshotInvalid, ErrorCode::kDiskFull});
    if (problem.empty() && fs::exists(fs::symlink_status(target))) {
      problem = fmt::format("refused ({}) but left the target directory behind", e.what());
    }
  } catch (const std::exception& e) {
    problem = fmt::format("threw a non-strata exception: {}", e.what());
  }
  if (problem.empty()) {
    const std::vector<std::string> want_work = {"in.tar", "out"};
    const std::vector<std::string> want_out = accepted
                                                  ? std::vector<std::string>{"sibling", "target"}
                                                  : std::vector<std::string>{"sibling"};
    if (names_in(work) != want_work || names_in(out) != want_out ||
        !names_in(out / "sibling").empty()) {
      problem = "something appeared outside the target directory";
    }
  }
  if (problem.empty() && accepted) {
    uint64_t files = 0, dirs = 1;  // the target itself
    for (const auto& e : fs::recursive_directory_iterator(target)) {
      const fs::file_status st = e.symlink_status();
      if (fs::is_regular_file(st)) {
        files++;
      } else if (fs::is_directory(st)) {
        dirs++;
      } else {
        problem = fmt::format("extracted {}, neither a file nor a directory", e.path().string());
        break;
      }
    }
    // A member's missing parents are made without a member of their own
    // (the writer never leaves one out), so only directory members count.
    if (problem.empty() && (files != r.files || dirs < r.directories)) {
      problem = fmt::format("extracted {} files and {} directories; the result says {} and {}",
                            files, dirs, r.files, r.directories);
    }
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return problem;
}

}  // namespace strata::fuzz
