// GitSync: snapshot, push, restore, log and status, built from the pieces in
// this directory (tree_writer, remote, restore_writer, manifest).
#include "strata/git_sync.h"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/random_id.h"
#include "git/git_util.h"
#include "git/manifest.h"
#include "git/remote.h"
#include "git/restore_writer.h"
#include "git/tree_writer.h"
#include "strata/error.h"
#include "strata/fs.h"

namespace strata {

namespace {

using namespace strata::git;

// Compare-and-swap attempts of one snapshot before GIT_CONFLICT is reported.
constexpr int kSnapshotAttempts = 8;
// Pushes of one tip that lost a race to another writer before giving up.
constexpr int kPushAttempts = 3;
// How far below a remote's tip the confirmed seq is looked for.
constexpr int kConfirmedSearchDepth = 64;

// Creates refname at oid unless it exists (GIT_EEXISTS), deciding under the
// ref's lock. git_reference_create(force = 0) checks for the ref before it
// takes the lock (libgit2 1.5, refdb_fs_backend__write), so two processes
// creating the branch at once could both "succeed", the second silently
// replacing the first one's commit (which may already have been pushed).
int create_ref_if_absent(git_repository* repo, const std::string& refname, const git_oid& oid,
                         const char* log_message) {
  git_transaction* tx_raw = nullptr;
  int rc = git_transaction_new(&tx_raw, repo);
  if (rc < 0) return rc;
  struct Free {
    git_transaction* tx;
    ~Free() { git_transaction_free(tx); }
  } owner{tx_raw};
  if ((rc = git_transaction_lock_ref(tx_raw, refname.c_str())) < 0) return rc;
  git_oid existing;
  rc = git_reference_name_to_id(&existing, repo, refname.c_str());
  if (rc == 0) return GIT_EEXISTS;
  if (rc != GIT_ENOTFOUND) return rc;
  if ((rc = git_transaction_set_target(tx_raw, refname.c_str(), &oid, nullptr, log_message)) < 0) {
    return rc;
  }
  return git_transaction_commit(tx_raw);
}

std::string iso_utc(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

std::string human_bytes(uint64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  if (b < (1u << 20)) return fmt::format("{:.1f} KiB", b / 1024.0);
  if (b < (1u << 30)) return fmt::format("{:.1f} MiB", b / 1048576.0);
  return fmt::format("{:.1f} GiB", b / 1073741824.0);
}

}  // namespace

struct GitSync::Impl {
  GitSyncConfig cfg;
  Clock clock;
  RepoPtr repo;
  Redactor redact;
  std::string branch_ref;
  std::string tracking_ref;

  mutable std::mutex mu;  // guards st
  GitSyncStatus st;
  // Whether the branch's tip may not be durable yet: a sync after the last
  // commit failed, or this process has not synced since it opened the
  // repository (an earlier one may have died before its sync).
  std::atomic<bool> sync_owed{true};

  // libgit2 fsyncs each object and ref before its rename and the directory
  // it lands in after (GIT_OPT_ENABLE_FSYNC_GITDIR), but not the parent of
  // a directory it makes (a new objects/xx or refs/heads/<prefix>): one
  // syncfs makes those durable too, before a snapshot can be confirmed.
  void sync_repository() { FileSystem::real().sync_filesystem(cfg.repo_dir); }

  // A remote on this machine (a path or file://) is written by libgit2
  // itself: as for a snapshot, a syncfs covers the directories it made there
  // (and here, for the tracking ref) before a push's confirmed seq is
  // reported, once after each push and once per process. Any other
  // remote's durability is its server's.
  std::atomic<bool> remote_sync_owed{true};
  void sync_local_remote() {
    if (!remote_sync_owed) return;
    const std::string id = remote_identity(repo.get(), cfg.remote);
    if (!id.empty() && id[0] == '/') {
      FileSystem::real().sync_filesystem(id);
      FileSystem::real().sync_filesystem(cfg.repo_dir);
    }
    remote_sync_owed = false;
  }

