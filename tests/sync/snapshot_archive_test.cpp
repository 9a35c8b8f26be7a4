// The state snapshot archive: round trips, interop with the tar CLI both
// ways, and hostile archives built here with libarchive's writer.
#include "sync/snapshot_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/testing/fault_injection_file_system.h"
#include "support/temp_dir.h"
#include "support/wal_helpers.h"

namespace strata::sync {
namespace {

namespace sfs = std::filesystem;
using strata::testing::read_file;
using strata::testing::run_command;
using strata::testing::TempDir;
using strata::testing::write_file;

using Files = std::map<std::string, std::string>;

// Every file under root as relative path -> bytes, directories as "<dir>",
// anything else as a marker, so a test sees whatever was created.
Files tree_of(const std::string& root) {
  Files out = strata::testing::dir_bytes(root);
  for (const auto& e : sfs::recursive_directory_iterator(root)) {
    if (!e.is_symlink() && (e.is_regular_file() || e.is_directory())) continue;
    out[sfs::relative(e.path(), root).string()] = e.is_symlink() ? "<symlink>" : "<special>";
  }
  return out;
}

void make_tree(const std::string& root, const Files& files) {
  sfs::create_directories(root);
  for (const auto& [rel, data] : files) {
    const sfs::path p = sfs::path(root) / rel;
    sfs::create_directories(p.parent_path());
    write_file(p.string(), data);
  }
}

Files sample_state() {
  std::mt19937 rng(7);
  std::string binary(3 << 20, '\0');
  for (auto& c : binary) c = static_cast<char>(rng());
  return {{"sessions/alice.json", R"({"turns":3})"},
          {"sessions/bob.json", ""},
          {".beads/t1", "todo\n"},
          {"learnings/deep/er/note.md", std::string(5000, 'x')},
          {"config/big.bin", binary}};
}

// One member of a crafted archive.
struct Member {
  Member(std::string n, unsigned t, std::string d = "", std::string l = "", bool hard = false)
      : name(std::move(n)), type(t), data(std::move(d)), link(std::move(l)), hardlink(hard) {}
  std::string name;
  unsigned type = AE_IFREG;
  std::string data;
  std::string link;       // symlink target or hard-link target
  bool hardlink = false;  // link names a hard link
};

Member header(uint64_t seq = 5, uint64_t version = 1, std::string lineage = "L1") {
  nlohmann::json j = {{"format", "strata-snapshot"}, {"version", version}, {"seq", seq},
                      {"lineage", lineage},          {"created_ms", 1000}, {"created_at", "x"}};
  return {std::string(kSnapshotHeaderName), AE_IFREG, j.dump()};
}

Member dir(std::string name) {
  return {std::move(name), AE_IFDIR, ""};
}
Member file(std::string name, std::string data) {
  return {std::move(name), AE_IFREG, std::move(data)};
}

// The file list a writer would append for the regular members under state/.
Member list_for(const std::vector<Member>& members) {
  std::string text;
  for (const auto& m : members) {
    if (m.type != AE_IFREG || m.hardlink || m.name.rfind("state/", 0) != 0) continue;
    text +=
        nlohmann::json{
            {"path", m.name.substr(6)}, {"size", m.data.size()}, {"sha256", sha256_hex(m.data)}}
            .dump() +
        "\n";
  }
  return {std::string(kSnapshotFileListName), AE_IFREG, text};
}

la_ssize_t append_cb(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

std::string craft(const std::vector<Member>& members, bool zstd = true) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (zstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  EXPECT_EQ(archive_write_open2(a, &out, nullptr, append_cb, nullptr, nullptr), ARCHIVE_OK);
  for (const auto& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_filetype(e, m.type);
    archive_entry_set_perm(e, m.type == AE_IFDIR ? 0755 : 0644);
    if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.link.c_str());
    if (m.hardlink) archive_entry_set_hardlink(e, m.link.c_str());
    if (m.type == AE_IFCHR || m.type == AE_IFBLK) archive_entry_set_rdev(e, makedev(1, 3));
    const bool has_data = m.type == AE_IFREG && !m.hardlink;
    archive_entry_set_size(e, has_data ? static_cast<int64_t>(m.data.size()) : 0);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << m.name << archive_error_string(a);
    if (has_data && !m.data.empty()) archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// The member names libarchive reads back: proves a crafted archive really
// holds the hostile member a test is about.
std::vector<std::string> names_in(const std::string& bytes) {
  std::vector<std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  archive_read_open_memory(a, bytes.data(), bytes.size());
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) out.push_back(archive_entry_pathname(e));
  archive_read_free(a);
  return out;
}

class SnapshotArchiveTest : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string in = tmp / "in";
  std::string out = tmp / "out";
  std::string outside = tmp / "outside";
  std::string target = tmp / "out/target";
  void SetUp() override {
    sfs::create_directories(in);
    sfs::create_directories(out);
    make_tree(outside, {{"keep.txt", "untouched"}});
  }
  std::string put(const std::string& bytes, const std::string& name = "snap.tar.zst") {
    write_file(in + "/" + name, bytes);
    return in + "/" + name;
  }
  // Reading is refused with code and a message containing `says`; nothing
  // is left in out/, nothing outside changed, no "evil" file anywhere.
  void expect_refused(const std::string& bytes, ErrorCode code, const std::string& says,
                      const SnapshotReadOptions& options = {}) {
    const std::string path = put(bytes);
    try {
      read_snapshot_archive(path, target, options);
      ADD_FAILURE() << "accepted an archive that should be refused for: " << says;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
    EXPECT_TRUE(sfs::is_empty(out)) << "left something in the output directory";
    EXPECT_EQ(tree_of(outside), (Files{{"keep.txt", "untouched"}}));
    for (const auto& e : sfs::recursive_directory_iterator(tmp.path()))
      EXPECT_NE(e.path().filename(), "evil") << e.path();
  }
};

TEST_F(SnapshotArchiveTest, RoundTripKeepsEveryFileAndTheMetadata) {
  make_tree(tmp / "state", sample_state());
  sfs::create_directories(tmp / "state/empty/dir");
  SnapshotMeta meta;
  meta.seq = 1234;
  meta.lineage_id = "01HZLINEAGE";
  meta.created_ms = 1700000000123;
  const std::string archive = in + "/snap.tar.zst";
  SnapshotWriteResult w = write_snapshot_archive(tmp / "state", meta, archive);
  EXPECT_EQ(w.files, 5u);
  EXPECT_EQ(w.directories, 9u);  // state, .beads, config, empty, empty/dir, learnings(+2), sessions
  EXPECT_EQ(w.content_bytes, 11u + 0 + 5 + 5000 + (3u << 20));
  EXPECT_TRUE(w.skipped.empty());
  EXPECT_EQ(w.archive_bytes, sfs::file_size(archive));
  EXPECT_EQ(w.archive_sha256, sha256_hex(read_file(archive)));
  EXPECT_EQ(w.meta.created_at, "2023-11-14T22:13:20.123Z");

  SnapshotReadOptions o;
  o.expect_sha256 = w.archive_sha256;
  o.expect_seq = 1234;
  o.expect_lineage = "01HZLINEAGE";
  o.max_archive_bytes = w.archive_bytes;
  SnapshotReadResult r = read_snapshot_archive(archive, target, o);
  EXPECT_EQ(tree_of(target), tree_of(tmp / "state"));
  EXPECT_EQ(r.meta.seq, 1234u);
  EXPECT_EQ(r.meta.lineage_id, "01HZLINEAGE");
  EXPECT_EQ(r.meta.created_ms, 1700000000123u);
  EXPECT_EQ(r.files, 5u);
  EXPECT_EQ(r.content_bytes, w.content_bytes);
  EXPECT_EQ(r.archive_sha256, w.archive_sha256);
  EXPECT_EQ(r.archive_bytes, w.archive_bytes);
  EXPECT_EQ(read_snapshot_meta(archive).seq, 1234u);
  EXPECT_EQ(sfs::status(target + "/sessions/alice.json").permissions(),
            sfs::perms::owner_read | sfs::perms::owner_write | sfs::perms::group_read |
                sfs::perms::others_read);
}

TEST_F(SnapshotArchiveTest, SameStateAndMetadataGiveTheSameBytes) {
  make_tree(tmp / "state", sample_state());
  SnapshotMeta meta;
  meta.seq = 9;
  meta.created_ms = 5000;
  auto a = write_snapshot_archive(tmp / "state", meta, in + "/a.tar.zst");
  auto b = write_snapshot_archive(tmp / "state", meta, in + "/b.tar.zst");
  EXPECT_EQ(a.archive_sha256, b.archive_sha256);
}

TEST_F(SnapshotArchiveTest, AnEmptyStateDirectoryIsASnapshotToo) {
  sfs::create_directories(tmp / "state");
  SnapshotMeta meta;
  auto w = write_snapshot_archive(tmp / "state", meta, in + "/e.tar.zst");
  EXPECT_EQ(w.files, 0u);
  auto r = read_snapshot_archive(in + "/e.tar.zst", target);
  EXPECT_EQ(r.files, 0u);
  EXPECT_TRUE(sfs::is_directory(target));
  EXPECT_TRUE(sfs::is_empty(target));
}

TEST_F(SnapshotArchiveTest, TheTarCliExtractsOurArchive) {
  make_tree(tmp / "state", sample_state());
  SnapshotMeta meta;
  meta.seq = 77;
  write_snapshot_archive(tmp / "state", meta, in + "/snap.tar.zst");
  sfs::create_directories(tmp / "cli");
  ASSERT_EQ(run_command("tar --zstd -xf '" + in + "/snap.tar.zst' -C '" + tmp / "cli" + "'"), 0);
  EXPECT_EQ(tree_of(tmp / "cli/state"), tree_of(tmp / "state"));
  auto j = nlohmann::json::parse(read_file(tmp / "cli/strata-snapshot.json"));
  EXPECT_EQ(j["seq"], 77);
  EXPECT_EQ(j["version"], 1);
  // The file list names every file with its SHA-256.
  std::string list = read_file(tmp / "cli/strata-files.jsonl");
  EXPECT_NE(list.find(sha256_hex(sample_state()["config/big.bin"])), std::string::npos);
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 5);
}

TEST_F(SnapshotArchiveTest, WeReadWhatTheTarCliWrites) {
  // An operator-made snapshot: the header, the state, the list, in that order.
  const Files state = sample_state();
  make_tree(tmp / "hand/state", state);
  std::string list;
  for (const auto& [rel, data] : state)
    list +=
        nlohmann::json{{"path", rel}, {"size", data.size()}, {"sha256", sha256_hex(data)}}.dump() +
        "\n";
  write_file(tmp / "hand/strata-files.jsonl", list);
  write_file(tmp / "hand/strata-snapshot.json", header(42).data);
  for (std::string format : {"posix", "gnu", "ustar"}) {
    SCOPED_TRACE(format);
    const std::string archive = in + "/" + format + ".tar.zst";
    ASSERT_EQ(run_command("tar --zstd --format=" + format + " -cf '" + archive + "' -C '" +
                          tmp / "hand" + "' strata-snapshot.json state strata-files.jsonl"),
              0);
    auto r = read_snapshot_archive(archive, target);
    EXPECT_EQ(r.meta.seq, 42u);
    EXPECT_EQ(r.files, state.size());
    EXPECT_EQ(tree_of(target), tree_of(tmp / "hand/state"));
    sfs::remove_all(target);
  }
}

TEST_F(SnapshotArchiveTest, TheWriterSkipsWhatIsNotStateAndSaysSo) {
  make_tree(tmp / "state", {{"a/ok", "1"}, {"bad name", "2"}});
  sfs::create_symlink("/etc/passwd", tmp / "state/link");
  ASSERT_EQ(::mkfifo((tmp / "state/fifo").c_str(), 0644), 0);
  auto w = write_snapshot_archive(tmp / "state", SnapshotMeta{}, in + "/s.tar.zst");
  EXPECT_EQ(w.files, 1u);
  std::map<std::string, std::string> skipped;
  for (const auto& s : w.skipped) skipped[s.path] = s.reason;
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_NE(skipped["link"].find("symlink"), std::string::npos);
  EXPECT_NE(skipped["fifo"].find("not a regular file"), std::string::npos);
  EXPECT_NE(skipped["bad name"].find("bad name"), std::string::npos);
  read_snapshot_archive(in + "/s.tar.zst", target);
  EXPECT_EQ(tree_of(target), (Files{{"a/", "<dir>"}, {"a/ok", "1"}}));
}

TEST_F(SnapshotArchiveTest, AFailedWriteLeavesThePreviousArchiveAndNoTemporaryFile) {
  make_tree(tmp / "state", sample_state());
  write_file(in + "/snap.tar.zst", "previous");
  FaultInjectionFileSystem faulty;
  FaultRule rule;
  rule.op = FsOp::kSync;
  rule.path_contains = std::string(kTempMarker);
  faulty.add_rule(rule);
  SnapshotWriteOptions o;
  o.fs = &faulty;
  EXPECT_THROW(write_snapshot_archive(tmp / "state", SnapshotMeta{}, in + "/snap.tar.zst", o),
               Error);
  EXPECT_EQ(tree_of(in), (Files{{"snap.tar.zst", "previous"}}));
  EXPECT_THROW(write_snapshot_archive(tmp / "nope", SnapshotMeta{}, in + "/x.tar.zst"), Error);
  EXPECT_EQ(tree_of(in), (Files{{"snap.tar.zst", "previous"}}));
}

TEST_F(SnapshotArchiveTest, ACraftedArchiveLikeOursIsAccepted) {
  // The baseline the hostile cases below differ from in one member.
  std::vector<Member> m = {header(), dir("state/"), file("state/a/b", "hello"),
                           file("state/c", "")};
  m.push_back(list_for(m));
  auto r = read_snapshot_archive(put(craft(m)), target);
  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(tree_of(target), (Files{{"a/", "<dir>"}, {"a/b", "hello"}, {"c", ""}}));
  sfs::remove_all(target);
  r = read_snapshot_archive(put(craft(m, /*zstd=*/false)), target);  // plain tar is read too
  EXPECT_EQ(r.files, 2u);
}

struct HostileCase {
  const char* what;
  std::vector<Member> members;  // between the header and the file list
  ErrorCode code;
  const char* says;
};

TEST_F(SnapshotArchiveTest, HostileMembersAreRefusedByName) {
  const std::string abs_evil = outside + "/evil";
  const std::vector<HostileCase> cases = {
      {"absolute path", {file(abs_evil, "x")}, ErrorCode::kInvalidPath, "an absolute path"},
      {"dot-dot inside state", {file("state/../evil", "x")}, ErrorCode::kInvalidPath, "'..'"},
      {"dot-dot deeper", {file("state/a/../../evil", "x")}, ErrorCode::kInvalidPath, "'..'"},
      {"dot-dot at the start", {file("../evil", "x")}, ErrorCode::kInvalidPath, "outside state/"},
      {"outside state", {file("other/evil", "x")}, ErrorCode::kInvalidPath, "'other/evil'"},
      {"symlink then a file through it",
       {Member{"state/link", AE_IFLNK, "", outside}, file("state/link/evil", "x")},
       ErrorCode::kInvalidPath,
       "'state/link' is a symlink"},
      {"hard link",
       {Member{"state/h", AE_IFREG, "", abs_evil, true}},
       ErrorCode::kInvalidPath,
       "'state/h' is a hard link"},
      {"character device",
       {Member{"state/dev", AE_IFCHR, ""}},
       ErrorCode::kInvalidPath,
       "'state/dev' is a character device"},
      {"block device",
       {Member{"state/blk", AE_IFBLK, ""}},
       ErrorCode::kInvalidPath,
       "'state/blk' is a block device"},
      {"fifo",
       {Member{"state/fifo", AE_IFIFO, ""}},
       ErrorCode::kInvalidPath,
       "'state/fifo' is a FIFO"},
      {"name outside the path rules",
       {file("state/a b", "x")},
       ErrorCode::kInvalidPath,
       "'state/a b' is not a state path"},
      {"duplicate file",
       {file("state/d", "1"), file("state/d", "2")},
       ErrorCode::kInvalidPath,
       "'state/d' is a second member"},
      {"file under a file",
       {file("state/f", "1"), file("state/f/evil", "2")},
       ErrorCode::kInvalidPath,
       "'state/f/evil' is under 'f'"},
      {"directory over a file",
       {file("state/g", "1"), dir("state/g/")},
       ErrorCode::kInvalidPath,
       "'state/g/'"},
      {"file over a directory",
       {dir("state/k/"), file("state/k", "1")},
       ErrorCode::kInvalidPath,
       "'state/k' is a second member"},
      {"a file named state", {file("state", "1")}, ErrorCode::kInvalidPath, "'state'"},
      {"member after the list", {}, ErrorCode::kSnapshotInvalid, "follows the file list"},
  };
  // The same refusals when recovery skips members its log replaces (no
  // skipped file is on the disk to be in another member's way).
  SnapshotReadOptions skip_all;
  skip_all.skip_file = [](std::string_view) { return true; };
  for (const SnapshotReadOptions& options : {SnapshotReadOptions{}, skip_all}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(fmt::format("{}{}", c.what, options.skip_file ? ", members skipped" : ""));
      std::vector<Member> m = {header(), dir("state/")};
      m.insert(m.end(), c.members.begin(), c.members.end());
      m.push_back(list_for(m));
      if (std::string(c.what) == "member after the list") m.push_back(file("state/late", "x"));
      const std::string bytes = craft(m);
      const auto names = names_in(bytes);
      for (const auto& member : m)
        ASSERT_NE(std::find(names.begin(), names.end(), member.name), names.end())
            << "the crafted archive lost " << member.name;
      expect_refused(bytes, c.code, c.says, options);
    }
  }
}

TEST_F(SnapshotArchiveTest, SkippedMembersAreCheckedButNotWritten) {
  std::vector<Member> m = {header(), dir("state/"), file("state/a/b", "hello"),
                           file("state/a/c", "world"), file("state/d", "kept")};
  m.push_back(list_for(m));
  SnapshotReadOptions o;
  o.skip_file = [](std::string_view rel) { return rel == "a/b" || rel == "d"; };
  auto r = read_snapshot_archive(put(craft(m)), target, o);
  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.files_skipped, 2u);
  EXPECT_EQ(tree_of(target), (Files{{"a/", "<dir>"}, {"a/c", "world"}}));
  sfs::remove_all(target);

