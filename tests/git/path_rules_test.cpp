// The names strata's one set of path rules reserves for git
// (strata/path_rules.h) are exactly the ones git and libgit2 refuse in a
// tree: so the WAL refuses at append everything the Git tier would have to
// leave out of a snapshot, and nothing more.
#include <git2.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "git/git_test_support.h"
#include "git/git_util.h"
#include "strata/path_rules.h"

namespace strata::testing {
namespace {

const std::vector<std::string>& candidates() {
  static const std::vector<std::string> names = {
      ".git",   ".GIT",   ".Git",        ".git.",      ".git..", ".GIT...",       ".git ",
      ".git. ", "git~1",  "GIT~1",       "Git~1",      "git~2",  "git~10",        ".git~1",
      "git",    ".gitx",  ".gitmodules", ".gitignore", "a.git",  "..git",         ".git-",
      ".git_",  ".git.x", "x.git.",      "...",        "a",      ".gitattributes"};
  return names;
}

TEST(GitPathRules, ReservedNamesAreExactlyWhatLibgit2RefusesInATree) {
  TempDir tmp;
  git::ensure_libgit2();
  git_repository* repo_raw = nullptr;
  ASSERT_EQ(git_repository_init(&repo_raw, (tmp / "repo.git").c_str(), 1), 0);
  git::RepoPtr repo(repo_raw);
  git_oid blob;
  ASSERT_EQ(git_blob_create_from_buffer(&blob, repo.get(), "x", 1), 0);
  for (const auto& name : candidates()) {
    git_treebuilder* tb_raw = nullptr;
    ASSERT_EQ(git_treebuilder_new(&tb_raw, repo.get(), nullptr), 0);
    git::TreeBuilderPtr tb(tb_raw);
    const bool refused =
        git_treebuilder_insert(nullptr, tb.get(), name.c_str(), &blob, GIT_FILEMODE_BLOB) != 0;
    EXPECT_EQ(is_git_reserved_name(name), refused) << "'" << name << "'";
  }
}

TEST(GitPathRules, ReservedNamesAreExactlyWhatGitRefusesInTheIndex) {
  TempDir tmp;
  isolate_git_env(tmp / "home");
  git("init -q " + sh_quote(tmp / "w"));
  const std::string in = "-C " + sh_quote(tmp / "w") + " ";
  const std::string blob = git(in + "hash-object -w --stdin </dev/null");
  for (const auto& name : candidates()) {
    // git's verify_path, with core.protectNTFS at its default (on).
    const bool refused = git_status(in + "update-index --add --cacheinfo " +
                                    sh_quote("100644," + blob + ",d/" + name)) != 0;
    EXPECT_EQ(is_git_reserved_name(name), refused) << "'" << name << "'";
  }
}

}  // namespace
}  // namespace strata::testing