  // A new bare repository, made in a sibling directory and renamed into
  // place, so a concurrent process sees either no repository or a whole one
  // (never a half-initialized directory). Losing the race is fine: the
  // winner's repository is opened. The move goes through the file-system
  // seam and is durable before the repository is used: what libgit2 wrote
  // in the staging directory is synced (one syncfs) before the rename
  // publishes it, and the parent directory after, so a power cut cannot
  // take away a repository whose snapshots a tier already confirmed.
  void create_repository() {
    namespace sfs = std::filesystem;
    FileSystem& fs = FileSystem::real();
    const sfs::path target = sfs::absolute(cfg.repo_dir).lexically_normal();
    fs.make_dirs(target.parent_path().string());
    auto parent = fs.open_dir(target.parent_path().string());
    const std::string leaf = target.filename().string();
    const std::string staging_leaf = "." + leaf + ".init-" + random_hex(6);
    if (!parent->make_dir(staging_leaf, 0700)) {
      throw Error(ErrorCode::kIoError, fmt::format("creating a staging directory for {}: {} exists",
                                                   cfg.repo_dir, staging_leaf));
    }
    const std::string staging = (target.parent_path() / staging_leaf).string();
    struct Cleanup {
      std::string path;
      ~Cleanup() {
        std::error_code ignored;
        if (!path.empty()) sfs::remove_all(path, ignored);
      }
    } cleanup{staging};
    git_repository_init_options opts;
    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    opts.flags = GIT_REPOSITORY_INIT_BARE;
    git_repository* r = nullptr;
    check(git_repository_init_ext(&r, staging.c_str(), &opts),
          fmt::format("creating the repository {}", cfg.repo_dir));
    git_repository_free(r);
    parent->sync_filesystem();
    // rename(2) replaces an empty directory and fails on a non-empty one:
    // then another process created it first.
    try {
      parent->rename(staging_leaf, *parent, leaf);
    } catch (const Error&) {
      const auto there = parent->stat(leaf);
      std::error_code ec;
      if (there && there->kind == FileKind::kDirectory && !sfs::is_empty(target, ec)) return;
      throw;
    }
    cleanup.path.clear();
    parent->sync();
    spdlog::info("created the archive repository {}", cfg.repo_dir);
  }

