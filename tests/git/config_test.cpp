// GitSyncConfig: names and values are refused before a repository is touched.
#include <cstdlib>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "git/git_util.h"
#include "strata/error.h"
#include "strata/git_sync.h"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { isolate_git_env(tmp / "home"); }
  TempDir tmp;
};

TEST_F(ConfigTest, InvalidBranchNamesAreRefusedAtConfigurationTime) {
  for (const char* name :
       {"",         "-delete",   "a..b",         "has space", "tab\there", "semi;colon",
        "dollar$x", "back`tick", "pipe|x",       "amp&x",     "redir>x",   "paren(x)",
        "quote'x",  "star*",     "tilde~1",      "caret^",    "colon:x",   "back\\slash",
        "x.lock",   "a//b",      "/lead",        "trail/",    "trail.",    "@",
        "a@{1}",    "HEAD",      "refs/heads/x", "new\nline"}) {
    SCOPED_TRACE(name);
    setenv("GIT_ARCHIVE_BRANCH", name, 1);
    if (*name == '\0') {
      // Empty counts as unset: the default branch.
      EXPECT_EQ(GitSyncConfig::from_env(tmp.path()).branch, "finn/archive");
      continue;
    }
    try {
      GitSyncConfig::from_env(tmp.path());
      ADD_FAILURE() << "accepted '" << name << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
      EXPECT_THAT(e.what(), HasSubstr("GIT_ARCHIVE_BRANCH"));
    }
  }
  // Nothing was created for a refused configuration.
  EXPECT_FALSE(fs::exists(tmp / "archive.git"));
}

TEST_F(ConfigTest, ValidBranchNamesAreAccepted) {
  for (const char* name : {"finn/archive", "strata/archive-1", "archive", "a.b/c_d"}) {
    EXPECT_NO_THROW(validate_archive_branch(name)) << name;
  }
}

TEST_F(ConfigTest, GitSyncRefusesAnInvalidBranchToo) {
  GitSyncConfig c = test_config(tmp.path());
  c.branch = "bad..name";
  EXPECT_THROW(GitSync sync(c), Error);
  EXPECT_FALSE(fs::exists(tmp / "archive.git"));
}

TEST_F(ConfigTest, ReadsTheEnvironment) {
  setenv("GIT_ARCHIVE_BRANCH", "strata/backup", 1);
  setenv("GIT_REMOTE", "https://example.com/x.git", 1);
  setenv("GIT_ARCHIVE_PATHS", "learnings:/abs/config", 1);
  setenv("GIT_ARCHIVE_MAX_FILE_BYTES", "1MiB", 1);
  setenv("GIT_TIMEOUT_MS", "1500", 1);
  setenv("GIT_AUTHOR_NAME", "Archiver", 1);
  GitSyncConfig c = GitSyncConfig::from_env("/data");
  EXPECT_EQ(c.state_dir, "/data/state");
  EXPECT_EQ(c.repo_dir, "/data/archive.git");
  EXPECT_EQ(c.branch, "strata/backup");
  EXPECT_EQ(c.remote, "https://example.com/x.git");
  EXPECT_EQ(c.extra_dirs, (std::vector<std::string>{"/data/learnings", "/abs/config"}));
  EXPECT_EQ(c.max_file_bytes, 1u << 20);
  EXPECT_EQ(c.timeout.count(), 1500);
  EXPECT_EQ(c.author_name, "Archiver");
}

