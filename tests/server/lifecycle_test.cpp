// The daemon's life as a process: configuration refused before anything is
// touched, a newer on-disk format refused, the token off loopback,
// readiness to systemd, logs, SIGHUP, and SIGTERM / kill -9 under load.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "server/daemon_process.h"
#include "strata/wal.h"
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

// Every regular file under root with its size: what "nothing was touched"
// compares.
std::map<std::string, uintmax_t> listing(const std::string& root) {
  std::map<std::string, uintmax_t> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    out[e.path().string()] = e.is_regular_file() ? e.file_size() : 0;
  }
  return out;
}

size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

struct Acked {
  uint64_t seq;
  std::string path;
  std::string data;
};

// Appends from `threads` keep-alive clients until the daemon stops
// answering; every acknowledged entry is recorded.
class Load {
 public:
  Load(DaemonProcess& d, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, &d, t] {
        auto c = d.client();
        int transport_errors = 0;
        for (int i = 0; !stop_; ++i) {
          const std::string path = fmt::format("load/t{}/e{}", t, i);
          const std::string data = fmt::format("payload {} {} {}", t, i, std::string(64, 'z'));
          auto r = c->Post("/v1/entries", entry_body(path, data), "application/json");
          if (!r) {
            // The daemon is going away (or the connection was closed): not
            // acknowledged. A few retries, then this client is done.
            if (++transport_errors > 20) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
          }
          if (r->status != 200) return;
          std::lock_guard lock(mu_);
          acked_.push_back({nlohmann::json::parse(r->body)["seq"].get<uint64_t>(), path, data});
        }
      });
    }
  }
  ~Load() { join(); }
  size_t count() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  void wait_for(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (count() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::vector<Acked> join() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    std::lock_guard lock(mu_);
    return acked_;
  }
  void stop() { stop_ = true; }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Acked> acked_;
  std::vector<std::thread> threads_;
};

class Lifecycle : public ::testing::Test {
 protected:
  TempDir tmp_;
};