  // A skipped member still has to match the file list.
  std::vector<Member> bad = {header(), dir("state/"), file("state/a/b", "hellO"),
                             file("state/a/c", "world"), file("state/d", "kept")};
  bad.push_back(list_for(m));
  expect_refused(craft(bad), ErrorCode::kSnapshotInvalid, "'state/a/b' does not match", o);
}

TEST_F(SnapshotArchiveTest, ArchivesThatAreNotASnapshotAreRefused) {
  std::vector<Member> body = {dir("state/"), file("state/a", "hello")};
  auto with = [&](std::vector<Member> m) {
    m.push_back(list_for(m));
    return craft(m);
  };
  {
    SCOPED_TRACE("no header");
    expect_refused(with(body), ErrorCode::kSnapshotInvalid, "not the header strata-snapshot.json");
  }
  {
    SCOPED_TRACE("future version");
    std::vector<Member> m = {header(5, 2)};
    m.insert(m.end(), body.begin(), body.end());
    expect_refused(with(m), ErrorCode::kSnapshotInvalid, "version 2 is from the future");
  }
  {
    SCOPED_TRACE("header not JSON");
    std::vector<Member> m = {file(std::string(kSnapshotHeaderName), "{nope")};
    m.insert(m.end(), body.begin(), body.end());
    expect_refused(with(m), ErrorCode::kSnapshotInvalid, "is not JSON");
  }
  {
    SCOPED_TRACE("no file list");
    std::vector<Member> m = {header()};
    m.insert(m.end(), body.begin(), body.end());
    expect_refused(craft(m), ErrorCode::kSnapshotInvalid, "without the file list");
  }
  {
    SCOPED_TRACE("garbage");
    expect_refused(std::string(4096, 'z'), ErrorCode::kSnapshotInvalid, "not a readable");
  }
  {
    SCOPED_TRACE("empty file");
    expect_refused("", ErrorCode::kSnapshotInvalid, "empty");
  }
}