  void open_repository() {
    namespace sfs = std::filesystem;
    git_repository* r = nullptr;
    std::error_code ec;
    const bool exists = sfs::exists(cfg.repo_dir, ec);
    if (!exists || (sfs::is_directory(cfg.repo_dir, ec) && sfs::is_empty(cfg.repo_dir, ec))) {
      if (!cfg.create_repo) {
        throw Error(ErrorCode::kNotFound,
                    fmt::format("no archive repository at {}: nothing was archived yet "
                                "(`strata archive` creates it)",
                                cfg.repo_dir));
      }
      create_repository();
    }
    int rc =
        git_repository_open_ext(&r, cfg.repo_dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
    if (rc == GIT_ENOTFOUND) {
      throw Error(ErrorCode::kConfigInvalid,
                  fmt::format("GIT_REPO_DIR: {} exists but is not a git repository", cfg.repo_dir));
    }
    check(rc, fmt::format("opening the repository {}", cfg.repo_dir));
    repo.reset(r);
    if (!git_repository_is_bare(r)) {
      git_reference* head = nullptr;
      if (git_reference_lookup(&head, r, "HEAD") == 0) {
        RefPtr owner(head);
        const char* target = git_reference_symbolic_target(head);
        if (target != nullptr && branch_ref == target) {
          throw Error(ErrorCode::kConfigInvalid,
                      fmt::format("GIT_ARCHIVE_BRANCH: {} is checked out in {}; use another branch",
                                  cfg.branch, cfg.repo_dir));
        }
      }
    }
  }

  CommitPtr lookup_commit(const git_oid& oid) {
    git_commit* c = nullptr;
    check(git_commit_lookup(&c, repo.get(), &oid), "reading commit " + short_hex(oid), &redact);
    return CommitPtr(c);
  }

  // Every snapshot strata commits has a manifest of its own (a new snapshot
  // id and time). A commit someone else made on top of a snapshot carries its
  // parent's manifest blob unchanged, but not the content that manifest
  // describes: it is not a snapshot (for log, restore and the confirmed seq
  // alike), even though the file is there.
  bool inherits_manifest(const git_commit* commit, const git_oid& manifest) {
    const unsigned parents = git_commit_parentcount(commit);
    for (unsigned i = 0; i < parents; ++i) {
      git_commit* parent_raw = nullptr;
      if (git_commit_parent(&parent_raw, commit, i) != 0) continue;  // shallow history
      CommitPtr parent(parent_raw);
      git_tree* tree_raw = nullptr;
      if (git_commit_tree(&tree_raw, parent.get()) != 0) continue;
      TreePtr tree(tree_raw);
      const git_tree_entry* e = git_tree_entry_byname(tree.get(), kManifestName);
      if (e != nullptr && git_oid_equal(git_tree_entry_id(e), &manifest)) return true;
    }
    return false;
  }

  // The manifest of `commit` if it is a strata snapshot, nullopt if not.
  std::optional<Manifest> read_manifest(const git_commit* commit) {
    git_tree* tree_raw = nullptr;
    check(git_commit_tree(&tree_raw, commit), "reading a snapshot tree", &redact);
    TreePtr tree(tree_raw);
    const git_tree_entry* e = git_tree_entry_byname(tree.get(), kManifestName);
    if (e == nullptr || git_tree_entry_type(e) != GIT_OBJECT_BLOB) return std::nullopt;
    if (inherits_manifest(commit, *git_tree_entry_id(e))) return std::nullopt;
    git_blob* blob_raw = nullptr;
    check(git_blob_lookup(&blob_raw, repo.get(), git_tree_entry_id(e)), "reading a manifest",
          &redact);
    BlobPtr blob(blob_raw);
    std::string_view text(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                          static_cast<size_t>(git_blob_rawsize(blob.get())));
    return Manifest::parse(text,
                           fmt::format("{}:{}", short_hex(*git_commit_id(commit)), kManifestName));
  }

  SnapshotInfo info_of(const git_commit* commit, const std::optional<Manifest>& m) {
    SnapshotInfo info;
    info.commit = oid_hex(*git_commit_id(commit));
    info.commit_time = static_cast<int64_t>(git_commit_time(commit));
    if (m) {
      info.has_manifest = true;
      info.snapshot_id = m->snapshot_id;
      info.created_at = m->created_at;
      info.wal_seq = m->wal_seq;
      info.lineage_id = m->lineage_id;
      info.file_count = m->file_count;
      info.total_bytes = m->total_bytes;
    }
    return info;
  }

  SnapshotInfo info_of(const git_oid& oid) {
    CommitPtr c = lookup_commit(oid);
    return info_of(c.get(), read_manifest(c.get()));
  }

  // The root tree of `commit` without its manifest: what the snapshot holds.
  git_oid content_tree(const git_commit* commit) {
    git_tree* tree_raw = nullptr;
    check(git_commit_tree(&tree_raw, commit), "reading the branch tip's tree", &redact);
    TreePtr tree(tree_raw);
    git_treebuilder* tb_raw = nullptr;
    check(git_treebuilder_new(&tb_raw, repo.get(), tree.get()), "reading the branch tip's tree",
          &redact);
    TreeBuilderPtr tb(tb_raw);
    if (git_treebuilder_get(tb.get(), kManifestName) != nullptr) {
      check(git_treebuilder_remove(tb.get(), kManifestName), "reading the branch tip's tree",
            &redact);
    }
    git_oid out;
    check(git_treebuilder_write(&out, tb.get()), "reading the branch tip's tree", &redact);
    return out;
  }

  // The newest snapshot on the first-parent line of this remote's recorded
  // tip: commits someone else added on top (not snapshots) do not take away
  // what the remote holds beneath them.
  std::optional<uint64_t> confirmed_seq_locked() {
    git_oid oid;
    if (cfg.remote.empty() || !lookup_ref_oid(repo.get(), tracking_ref, &oid)) return std::nullopt;
    CommitPtr c = lookup_commit(oid);
    for (int depth = 0; depth < kConfirmedSearchDepth; ++depth) {
      std::optional<Manifest> m;
      try {
        m = read_manifest(c.get());
      } catch (const Error&) {
        // An unreadable manifest is not a snapshot.
      }
      if (m) {
        if (!cfg.lineage_id.empty() && m->lineage_id != cfg.lineage_id) return std::nullopt;
        // A snapshot this repository's branch does not hold was made by
        // another writer (a copy of this lineage force-pushed over the
        // branch): the remote holds none of our entries by it.
        git_oid local;
        if (lookup_ref_oid(repo.get(), branch_ref, &local) &&
            !git_oid_equal(&local, git_commit_id(c.get())) &&
            git_graph_descendant_of(repo.get(), &local, git_commit_id(c.get())) != 1)
          return std::nullopt;
        return m->wal_seq;
      }
      git_commit* parent = nullptr;
      if (git_commit_parentcount(c.get()) == 0 || git_commit_parent(&parent, c.get(), 0) != 0) {
        return std::nullopt;
      }
      c.reset(parent);
    }
    return std::nullopt;
  }

  std::vector<std::string> only_in(const git_oid& tip, const git_oid& hide, size_t limit) {
    git_revwalk* w_raw = nullptr;
    check(git_revwalk_new(&w_raw, repo.get()), "walking history", &redact);
    RevwalkPtr w(w_raw);
    check(git_revwalk_push(w.get(), &tip), "walking history", &redact);
    check(git_revwalk_hide(w.get(), &hide), "walking history", &redact);
    std::vector<std::string> out;
    git_oid oid;
    while (git_revwalk_next(&oid, w.get()) == 0) {
      if (out.size() == limit) {
        out.push_back("...");
        break;
      }
      out.push_back(short_hex(oid));
    }
    return out;
  }

  void set_state(GitSyncState s, std::string message) {
    std::lock_guard lock(mu);
    st.state = s;
    st.message = redact(message);
    if (s != GitSyncState::kConflict) {
      st.local_only.clear();
      st.remote_only.clear();
    }
  }

  void note_error(const Error& e) {
    set_state(e.code() == ErrorCode::kGitConflict ? GitSyncState::kConflict : GitSyncState::kError,
              fmt::format("{}: {}", e.code_name(), e.what()));
  }
};

GitSync::GitSync(GitSyncConfig config, Clock clock) : impl_(std::make_unique<Impl>()) {
  config.validate();
  ensure_libgit2();
  impl_->cfg = std::move(config);
  impl_->clock = clock ? std::move(clock) : [] { return std::chrono::system_clock::now(); };
  impl_->branch_ref = "refs/heads/" + impl_->cfg.branch;

  impl_->redact.add_secret(impl_->cfg.token);
  impl_->redact.add_secret(impl_->cfg.ssh_passphrase);
  impl_->redact.add_url(impl_->cfg.remote);
  if (!impl_->cfg.token.empty() && impl_->cfg.remote.starts_with("http://")) {
    spdlog::warn("GIT_TOKEN will be sent without TLS to {}", redact_url(impl_->cfg.remote));
  }
  impl_->open_repository();
  impl_->tracking_ref =
      tracking_ref_for(remote_identity(impl_->repo.get(), impl_->cfg.remote), impl_->cfg.branch);
  impl_->st.branch = impl_->cfg.branch;
  impl_->st.remote = redact_url(impl_->cfg.remote);
  impl_->st.state = impl_->cfg.remote.empty() ? GitSyncState::kUnconfigured : GitSyncState::kOk;
  impl_->st.message =
      impl_->cfg.remote.empty() ? "no GIT_REMOTE: local archive only" : "no push yet";
  git_oid tip;
  if (lookup_ref_oid(impl_->repo.get(), impl_->branch_ref, &tip))
    impl_->st.local_tip = oid_hex(tip);
  if (lookup_ref_oid(impl_->repo.get(), impl_->tracking_ref, &tip))
    impl_->st.remote_tip = oid_hex(tip);
  impl_->st.confirmed_seq = impl_->confirmed_seq_locked();
}

GitSync::~GitSync() = default;

SnapshotResult GitSync::snapshot(uint64_t wal_seq) {
  Impl& d = *impl_;
  // Every extra directory must be there: archiving a mistyped or missing
  // GIT_ARCHIVE_PATHS entry as "nothing" would make a snapshot that claims a
  // source it does not hold.
  for (const auto& dir : d.cfg.extra_dirs) {
    if (!std::filesystem::is_directory(dir)) {
      Error e(ErrorCode::kConfigInvalid,
              fmt::format("GIT_ARCHIVE_PATHS: '{}' does not exist or is not a directory; nothing "
                          "was archived",
                          dir));
      d.note_error(e);
      throw e;
    }
  }
  auto once = [&]() -> SnapshotResult {
    git_repository* repo = d.repo.get();
    TreeWriter tw(repo, d.cfg.max_file_bytes);
    git_treebuilder* root_raw = nullptr;
    check(git_treebuilder_new(&root_raw, repo, nullptr), "creating the snapshot tree");
    TreeBuilderPtr root(root_raw);

    Manifest m;
    std::vector<std::pair<std::string, std::string>> sources{{"state", d.cfg.state_dir}};
    for (const auto& dir : d.cfg.extra_dirs) {
      sources.emplace_back(std::filesystem::path(dir).lexically_normal().filename().string(), dir);
    }
    for (const auto& [name, dir] : sources) {
      m.sources.push_back(name);
      git_oid tree;
      if (tw.write_dir(dir, name, &tree)) {
        check(git_treebuilder_insert(nullptr, root.get(), name.c_str(), &tree, GIT_FILEMODE_TREE),
              "adding " + name + " to the snapshot");
      }
    }
    git_oid content;
    check(git_treebuilder_write(&content, root.get()), "writing the snapshot tree");
    const TreeStats& stats = tw.stats();
    for (const auto& s : stats.skipped) spdlog::warn("archive: skipped {}: {}", s.path, s.reason);

    git_oid parent_oid;
    const bool has_parent = lookup_ref_oid(repo, d.branch_ref, &parent_oid);
    CommitPtr parent;
    if (has_parent) {
      parent = d.lookup_commit(parent_oid);
      std::optional<Manifest> pm;
      try {
        pm = d.read_manifest(parent.get());
      } catch (const Error&) {
        // Someone else's commit on the branch: compare content only, and commit.
      }
      git_oid parent_content = d.content_tree(parent.get());
      if (git_oid_equal(&parent_content, &content) && pm && pm->empty_dirs == stats.empty_dirs &&
          pm->sources == m.sources) {
        spdlog::info("archive: state unchanged since {} (seq {}); no commit", short_hex(parent_oid),
                     pm->wal_seq);
        if (d.sync_owed) {
          d.sync_repository();
          d.sync_owed = false;
        }
        return SnapshotResult{false, d.info_of(parent.get(), pm), stats.skipped};
      }
    }

    const auto now = d.clock();
    m.snapshot_id = random_hex(16);
    m.created_at = iso_utc(now);
    m.wal_seq = wal_seq;
    m.lineage_id = d.cfg.lineage_id;
    m.file_count = stats.file_count;
    m.total_bytes = stats.total_bytes;
    m.empty_dirs = stats.empty_dirs;
    m.skipped = stats.skipped;
    const std::string manifest_text = m.to_json();
    git_oid manifest_oid;
    check(git_blob_create_from_buffer(&manifest_oid, repo, manifest_text.data(),
                                      manifest_text.size()),
          "writing the manifest");
    check(git_treebuilder_insert(nullptr, root.get(), kManifestName, &manifest_oid,
                                 GIT_FILEMODE_BLOB),
          "adding the manifest");
    git_oid tree_oid;
    check(git_treebuilder_write(&tree_oid, root.get()), "writing the snapshot tree");
    git_tree* tree_raw = nullptr;
    check(git_tree_lookup(&tree_raw, repo, &tree_oid), "reading the snapshot tree");
    TreePtr tree(tree_raw);

    git_signature* sig_raw = nullptr;
    const auto secs =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    check(git_signature_new(&sig_raw, d.cfg.author_name.c_str(), d.cfg.author_email.c_str(),
                            static_cast<git_time_t>(secs), 0),
          "making the commit signature");
    SignaturePtr sig(sig_raw);
    const std::string message = fmt::format(
        "strata snapshot: seq {}, {} files, {}\n\n"
        "Snapshot-Id: {}\nWal-Seq: {}\nLineage-Id: {}\nCreated-At: {}\n",
        wal_seq, m.file_count, human_bytes(m.total_bytes), m.snapshot_id, wal_seq,
        m.lineage_id.empty() ? "-" : m.lineage_id, m.created_at);
    const git_commit* parents[1] = {parent.get()};
    git_oid commit_oid;
    check(git_commit_create(&commit_oid, repo, nullptr, sig.get(), sig.get(), nullptr,
                            message.c_str(), tree.get(), has_parent ? 1 : 0,
                            has_parent ? parents : nullptr),
          "creating the snapshot commit");

    // Compare-and-swap: a concurrent snapshot must not be silently dropped.
    // A lock a killed strata left on the branch is cleared (write_ref):
    // before, every later snapshot failed on it as a conflict, for good.
    const std::string log_msg = fmt::format("strata: snapshot seq {}", wal_seq);
    int rc = write_ref(repo, d.branch_ref, [&] {
      if (!has_parent) return create_ref_if_absent(repo, d.branch_ref, commit_oid, log_msg.c_str());
      git_reference* ref = nullptr;
      int r = git_reference_create_matching(&ref, repo, d.branch_ref.c_str(), &commit_oid, 1,
                                            &parent_oid, log_msg.c_str());
      git_reference_free(ref);
      return r;
    });
    if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS) {
      throw Error(ErrorCode::kGitConflict,
                  fmt::format("{} moved while the snapshot was made; try again", d.cfg.branch));
    }
    if (rc == GIT_ELOCKED) {
      throw Error(ErrorCode::kGitConflict,
                  fmt::format("{} is locked ({}{}.lock exists); try again", d.cfg.branch,
                              git_repository_path(repo), d.branch_ref));
    }
    check(rc, "moving " + d.cfg.branch);
    d.sync_owed = true;
    d.sync_repository();
    d.sync_owed = false;

    spdlog::info("archive: committed {} on {} (seq {}, {} files, {})", short_hex(commit_oid),
                 d.cfg.branch, wal_seq, m.file_count, human_bytes(m.total_bytes));
    {
      std::lock_guard lock(d.mu);
      d.st.local_tip = oid_hex(commit_oid);
      if (d.st.state == GitSyncState::kError && d.cfg.remote.empty())
        d.st.state = GitSyncState::kUnconfigured;
    }
    SnapshotResult r;
    r.committed = true;
    r.skipped = stats.skipped;
    r.tip = d.info_of(commit_oid);
    return r;
  };
  try {
    // The branch moves by compare-and-swap; losing to a concurrent snapshot
    // (another process archiving the same data directory) is retried on top
    // of the winner's commit, which usually makes this one "unchanged".
    for (int attempt = 1;; ++attempt) {
      try {
        return once();
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kGitConflict || attempt == kSnapshotAttempts) throw;
        spdlog::info("archive: {}; attempt {} of {}", e.what(), attempt + 1, kSnapshotAttempts);
        // The winner may still hold the ref's lock: let it finish, and let
        // the losers spread out rather than collide again.
        unsigned char jitter = 0;
        random_bytes(&jitter, 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt + jitter % 10));
      }
    }
  } catch (const Error& e) {
    d.note_error(e);
    throw;
  }
}