TEST_F(Lifecycle, BadConfigurationExitsTwoNamingTheKeyAndTouchesNothing) {
  const std::string data = tmp_ / "data";
  testing::write_file(tmp_ / "unknown.toml", "DATA_DIR = \"x\"\nSYNC_INTERVL_MS = 5\n");
  testing::write_file(tmp_ / "broken.toml", "SYNC_INTERVAL_MS = = 5\n");
  testing::write_file(tmp_ / "float.toml", "SYNC_INTERVAL_MS = 1.5\n");
  testing::write_file(tmp_ / "table.toml", "[sync]\nSYNC_INTERVAL_MS = 5\n");
  testing::write_file(tmp_ / "badvalue.toml", "WAL_SEGMENT_BYTES = \"huge\"\n");
  struct Case {
    Env env;
    std::vector<std::string> args;
    std::string must_name;
  };
  const std::vector<Case> cases = {
      {{{"SYNC_INTERVAL_MS", "soon"}}, {}, "SYNC_INTERVAL_MS"},
      {{{"STRATA_MAX_BODY_BYTES", "lots"}}, {}, "STRATA_MAX_BODY_BYTES"},
      {{{"WAL_SYNC", "sometimes"}}, {}, "WAL_SYNC"},
      {{{"LOG_FORMAT", "xml"}}, {}, "LOG_FORMAT"},
      {{{"STRATA_LISTEN", "nonsense"}}, {}, "STRATA_LISTEN"},
      {{{"STRATA_LISTEN", "127.0.0.1:99999"}}, {}, "STRATA_LISTEN"},
      {{{"GIT_ARCHIVE_BRANCH", "bad branch"}}, {}, "GIT_ARCHIVE_BRANCH"},
      {{{"R2_ENDPOINT", "https://example.invalid"}}, {}, "R2_ACCESS_KEY_ID"},
      {{{"STRATA_TOKEN", "short"}}, {}, "STRATA_TOKEN"},
      {{}, {"--listen", "0.0.0.0:0"}, "STRATA_TOKEN"},
      {{{"STRATA_CONFIG", tmp_ / "unknown.toml"}}, {}, "SYNC_INTERVL_MS"},
      {{{"STRATA_CONFIG", tmp_ / "broken.toml"}}, {}, "broken.toml: line 1"},
      {{{"STRATA_CONFIG", tmp_ / "float.toml"}}, {}, "SYNC_INTERVAL_MS"},
      {{{"STRATA_CONFIG", tmp_ / "table.toml"}}, {}, "sync"},
      {{{"STRATA_CONFIG", tmp_ / "badvalue.toml"}}, {}, "WAL_SEGMENT_BYTES"},
      {{{"STRATA_CONFIG", tmp_ / "missing.toml"}}, {}, "missing.toml"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.must_name);
    std::vector<std::string> args = {"--data-dir", data, "serve"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    std::string out, err;
    const int rc = testing::run_strata(args, testing::base_env(tmp_ / "home", c.env), &out, &err);
    EXPECT_EQ(rc, 2) << err;
    EXPECT_EQ(lines(err), 1u) << "one clear line: " << err;
    EXPECT_NE(err.find(c.must_name), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(data)) << "a refused configuration touched the data directory";
  }
}

TEST_F(Lifecycle, ConfigCheckShowsWhereEachValueCameFromAndMasksSecrets) {
  const std::string secret = "sEcReT-value-that-must-not-show";
  testing::write_file(tmp_ / "strata.toml",
                      fmt::format("DATA_DIR = \"{}\"\nSYNC_INTERVAL_MS = 1000\n"
                                  "R2_ENDPOINT = \"http://127.0.0.1:9\"\n"
                                  "R2_ACCESS_KEY_ID = \"AKIDEXAMPLE\"\n"
                                  "R2_SECRET_ACCESS_KEY = \"{}\"\n"
                                  "GIT_ARCHIVE_PATHS = [\"notes\", \"/srv/extra\"]\n",
                                  tmp_ / "from-file", secret));
  std::string out, err;
  const int rc = testing::run_strata(
      {"--config", tmp_ / "strata.toml", "--data-dir", tmp_ / "from-flag", "config", "check",
       "--json"},
      testing::base_env(tmp_ / "home", {{"GIT_SYNC_INTERVAL_MS", "5000"}}), &out, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(out.find(secret), std::string::npos) << "a secret was printed";
  auto j = nlohmann::json::parse(out);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : j["settings"]) by_name[s["name"]] = s;
  EXPECT_EQ(j["file"], tmp_ / "strata.toml");
  EXPECT_EQ(by_name["DATA_DIR"]["source"], "flag");
  EXPECT_EQ(by_name["DATA_DIR"]["value"], tmp_ / "from-flag");
  EXPECT_EQ(by_name["SYNC_INTERVAL_MS"]["source"], "file");
  EXPECT_EQ(by_name["SYNC_INTERVAL_MS"]["value"], "1000");
  EXPECT_EQ(by_name["GIT_SYNC_INTERVAL_MS"]["source"], "environment");
  EXPECT_EQ(by_name["WAL_SYNC"]["source"], "default");
  EXPECT_EQ(by_name["WAL_SYNC"]["value"], "always");
  EXPECT_EQ(by_name["R2_SECRET_ACCESS_KEY"]["value"], "********");
  EXPECT_EQ(by_name["GIT_ARCHIVE_PATHS"]["value"], "notes:/srv/extra");
  // The text form too.
  ASSERT_EQ(testing::run_strata({"--config", tmp_ / "strata.toml", "config", "check"},
                                testing::base_env(tmp_ / "home"), &out, &err),
            0)
      << err;
  EXPECT_EQ(out.find(secret), std::string::npos);
  EXPECT_NE(out.find("SYNC_INTERVAL_MS"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_ / "from-file")) << "config check touched the data directory";
  // A bad value: exit 2, one line naming it.
  ASSERT_EQ(testing::run_strata({"config", "check"},
                                testing::base_env(tmp_ / "home", {{"WAL_SEGMENT_BYTES", "x"}}),
                                &out, &err),
            2);
  EXPECT_EQ(lines(err), 1u) << err;
  EXPECT_NE(err.find("WAL_SEGMENT_BYTES"), std::string::npos) << err;
}

TEST_F(Lifecycle, TheConfigurationFileReachesTheDaemon) {
  testing::write_file(tmp_ / "strata.toml", "WAL_MAX_ENTRY_BYTES = \"1KiB\"\n");
  DaemonProcess d(tmp_.path(), {{"STRATA_CONFIG", tmp_ / "strata.toml"}});
  d.start();
  auto c = d.client();
  EXPECT_EQ(post(*c, "/v1/entries", entry_body("small", "x")).status, 200);
  EXPECT_EQ(post(*c, "/v1/entries", entry_body("big", std::string(2000, 'x'))).status, 413);
}

TEST_F(Lifecycle, ANewerWalFormatIsRefusedAndNothingIsWritten) {
  const std::string wal = tmp_ / "data/wal";
  fs::create_directories(wal);
  std::string header(32, '\0');
  std::memcpy(header.data(), "STRATAWL", 8);
  header[8] = 2;  // format version 2, little-endian
  header[12] = 32;
  header[16] = 1;
  testing::write_file(wal + "/00000000000000000001.seg", header + std::string(100, 'r'));
  const auto before = listing(tmp_ / "data");
  DaemonProcess d(tmp_.path());
  EXPECT_EQ(d.run_to_exit(), 3) << d.log();
  EXPECT_NE(d.log().find("FORMAT_UNSUPPORTED"), std::string::npos) << d.log();
  EXPECT_NE(d.log().find("00000000000000000001.seg"), std::string::npos) << d.log();
  EXPECT_EQ(listing(tmp_ / "data"), before) << "the refusal wrote into the data directory";
}

TEST_F(Lifecycle, ATokenIsRequiredOffLoopbackAndNeverShown) {
  const std::string token = "t0ken-ThatMustNeverAppear-9f3k";
  {
    std::string err;
    EXPECT_EQ(
        testing::run_strata({"--data-dir", tmp_ / "data", "serve"},
                            testing::base_env(tmp_ / "home", {{"STRATA_LISTEN", "0.0.0.0:0"}}),
                            nullptr, &err),
        2);
    EXPECT_NE(err.find("STRATA_TOKEN"), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(tmp_ / "data"));
  }
  DaemonProcess d(tmp_.path(), {{"STRATA_LISTEN", "0.0.0.0:0"}, {"STRATA_TOKEN", token}});
  d.start();
  auto anon = d.client(false);
  EXPECT_EQ(get(*anon, "/healthz").status, 200);
  for (const char* path : {"/v1/status", "/metrics", "/readyz", "/v1/entries/1", "/v1/entries"}) {
    auto r = get(*anon, path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(r.json()["error"]["code"], "UNAUTHORIZED") << path;
  }
  EXPECT_EQ(post(*anon, "/v1/entries", entry_body("p", "x")).status, 401);
  auto wrong = d.client(false);
  wrong->set_bearer_token_auth(token + "x");
  EXPECT_EQ(post(*wrong, "/v1/entries", entry_body("p", "x")).status, 401);
  wrong->set_bearer_token_auth(token.substr(0, token.size() - 1));
  EXPECT_EQ(get(*wrong, "/v1/status").status, 401);
  auto ok = d.client();
  auto status = get(*ok, "/v1/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.json()["wal"]["head_seq"], 0) << "a refused request wrote something";
  EXPECT_EQ(post(*ok, "/v1/entries", entry_body("p", "x")).status, 200);
  std::string all = status.body + get(*ok, "/metrics").body + get(*ok, "/v1/entries?since=0").body;
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
  all += d.log() + d.out();
  EXPECT_EQ(all.find(token), std::string::npos) << "the token leaked";
}

TEST_F(Lifecycle, ReadinessIsNotifiedToSystemd) {
  const std::string sock_path = tmp_ / "notify.sock";
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  DaemonProcess d(tmp_.path(), {{"NOTIFY_SOCKET", sock_path}});
  d.start();
  char buf[512];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  const std::string ready(buf, static_cast<size_t>(n));
  EXPECT_NE(ready.find("READY=1"), std::string::npos) << ready;
  EXPECT_NE(ready.find(d.url()), std::string::npos) << ready;
  d.signal(SIGTERM);
  n = ::recv(fd, buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, static_cast<size_t>(n)).find("STOPPING=1"), std::string::npos);
  EXPECT_EQ(d.wait_exit(), 0);
  ::close(fd);
}

TEST_F(Lifecycle, JsonLogsAreOneObjectPerLineAndSighupReopensTheLogFile) {
  const std::string log = tmp_ / "strata.log";
  DaemonProcess d(tmp_.path(), {{"LOG_FORMAT", "json"}, {"LOG_FILE", log}});
  d.start();
  auto c = d.client();
  EXPECT_EQ(get(*c, "/v1/entries/5").status, 404);  // logged at info
  // cpp-httplib logs a request after its answer is sent: wait for the line,
  // or it may land in the file after the rename and SIGHUP.
  auto wait_for_text = [](const std::string& file, const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!(fs::exists(file) && testing::read_file(file).find(text) != std::string::npos) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  wait_for_text(log, "/v1/entries/5");
  fs::rename(log, log + ".1");
  d.signal(SIGHUP);
  // The daemon logs the reopening into the new file.
  wait_for_text(log, "reopened");
  ASSERT_TRUE(fs::exists(log)) << "SIGHUP did not reopen LOG_FILE";
  EXPECT_EQ(get(*c, "/v1/entries/6").status, 404);
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0);
  const std::string old_lines = testing::read_file(log + ".1");
  const std::string new_lines = testing::read_file(log);
  EXPECT_NE(old_lines.find("/v1/entries/5"), std::string::npos);
  EXPECT_NE(new_lines.find("/v1/entries/6"), std::string::npos);
  EXPECT_NE(new_lines.find("stopped"), std::string::npos);
  for (const std::string& text : {old_lines, new_lines}) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << "not one JSON object: " << line;
      EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    }
  }
}