TEST_F(SnapshotArchiveTest, AFileListThatDoesNotMatchIsRefused) {
  std::vector<Member> m = {header(), dir("state/"), file("state/a", "hello"), file("state/b", "x")};
  const std::string good_a =
      nlohmann::json{{"path", "a"}, {"size", 5}, {"sha256", sha256_hex("hello")}}.dump();
  const std::string good_b =
      nlohmann::json{{"path", "b"}, {"size", 1}, {"sha256", sha256_hex("x")}}.dump();
  auto with_list = [&](std::string text) {
    auto all = m;
    all.push_back({std::string(kSnapshotFileListName), AE_IFREG, std::move(text)});
    return craft(all);
  };
  const std::string bad_hash =
      nlohmann::json{{"path", "a"}, {"size", 5}, {"sha256", sha256_hex("HELLO")}}.dump();
  expect_refused(with_list(bad_hash + "\n" + good_b + "\n"), ErrorCode::kSnapshotInvalid,
                 "'state/a' does not match");
  expect_refused(with_list(good_b + "\n"), ErrorCode::kSnapshotInvalid, "'state/a' is not in");
  const std::string extra =
      nlohmann::json{{"path", "zz"}, {"size", 1}, {"sha256", sha256_hex("x")}}.dump();
  expect_refused(with_list(good_a + "\n" + good_b + "\n" + extra + "\n"),
                 ErrorCode::kSnapshotInvalid, "lists 'zz', which the snapshot does not hold");
  expect_refused(with_list(good_a + "\n" + good_a + "\n" + good_b + "\n"),
                 ErrorCode::kSnapshotInvalid, "lists 'a' twice");
  expect_refused(with_list("[1,2]\n"), ErrorCode::kSnapshotInvalid, "malformed line");
  // Sanity: the same archive with the right list is accepted.
  read_snapshot_archive(put(with_list(good_a + "\n" + good_b + "\n")), target);
}