PushResult GitSync::push() {
  Impl& d = *impl_;
  PushResult r;
  if (d.cfg.remote.empty()) {
    d.set_state(GitSyncState::kUnconfigured, "no GIT_REMOTE: local archive only, nothing pushed");
    return r;
  }
  try {
    git_oid local;
    if (!lookup_ref_oid(d.repo.get(), d.branch_ref, &local)) {
      d.set_state(GitSyncState::kOk, "nothing to push: no snapshot yet");
      return r;
    }
    RemoteSession session(d.repo.get(), d.cfg, d.redact);
    std::optional<git_oid> remote = session.fetch_branch(d.cfg.branch, d.tracking_ref);
    {
      std::lock_guard lock(d.mu);
      d.st.remote_tip = remote ? std::optional(oid_hex(*remote)) : std::nullopt;
    }
    r.local_commit = oid_hex(local);
    r.remote_before = remote ? oid_hex(*remote) : "";
    if (remote && git_oid_equal(&*remote, &local)) {
      d.sync_local_remote();
      r.confirmed_seq = d.confirmed_seq_locked();
      {
        std::lock_guard lock(d.mu);
        d.st.confirmed_seq = r.confirmed_seq;
      }
      d.set_state(GitSyncState::kOk,
                  fmt::format("{} is up to date at {}", session.display_url(), short_hex(local)));
      return r;
    }
    if (remote && git_graph_descendant_of(d.repo.get(), &local, &*remote) != 1) {
      auto local_only = d.only_in(local, *remote, 10);
      auto remote_only = d.only_in(*remote, local, 10);
      std::string msg = fmt::format(
          "{} on {} {}: the remote is at {}, the local branch at {}; only local: {}; "
          "only on the remote: {}. Nothing was pushed (never forced); inspect with "
          "`git log {}` in {} and reconcile by hand",
          d.cfg.branch, session.display_url(),
          local_only.empty() ? "is ahead of the local branch" : "has diverged", short_hex(*remote),
          short_hex(local),
          local_only.empty() ? "none" : fmt::format("{}", fmt::join(local_only, ", ")),
          remote_only.empty() ? "none" : fmt::format("{}", fmt::join(remote_only, ", ")),
          d.tracking_ref, d.cfg.repo_dir);
      {
        std::lock_guard lock(d.mu);
        d.st.local_only = local_only;
        d.st.remote_only = remote_only;
      }
      throw Error(ErrorCode::kGitConflict, msg);
    }
    git_oid pushed;
    for (int attempt = 1;; ++attempt) {
      try {
        pushed = session.push_branch(d.cfg.branch);
        break;
      } catch (const Error& e) {
        // Another process pushing at the same moment (two runs of `strata
        // archive` on one data directory) makes the remote refuse ours. If
        // the remote now holds exactly our tip, the push is done; if it is
        // still behind it, try again.
        std::optional<git_oid> now;
        try {
          now = session.fetch_branch(d.cfg.branch, d.tracking_ref);
        } catch (const Error&) {
          throw e;
        }
        if (now && git_oid_equal(&*now, &local)) {
          spdlog::info("archive: {}; the remote has {} now", e.what(), short_hex(local));
          d.sync_local_remote();
          r.confirmed_seq = d.confirmed_seq_locked();
          {
            std::lock_guard lock(d.mu);
            d.st.remote_tip = r.local_commit;
            d.st.confirmed_seq = r.confirmed_seq;
          }
          d.set_state(GitSyncState::kOk, fmt::format("{} is up to date at {}",
                                                     session.display_url(), short_hex(local)));
          return r;
        }
        const bool behind = !now || git_graph_descendant_of(d.repo.get(), &local, &*now) == 1;
        if (!behind || attempt == kPushAttempts) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
      }
    }
    record_ref(d.repo.get(), d.tracking_ref, pushed, "strata: remote tip after push",
               "recording the pushed tip", &d.redact);
    d.remote_sync_owed = true;
    d.sync_local_remote();
    r.pushed = true;
    r.local_commit = oid_hex(pushed);
    r.confirmed_seq = d.confirmed_seq_locked();
    {
      std::lock_guard lock(d.mu);
      d.st.remote_tip = r.local_commit;
      d.st.confirmed_seq = r.confirmed_seq;
    }
    d.set_state(GitSyncState::kOk,
                fmt::format("pushed {} to {}", short_hex(pushed), session.display_url()));
    spdlog::info("archive: pushed {} to {} ({})", short_hex(pushed), session.display_url(),
                 d.cfg.branch);
    return r;
  } catch (const Error& e) {
    d.note_error(e);
    throw;
  }
}