TEST_F(Lifecycle, SigtermUnderLoadLosesNoAcknowledgedEntryAndTheArchiveAndObjectStoreHoldThem) {
  DaemonProcess d(tmp_.path(), {{"GIT_SYNC_INTERVAL_MS", "3600000"}});
  d.start();
  Load load(d, 8);
  load.wait_for(300);
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(), 0) << d.log();
  const std::vector<Acked> acked = load.join();
  ASSERT_GE(acked.size(), 300u);
  uint64_t max_seq = 0;
  {
    auto wal = Wal::open(WalOptions::from_env(d.data_dir() + "/wal"));
    for (const Acked& a : acked) {
      auto e = wal->read_entry(a.seq);
      ASSERT_TRUE(e) << "acknowledged seq " << a.seq << " is gone";
      EXPECT_EQ(e->path, a.path);
      EXPECT_EQ(e->data, a.data);
      max_seq = std::max(max_seq, a.seq);
    }
    wal->close();
  }
  // The last archive at shutdown holds every acknowledged entry's file.
  testing::isolate_git_env(d.home());
  const std::string git_dir = testing::sh_quote(d.data_dir() + "/archive.git");
  const std::string files =
      testing::git("--git-dir=" + git_dir + " ls-tree -r --name-only finn/archive");
  std::set<std::string> archived;
  std::istringstream in(files);
  std::string line;
  while (std::getline(in, line)) archived.insert(line);
  for (const Acked& a : acked) {
    EXPECT_TRUE(archived.count("state/" + a.path)) << a.path << " missing from the archive";
  }
  auto manifest = nlohmann::json::parse(
      testing::git("--git-dir=" + git_dir + " show finn/archive:snapshot-manifest.json"));
  EXPECT_GE(manifest["wal_seq"].get<uint64_t>(), max_seq);

  // The object store (the embedded stand-in, DATA_DIR/remote) holds them
  // too after the last sync at shutdown: recovery from it alone, in a fresh
  // data directory with no WAL and no archive, brings back every one.
  const std::string fresh = tmp_ / "from-object-store";
  fs::create_directories(fresh);
  fs::copy(d.data_dir() + "/remote", fresh + "/remote", fs::copy_options::recursive);
  std::string out;
  std::string err;
  ASSERT_EQ(testing::run_strata({"--data-dir", fresh, "recover", "--json"},
                                testing::base_env(tmp_ / "home"), &out, &err),
            0)
      << out << err;
  const auto recovered = nlohmann::json::parse(out);
  EXPECT_EQ(recovered["source"], "r2") << out;
  EXPECT_GE(recovered["seq_reached"].get<uint64_t>(), max_seq) << out;
  auto wal = Wal::open(WalOptions::from_env(fresh + "/wal"));
  for (const Acked& a : acked) {
    auto e = wal->read_entry(a.seq);
    ASSERT_TRUE(e) << "acknowledged seq " << a.seq << " is not in the object store";
    EXPECT_EQ(e->path, a.path);
    EXPECT_EQ(e->data, a.data);
  }
  wal->close();
}

