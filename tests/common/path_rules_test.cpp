// The one set of path rules (strata/path_rules.h): the component rules every
// tier applies and the names git reserves. Entry-path rules are tested in
// tests/wal/entry_validation_test.cpp; agreement with git and libgit2 in
// tests/git/path_rules_test.cpp.
#include <gtest/gtest.h>

#include <string>

#include "strata/path_rules.h"

namespace strata {
namespace {

TEST(GitReservedNames, DotGitInAnyCaseAndWithTrailingDotsOrSpaces) {
  for (const char* n : {".git", ".GIT", ".Git", ".gIT", ".git.", ".git..", ".git ", ".git. .",
                        "git~1", "GIT~1", "Git~1"}) {
    EXPECT_TRUE(is_git_reserved_name(n)) << n;
  }
}

TEST(GitReservedNames, LookalikesAreNotReserved) {
  for (const char* n : {"git", ".gi", ".gitx", ".git-", ".git.x", ".gitmodules", "a.git", "..git",
                        "git~2", "git~10", ".git~1", "x.git.", ""}) {
    EXPECT_FALSE(is_git_reserved_name(n)) << n;
  }
}

TEST(PathComponent, RefusesWhatNoTierCanHold) {
  EXPECT_TRUE(path_component_problem(""));
  EXPECT_TRUE(path_component_problem("."));
  EXPECT_TRUE(path_component_problem(".."));
  EXPECT_TRUE(path_component_problem("a/b"));
  EXPECT_TRUE(path_component_problem(std::string("a\0b", 3)));
  EXPECT_TRUE(path_component_problem(std::string(256, 'n')));
  EXPECT_TRUE(path_component_problem(".GIT"));
  EXPECT_TRUE(path_component_problem("git~1"));
}

TEST(PathComponent, AcceptsAnyOtherName) {
  // Extra archived directories may hold any file name a file system allows.
  for (const char* n : {"a", "...", "with space", "caf\xc3\xa9", "-dash", ".hidden", "~tilde"}) {
    EXPECT_FALSE(path_component_problem(n)) << n;
  }
  EXPECT_FALSE(path_component_problem(std::string(255, 'n')));
}

TEST(PathComponent, ReasonsAreNounPhrases) {
  // Restore prints "snapshot X holds 'P': <reason>; refusing to restore it".
  EXPECT_EQ(*path_component_problem(".."), "a '.' or '..' component");
  EXPECT_NE(path_component_problem(std::string(300, 'n'))->find("300 bytes"), std::string::npos);
  EXPECT_NE(path_component_problem(".git")->find("git reserves"), std::string::npos);
}

}  // namespace
}  // namespace strata