RestoreResult GitSync::restore(const std::string& target_dir, const RestoreOptions& options) {
  Impl& d = *impl_;
  using Source = RestoreOptions::Source;
  bool from_remote = options.source == Source::kRemote ||
                     (options.source == Source::kAuto && !d.cfg.remote.empty());
  if (from_remote && d.cfg.remote.empty()) {
    throw Error(ErrorCode::kConfigInvalid,
                "GIT_REMOTE: not set, so there is no remote to restore from");
  }
  git_repository* repo = d.repo.get();
  git_oid start;
  std::string where;
  if (from_remote) {
    RemoteSession session(repo, d.cfg, d.redact);
    auto tip = session.fetch_branch(d.cfg.branch, d.tracking_ref);
    where = fmt::format("{} on {}", d.cfg.branch, session.display_url());
    if (!tip) throw Error(ErrorCode::kNotFound, fmt::format("no branch {}", where));
    start = *tip;
    std::lock_guard lock(d.mu);
    d.st.remote_tip = oid_hex(start);
  } else {
    where = fmt::format("{} in {}", d.cfg.branch, d.cfg.repo_dir);
    if (!lookup_ref_oid(repo, d.branch_ref, &start)) {
      throw Error(ErrorCode::kNotFound, fmt::format("no snapshot yet: no branch {}", where));
    }
  }

  git_oid chosen = start;
  if (options.commit) {
    git_object* obj = nullptr;
    int rc = git_revparse_single(&obj, repo, options.commit->c_str());
    if (rc == GIT_ENOTFOUND || rc == GIT_EAMBIGUOUS || rc == GIT_EINVALIDSPEC) {
      throw Error(ErrorCode::kNotFound, fmt::format("no commit '{}' in {}: {}", *options.commit,
                                                    d.cfg.repo_dir, last_error_message(rc)));
    }
    check(rc, "looking up " + *options.commit, &d.redact);
    ObjectPtr owner(obj);
    git_object* peeled = nullptr;
    check(git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT), *options.commit + " is not a commit",
          &d.redact, ErrorCode::kNotFound);
    chosen = *git_object_id(peeled);
    git_object_free(peeled);
  } else if (options.before) {
    const auto limit =
        std::chrono::duration_cast<std::chrono::seconds>(options.before->time_since_epoch())
            .count();
    git_revwalk* w_raw = nullptr;
    check(git_revwalk_new(&w_raw, repo), "walking history");
    RevwalkPtr w(w_raw);
    check(git_revwalk_simplify_first_parent(w.get()), "walking history");
    check(git_revwalk_push(w.get(), &start), "walking history");
    bool found = false;
    git_oid oid;
    while (git_revwalk_next(&oid, w.get()) == 0) {
      CommitPtr c = d.lookup_commit(oid);
      if (git_commit_time(c.get()) <= limit && d.read_manifest(c.get())) {
        chosen = oid;
        found = true;
        break;
      }
    }
    if (!found) {
      throw Error(ErrorCode::kNotFound, fmt::format("no snapshot at or before {} on {}",
                                                    iso_utc(*options.before), where));
    }
  }

  CommitPtr commit = d.lookup_commit(chosen);
  auto manifest = d.read_manifest(commit.get());
  if (!manifest) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("commit {} is not a strata snapshot (it has no {} of its own)",
                            short_hex(chosen), kManifestName));
  }
  git_tree* tree_raw = nullptr;
  check(git_commit_tree(&tree_raw, commit.get()), "reading the snapshot tree", &d.redact);
  TreePtr tree(tree_raw);
  RestoreStats stats =
      write_tree(repo, tree.get(), *manifest, target_dir, oid_hex(chosen), d.cfg.max_file_bytes);
  spdlog::info("archive: restored {} (seq {}) into {}", short_hex(chosen), manifest->wal_seq,
               target_dir);
  RestoreResult r;
  r.snapshot = d.info_of(commit.get(), manifest);
  r.files_written = stats.files;
  r.bytes_written = stats.bytes;
  return r;
}