TEST_F(ConfigTest, RefusesBadValuesNamingTheVariable) {
  auto expect_invalid = [this](const char* var, const char* value) {
    SCOPED_TRACE(std::string(var) + "=" + value);
    setenv(var, value, 1);
    try {
      GitSyncConfig::from_env(tmp.path());
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
      EXPECT_THAT(e.what(), HasSubstr(var));
    }
    unsetenv(var);
  };
  expect_invalid("GIT_REMOTE", "--upload-pack=touch /tmp/pwned");
  expect_invalid("GIT_REMOTE", "bad remote name");
  expect_invalid("GIT_TIMEOUT_MS", "0");
  expect_invalid("GIT_TIMEOUT_MS", "soon");
  expect_invalid("GIT_ARCHIVE_MAX_FILE_BYTES", "0");
  expect_invalid("GIT_AUTHOR_EMAIL", "a<b>@x");
  expect_invalid("GIT_SSH_KEY", "/nonexistent/key");
  expect_invalid("GIT_ARCHIVE_PATHS", "state");  // would collide with state/
  expect_invalid("GIT_ARCHIVE_PATHS", "a/x:b/x");
  expect_invalid("GIT_REPO_DIR", (tmp / "state/repo").c_str());
}

TEST_F(ConfigTest, RedactsUrlCredentials) {
  EXPECT_EQ(redact_url("https://user:s3cret@example.com/r.git"), "https://***@example.com/r.git");
  EXPECT_EQ(redact_url("https://ghp_token@example.com/r.git"), "https://***@example.com/r.git");
  EXPECT_EQ(redact_url("git://example.com/r.git"), "git://example.com/r.git");
  EXPECT_EQ(redact_url("git@example.com:r.git"), "git@example.com:r.git");
}

// Regression test (issue 10, defect 13): the user name of GIT_REMOTE was
// redacted as a substring everywhere: with ssh://git@host/x.git messages
// read ".../x.***", with user "archive" they read "fetching finn/***".
TEST_F(ConfigTest, RedactionIsStructuralAndNeverHidesAUserNameInOtherWords) {
  git::Redactor r;
  r.add_url("ssh://git@127.0.0.1:9/x.git");
  r.add_url("https://archive:pa55word@example.com/r.git");
  EXPECT_EQ(r("fetching finn/archive from ssh://git@127.0.0.1:9/x.git: refused"),
            "fetching finn/archive from ssh://***@127.0.0.1:9/x.git: refused");
  EXPECT_EQ(r("pushing finn/archive to https://archive:pa55word@example.com/r.git"),
            "pushing finn/archive to https://***@example.com/r.git");
  // The password is a secret wherever it appears; the user name is not.
  EXPECT_EQ(r("archive rejected pa55word"), "archive rejected ***");
  EXPECT_EQ(r("git says x.git"), "git says x.git");
}

TEST_F(ConfigTest, RedactsTokensInQueryStrings) {
  EXPECT_EQ(redact_url("https://example.com/r.git?access_token=abc123&ref=main"),
            "https://example.com/r.git?access_token=***&ref=***");
  EXPECT_EQ(redact_url("see https://u:p@h/x?t=1#frag and more"),
            "see https://***@h/x?t=***#frag and more");
  EXPECT_EQ(redact_url("https://h/x?bare-token"), "https://h/x?***");
  EXPECT_EQ(redact_url("https://h/x?"), "https://h/x?");
  // Twice is the same as once.
  EXPECT_EQ(redact_url(redact_url("https://u:p@h/x?t=1")), "https://***@h/x?t=***");
}

// The same through a real failure: the message names the branch and the
// repository as they are.
TEST_F(ConfigTest, FailedFetchMessageKeepsBranchAndRepositoryNames) {
  write_tree(tmp / "state", {{"a", "1"}});
  const int port = free_port();
  GitSyncConfig cfg =
      test_config(tmp.path(), "ssh://archive@127.0.0.1:" + std::to_string(port) + "/x.git");
  cfg.timeout = std::chrono::milliseconds(5000);
  GitSync sync(cfg);
  sync.snapshot(1);
  try {
    sync.push();
    ADD_FAILURE() << "pushed to a port nobody listens on";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("finn/archive"));
    EXPECT_THAT(e.what(), HasSubstr("/x.git"));
    EXPECT_THAT(e.what(), Not(HasSubstr("finn/***")));
    EXPECT_THAT(e.what(), Not(HasSubstr("x.***")));
  }
}

}  // namespace
}  // namespace strata::testing