TEST_F(Lifecycle, KillNineUnderLoadThenRestartKeepsEveryAcknowledgedEntry) {
  DaemonProcess d(tmp_.path(), {{"GIT_SYNC_INTERVAL_MS", "3600000"}});
  d.start();
  std::vector<Acked> acked;
  {
    Load load(d, 8);
    load.wait_for(300);
    d.kill9();
    acked = load.join();
  }
  ASSERT_GE(acked.size(), 300u);
  d.start();
  auto c = d.client();
  for (const Acked& a : acked) {
    auto r = get(*c, fmt::format("/v1/entries/{}", a.seq));
    ASSERT_EQ(r.status, 200) << "acknowledged seq " << a.seq << " lost: " << r.body;
    EXPECT_EQ(r.json()["path"], a.path);
    EXPECT_EQ(r.json()["data"], a.data);
  }
  auto status = get(*c, "/v1/status").json();
  EXPECT_EQ(status["recovery"]["source"], "local") << status["recovery"].dump(2);
  EXPECT_EQ(status["recovery"]["state"], "RUNNING") << status["recovery"].dump(2);
  EXPECT_EQ(status["recovery"]["ok"], true);
  // It goes on from the recovered head.
  auto r = post(*c, "/v1/entries", entry_body("after/restart", "x"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["seq"], status["wal"]["head_seq"].get<uint64_t>() + 1);
}

}  // namespace
}  // namespace strata