std::vector<SnapshotInfo> GitSync::log(size_t limit, bool from_remote) {
  Impl& d = *impl_;
  git_repository* repo = d.repo.get();
  git_oid start;
  if (from_remote) {
    if (d.cfg.remote.empty()) {
      throw Error(ErrorCode::kConfigInvalid, "GIT_REMOTE: not set, so there is no remote to list");
    }
    RemoteSession session(repo, d.cfg, d.redact);
    auto tip = session.fetch_branch(d.cfg.branch, d.tracking_ref);
    if (!tip) return {};
    start = *tip;
  } else if (!lookup_ref_oid(repo, d.branch_ref, &start)) {
    return {};
  }
  git_revwalk* w_raw = nullptr;
  check(git_revwalk_new(&w_raw, repo), "walking history");
  RevwalkPtr w(w_raw);
  check(git_revwalk_simplify_first_parent(w.get()), "walking history");
  check(git_revwalk_push(w.get(), &start), "walking history");
  std::vector<SnapshotInfo> out;
  git_oid oid;
  while ((limit == 0 || out.size() < limit) && git_revwalk_next(&oid, w.get()) == 0) {
    CommitPtr c = d.lookup_commit(oid);
    std::optional<Manifest> m;
    try {
      m = d.read_manifest(c.get());
    } catch (const Error&) {
      // Listed without snapshot details, like any foreign commit.
    }
    out.push_back(d.info_of(c.get(), m));
  }
  return out;
}

std::optional<uint64_t> GitSync::confirmed_seq() {
  auto seq = impl_->confirmed_seq_locked();
  std::lock_guard lock(impl_->mu);
  impl_->st.confirmed_seq = seq;
  return seq;
}

GitSyncStatus GitSync::status() const {
  std::lock_guard lock(impl_->mu);
  return impl_->st;
}

}  // namespace strata