TEST_F(SnapshotArchiveTest, LimitsAndFreeSpaceAreEnforcedPerMember) {
  std::vector<Member> m = {header(7, 1, "L1"), dir("state/"),
                           file("state/a", std::string(100, 'a')),
                           file("state/big", std::string(2000, 'b'))};
  m.push_back(list_for(m));
  const std::string bytes = craft(m);
  SnapshotReadOptions o;
  o.max_file_bytes = 1999;
  expect_refused(bytes, ErrorCode::kSnapshotInvalid, "'state/big' is 2000 bytes", o);
  o = {};
  o.max_total_bytes = 2099;
  expect_refused(bytes, ErrorCode::kSnapshotInvalid, "'state/big' takes the content past", o);
  o = {};
  o.max_files = 1;
  expect_refused(bytes, ErrorCode::kSnapshotInvalid, "'state/big' is past the limit of 1 files", o);
  o = {};
  o.max_archive_bytes = bytes.size() - 1;
  expect_refused(bytes, ErrorCode::kSnapshotInvalid, "larger than the", o);
  o = {};
  o.expect_sha256 = sha256_hex("something else");
  expect_refused(bytes, ErrorCode::kSnapshotInvalid, "SHA-256", o);
  o = {};
  o.expect_lineage = "L2";
  expect_refused(bytes, ErrorCode::kSnapshotInvalid, "lineage 'L1', expected 'L2'", o);
  o = {};
  o.expect_seq = 8;
  expect_refused(bytes, ErrorCode::kSnapshotInvalid, "seq 7, expected 8", o);

  FaultInjectionFileSystem small;
  small.set_free_bytes(1500);
  o = {};
  o.fs = &small;
  expect_refused(bytes, ErrorCode::kDiskFull, "'state/big' (2000 bytes) does not fit", o);
  small.set_free_bytes(3000);
  o.reserve_free_bytes = 1000;
  expect_refused(bytes, ErrorCode::kDiskFull, "'state/big'", o);
  o.reserve_free_bytes = 0;
  EXPECT_EQ(read_snapshot_archive(put(bytes), target, o).files, 2u);
}

