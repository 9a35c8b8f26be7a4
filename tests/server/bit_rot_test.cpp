// Bit rot under a running daemon: a byte of a sealed segment changes on disk
// (the disk returned wrong data, or something wrote into the data directory)
// while `strata serve` runs. The damage is below the WAL's checksums, so it
// must be caught where the bytes are read: a read names the damaged record,
// the sync tier ships nothing damaged (and nothing after it, which would
// leave a hole in the remote's history), and the daemon goes on serving
// everything that is intact, appends included.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/daemon_process.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using testing::DaemonProcess;
using testing::entry_body;
using testing::Env;
using testing::get;
using testing::post;
using testing::TempDir;

// The sealed segments of the daemon's WAL, oldest first (the active one,
// the newest, is left out).
std::vector<fs::path> sealed_segments(const std::string& data_dir) {
  std::vector<fs::path> segs;
  for (const auto& e : fs::directory_iterator(data_dir + "/wal")) {
    if (e.path().extension() == ".seg") segs.push_back(e.path());
  }
  std::sort(segs.begin(), segs.end());
  if (!segs.empty()) segs.pop_back();
  return segs;
}

// Flips every bit of one byte of the file in place, as a disk returning
// wrong data would: no rename, the daemon's open descriptors see it.
void flip_byte(const fs::path& file, off_t offset) {
  const int fd = ::open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << file;
  unsigned char b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, offset), 1);
  b = static_cast<unsigned char>(~b);
  ASSERT_EQ(::pwrite(fd, &b, 1, offset), 1);
  ::close(fd);
}

TEST(BitRot, ADamagedSealedSegmentIsNamedOnReadIsNeverShippedAndTheDaemonServesTheRest) {
  TempDir tmp;
  // Small segments so a few are sealed; no sync or archive on their own:
  // the test runs them.
  DaemonProcess d(tmp.path(), Env{{"WAL_SEGMENT_BYTES", "16384"},
                                  {"SYNC_INTERVAL_MS", "3600000"},
                                  {"GIT_SYNC_INTERVAL_MS", "3600000"},
                                  {"PRUNE_KEEP_SEGMENTS", "100"}});
  d.start();
  auto c = d.client();
  std::map<uint64_t, std::string> sent;
  for (int i = 0; i < 200; ++i) {
    const std::string data = fmt::format("payload {:04} {}", i, std::string(200, 'a' + i % 26));
    auto r = post(*c, "/v1/entries", entry_body(fmt::format("beads/b{}.json", i), data));
    ASSERT_EQ(r.status, 200) << r.body;
    sent[r.json()["seq"].get<uint64_t>()] = data;
  }
  const auto segs = sealed_segments(d.data_dir());
  ASSERT_GE(segs.size(), 2u) << "expected sealed segments";

  // The damage: the middle of the oldest sealed segment.
  flip_byte(segs.front(), static_cast<off_t>(fs::file_size(segs.front()) / 2));

  // Every read either gives back exactly what was sent or refuses with a
  // typed error; at least one (the damaged record) refuses.
  uint64_t refused = 0;
  uint64_t first_refused = 0;
  for (const auto& [seq, data] : sent) {
    auto r = get(*c, fmt::format("/v1/entries/{}", seq));
    if (r.status == 200) {
      EXPECT_EQ(r.json()["data"].get<std::string>(), data) << "seq " << seq;
      continue;
    }
    refused++;
    if (first_refused == 0) first_refused = seq;
    EXPECT_EQ(r.status, 500) << r.body;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "not JSON: " << r.body;
    EXPECT_EQ(j["error"]["code"], "WAL_CORRUPT") << r.body;
  }
  EXPECT_GE(refused, 1u);
  EXPECT_LT(refused, sent.size() / 2) << "only the damaged part may be refused";

  // The stream of every entry stops at the damage and says so in its last
  // line: what it sent before is intact, nothing after the damage is passed
  // off as the log's continuation.
  {
    std::string streamed;
    auto res = c->Get("/v1/entries?since=0", [&](const char* data, size_t n) {
      streamed.append(data, n);
      return true;
    });
    EXPECT_FALSE(res) << "the stream must not end cleanly over a damaged record";
    std::istringstream lines(streamed);
    std::string line;
    uint64_t next = 1;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_TRUE(j.is_object()) << line;
      EXPECT_EQ(j["seq"].get<uint64_t>(), next);
      EXPECT_EQ(j["data"].get<std::string>(), sent[next]);
      next++;
    }
    EXPECT_EQ(next, first_refused) << "every intact entry before the damage, and nothing after it";
  }

  // Still serving: health, appends, and the entries after the damage.
  EXPECT_EQ(get(*c, "/healthz").status, 200);
  auto r = post(*c, "/v1/entries", entry_body("beads/after.json", "after the damage"));
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t after = r.json()["seq"].get<uint64_t>();
  r = get(*c, fmt::format("/v1/entries/{}", after));
  ASSERT_EQ(r.status, 200) << r.body;

  // A sync refuses to ship the damage: the remote ends before it (no hole)
  // and holds nothing damaged.
  r = post(*c, "/v1/sync", "");
  EXPECT_NE(r.status, 200) << "a sync over a damaged segment must fail: " << r.body;
  EXPECT_NE(r.body.find("WAL_CORRUPT"), std::string::npos) << r.body;
  EXPECT_TRUE(d.running());
  std::string out, err;
  const int rc = testing::run_strata({"remote", "verify", "--json"},
                                     Env{{"DATA_DIR", d.data_dir()}}, &out, &err);
  EXPECT_EQ(rc, 0) << out << err;
  auto status = testing::tier(*c, "object");
  ASSERT_TRUE(status.is_object());
  // null: nothing confirmed yet.
  const auto& cs = status["confirmed_seq"];
  const uint64_t confirmed = cs.is_number() ? cs.get<uint64_t>() : 0;
  EXPECT_LT(confirmed, first_refused) << status.dump();
  EXPECT_EQ(get(*c, "/healthz").status, 200);
}

}  // namespace
}  // namespace strata
