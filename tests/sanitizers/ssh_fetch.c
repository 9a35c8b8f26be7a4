/* A clean libgit2 SSH fetch: every object freed, libgit2 shut down. Under
 * LeakSanitizer any leak it reports is libgit2's or libssh2's own. */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>

static const char* key;
static int offered;

static int creds(git_credential** out, const char* url, const char* user, unsigned allowed,
                 void* payload) {
  (void)url;
  (void)payload;
  if (allowed & GIT_CREDENTIAL_SSH_KEY) {
    /* libgit2 asks again when the server refuses the key: give up then. */
    if (offered++) return GIT_EAUTH;
    return git_credential_ssh_key_new(out, user, NULL, key, NULL);
  }
  return git_credential_username_new(out, user);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ssh_fetch REPO_DIR URL KEY\n");
    return 2;
  }
  key = argv[3];
  git_libgit2_init();
  git_repository* repo = NULL;
  git_remote* remote = NULL;
  int rc = git_repository_init(&repo, argv[1], 1);
  if (rc == 0) rc = git_remote_create_anonymous(&remote, repo, argv[2]);
  if (rc == 0) {
    git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
    opts.callbacks.credentials = creds;
    rc = git_remote_fetch(remote, NULL, &opts, NULL);
  }
  if (rc != 0)
    fprintf(stderr, "error %d: %s\n", rc,
            git_error_last() ? git_error_last()->message : "(no message)");
  git_remote_free(remote);
  git_repository_free(repo);
  git_libgit2_shutdown();
  return rc == 0 ? 0 : 1;
}
