// The settings layers in process: flag > environment > file > default, the
// TOML file's rules, and masking.
#include <cstdlib>

#include <gtest/gtest.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/server.h"
#include "strata/settings.h"
#include "support/temp_dir.h"

namespace strata {
namespace {

class Settings : public ::testing::Test {
 protected:
  void SetUp() override {
    config::clear_layers();
    for (const char* v :
         {"SYNC_INTERVAL_MS", "GIT_SYNC_INTERVAL_MS", "STRATA_TOKEN", "LOG_LEVEL"}) {
      unsetenv(v);
    }
  }
  void TearDown() override { SetUp(); }
  std::string file(const std::string& text) {
    const std::string path = tmp_ / "strata.toml";
    testing::write_file(path, text);
    return path;
  }
  std::string load_error(const std::string& text) {
    try {
      server::load_settings_file(file(text));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
      return e.what();
    }
    ADD_FAILURE() << "accepted: " << text;
    return "";
  }
  testing::TempDir tmp_;
};

TEST_F(Settings, FlagBeatsEnvironmentBeatsFile) {
  server::load_settings_file(
      file("SYNC_INTERVAL_MS = 1000\nGIT_SYNC_INTERVAL_MS = 2000\n"
           "LOG_LEVEL = \"debug\"\n"));
  setenv("SYNC_INTERVAL_MS", "3000", 1);
  config::set_flag("SYNC_INTERVAL_MS", "4000");
  setenv("GIT_SYNC_INTERVAL_MS", "5000", 1);
  EXPECT_EQ(config::env("SYNC_INTERVAL_MS"), "4000");
  EXPECT_EQ(config::resolve("SYNC_INTERVAL_MS").source, config::Source::kFlag);
  EXPECT_EQ(config::env("GIT_SYNC_INTERVAL_MS"), "5000");
  EXPECT_EQ(config::resolve("GIT_SYNC_INTERVAL_MS").source, config::Source::kEnvironment);
  EXPECT_EQ(config::env("LOG_LEVEL"), "debug");
  EXPECT_EQ(config::resolve("LOG_LEVEL").source, config::Source::kFile);
  EXPECT_FALSE(config::env("STRATA_TOKEN"));
  EXPECT_EQ(config::resolve("STRATA_TOKEN").source, config::Source::kDefault);
  // Every tier reads through the same helpers.
  EXPECT_EQ(config::env_u64("SYNC_INTERVAL_MS", 1), 4000u);
}

TEST_F(Settings, TheFileRefusesWhatItCannotMean) {
  EXPECT_NE(load_error("SYNC_INTERVL_MS = 5\n").find("unknown key 'SYNC_INTERVL_MS'"),
            std::string::npos);
  EXPECT_NE(load_error("STRATA_CONFIG = \"/x\"\n").find("STRATA_CONFIG"), std::string::npos);
  EXPECT_NE(load_error("SYNC_INTERVAL_MS = -5\n").find("negative"), std::string::npos);
  EXPECT_NE(load_error("SYNC_INTERVAL_MS = 2.5\n").find("SYNC_INTERVAL_MS"), std::string::npos);
  EXPECT_NE(load_error("[sync]\nX = 1\n").find("sync"), std::string::npos);
  EXPECT_NE(load_error("WAL_SYNC = [\"a\"]\n").find("WAL_SYNC"), std::string::npos);
  EXPECT_NE(load_error("SYNC_INTERVAL_MS = \n").find("line 1"), std::string::npos);
  // A refused file installs nothing.
  EXPECT_TRUE(config::file_path().empty());
  EXPECT_FALSE(config::env("SYNC_INTERVAL_MS"));
}

TEST_F(Settings, TomlTypesBecomeTheTextAVariableWouldHold) {
  server::load_settings_file(
      file("SYNC_INTERVAL_MS = 1500\nR2_FORCE_PATH_STYLE = true\n"
           "WAL_SEGMENT_BYTES = \"8MiB\"\n"
           "GIT_ARCHIVE_PATHS = [\"notes\", \"/srv/x\"]\n"));
  EXPECT_EQ(config::env("SYNC_INTERVAL_MS"), "1500");
  EXPECT_EQ(config::env_bool("R2_FORCE_PATH_STYLE"), true);
  EXPECT_EQ(config::env_bytes("WAL_SEGMENT_BYTES", 0), 8ull << 20);
  EXPECT_EQ(config::env("GIT_ARCHIVE_PATHS"), "notes:/srv/x");
}

TEST_F(Settings, ValidationNamesTheKeyAndWhereTheValueCameFrom) {
  server::load_settings_file(file("WAL_SEGMENT_BYTES = \"lots\"\n"));
  try {
    config::validate_values();
    ADD_FAILURE() << "accepted a bad size";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("WAL_SEGMENT_BYTES", 0), 0u) << msg;
    EXPECT_NE(msg.find("strata.toml"), std::string::npos) << msg;
  }
  config::clear_layers();
  setenv("LOG_LEVEL", "chatty", 1);
  try {
    config::validate_values();
    ADD_FAILURE() << "accepted a bad choice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("environment"), std::string::npos) << e.what();
  }
}

TEST_F(Settings, SecretsAreMaskedAndEveryKeyIsDescribed) {
  setenv("STRATA_TOKEN", "a-very-secret-token-value", 1);
  EXPECT_EQ(config::shown_value(config::resolve("STRATA_TOKEN")), "********");
  for (const config::Setting& s : config::settings()) {
    EXPECT_TRUE(*s.meaning) << s.name;
    EXPECT_TRUE(*s.tier) << s.name;
    EXPECT_EQ(config::find_setting(s.name), &s) << s.name << " is registered twice";
  }
  for (const char* secret : {"STRATA_TOKEN", "R2_SECRET_ACCESS_KEY", "GIT_TOKEN",
                             "GIT_SSH_KEY_PASSPHRASE", "AWS_SESSION_TOKEN"}) {
    EXPECT_TRUE(config::find_setting(secret)->secret) << secret;
  }
}

TEST_F(Settings, ListenAddresses) {
  EXPECT_EQ(server::parse_listen_address("127.0.0.1:7480").url(), "http://127.0.0.1:7480");
  EXPECT_TRUE(server::parse_listen_address("localhost:1").loopback);
  EXPECT_TRUE(server::parse_listen_address("[::1]:80").loopback);
  EXPECT_TRUE(server::parse_listen_address(":7480").loopback);
  EXPECT_FALSE(server::parse_listen_address("0.0.0.0:7480").loopback);
  EXPECT_FALSE(server::parse_listen_address("[::]:7480").loopback);
  for (const char* bad : {"7480", "host.example:80", "127.0.0.1:", "127.0.0.1:70000", "::1:80",
                          "[::1]80", "127.0.0.1:-1"}) {
    EXPECT_THROW(server::parse_listen_address(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace strata