TEST_F(SnapshotArchiveTest, AFailingDiskDuringExtractionLeavesNothing) {
  make_tree(tmp / "state", sample_state());
  write_snapshot_archive(tmp / "state", SnapshotMeta{}, in + "/snap.tar.zst");
  FaultInjectionFileSystem faulty;
  faulty.add_rule(testing::fault(FsOp::kWrite, "out/target/learnings", 0, -1, ENOSPC));
  SnapshotReadOptions o;
  o.fs = &faulty;
  try {
    read_snapshot_archive(in + "/snap.tar.zst", target, o);
    ADD_FAILURE() << "a failing write was not reported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIoError) << e.what();
    EXPECT_NE(std::string(e.what()).find("learnings/deep/er/note.md"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(sfs::is_empty(out));
  EXPECT_GT(faulty.count(FsOp::kWrite), 0u);
}

TEST_F(SnapshotArchiveTest, ATruncatedArchiveIsRefusedWhereverItIsCut) {
  make_tree(tmp / "state", sample_state());
  write_snapshot_archive(tmp / "state", SnapshotMeta{}, in + "/full.tar.zst");
  const std::string full = read_file(in + "/full.tar.zst");
  for (size_t cut :
       {size_t{10}, full.size() / 3, full.size() / 2, full.size() - 100, full.size() - 1}) {
    SCOPED_TRACE(cut);
    expect_refused(full.substr(0, cut), ErrorCode::kSnapshotInvalid, "snapshot refused");
  }
}

TEST_F(SnapshotArchiveTest, RandomDamageNeverCrashesAndNeverWritesOutside) {
  // Damage the tar stream itself (uncompressed, so each change reaches the
  // tar parser rather than failing zstd's checksum).
  std::vector<Member> m = {header(),
                           dir("state/"),
                           file("state/a/b", std::string(700, 'q')),
                           file("state/c", "see"),
                           dir("state/d/"),
                           file("state/d/e", "e")};
  m.push_back(list_for(m));
  const std::string clean = craft(m, /*zstd=*/false);
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int i = 0; i < 400; ++i) {
    std::string bytes = clean;
    const int changes = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < changes; ++k) {
      size_t at = rng() % bytes.size();
      bytes[at] = static_cast<char>(rng() % 4 == 0 ? '/' : rng() % 4 == 1 ? '.' : rng());
    }
    if (rng() % 10 == 0) bytes.resize(rng() % bytes.size());
    write_file(in + "/m.tar", bytes);
    try {
      read_snapshot_archive(in + "/m.tar", target);
      accepted++;
      // Accepted means it passed every check: only state paths were written.
      for (const auto& e : sfs::recursive_directory_iterator(target))
        EXPECT_TRUE(e.is_regular_file() || e.is_directory()) << e.path();
      sfs::remove_all(target);
    } catch (const Error&) {
      EXPECT_FALSE(sfs::exists(target));
    }
    ASSERT_TRUE(sfs::is_empty(out)) << "iteration " << i;
    ASSERT_EQ(tree_of(outside), (Files{{"keep.txt", "untouched"}}));
  }
  // Most damage is caught; some (in padding, say) is harmless and accepted.
  EXPECT_LT(accepted, 400);
}

}  // namespace
}  // namespace strata::sync
