#include "recovery/state_check.h"

#include <vector>

#include <fmt/format.h>

#include "strata/hash.h"

namespace strata::recovery {

namespace {

void walk(Dir& dir, const std::string& rel, StateDigest& out, std::vector<char>& buf) {
  for (const std::string& name : dir.list()) {
    const std::string path = rel.empty() ? name : rel + "/" + name;
    const auto info = dir.stat(name);
    if (!info) continue;
    if (info->kind == FileKind::kDirectory) {
      if (auto sub = dir.open_dir(name)) walk(*sub, path, out, buf);
    } else if (info->kind == FileKind::kRegular) {
      auto f = dir.open_file(name, OpenMode::kRead);
      if (!f) continue;
      Sha256 sha;
      uint64_t at = 0;
      while (size_t n = f->pread(buf.data(), buf.size(), at)) {
        sha.update(buf.data(), n);
        at += n;
      }
      out[path] = to_hex(sha.finish());
    } else {
      out[path] = info->kind == FileKind::kSymlink ? "<symlink>" : "<special>";
    }
  }
}

void erase_below(StateDigest& d, const std::string& path) {
  const std::string prefix = path + "/";
  for (auto it = d.lower_bound(prefix); it != d.end() && it->first.starts_with(prefix);)
    it = d.erase(it);
}

}  // namespace

StateDigest digest_tree(FileSystem& fs, const std::string& dir) {
  StateDigest out;
  auto root = fs.open_dir(dir);
  if (!root) return out;
  std::vector<char> buf(1 << 20);
  walk(*root, "", out, buf);
  return out;
}

void apply_to_digest(StateDigest& d, const EntryView& e) {
  const std::string path(e.path);
  erase_below(d, path);
  d.erase(path);
  if (e.op == EntryOp::kDelete) return;
  // A file where a parent directory must be is replaced by the directory.
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
    d.erase(path.substr(0, slash));
  d[path] = to_hex(sha256(e.data));
}

ExpectedState::ExpectedState(const StateDigest& base, uint64_t pending_limit)
    : pending_limit_(pending_limit) {
  for (const auto& [path, sha] : base) files_.emplace_hint(files_.end(), path, File{true, sha});
}

void ExpectedState::hash(File& f) {
  if (f.hashed) return;
  pending_bytes_ -= f.value.size();
  f.value = to_hex(sha256(f.value));
  f.hashed = true;
}

void ExpectedState::erase(std::map<std::string, File>::iterator it) {
  if (!it->second.hashed) pending_bytes_ -= it->second.value.size();
  files_.erase(it);
}

void ExpectedState::hash_pending() {
  for (auto& [path, f] : files_) hash(f);
}

void ExpectedState::apply(const EntryView& e) {
  // The same rules as apply_to_digest.
  const std::string path(e.path);
  const std::string prefix = path + "/";
  for (auto it = files_.lower_bound(prefix); it != files_.end() && it->first.starts_with(prefix);)
    erase(it++);
  if (auto it = files_.find(path); it != files_.end()) erase(it);
  if (e.op == EntryOp::kDelete) return;
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (auto it = files_.find(path.substr(0, slash)); it != files_.end()) erase(it);
  }
  if (pending_bytes_ + e.data.size() > pending_limit_) hash_pending();
  files_.emplace(path, File{false, std::string(e.data)});
  pending_bytes_ += e.data.size();
}

StateDigest ExpectedState::finish() {
  StateDigest out;
  for (auto& [path, f] : files_) {
    hash(f);
    out.emplace_hint(out.end(), path, std::move(f.value));
  }
  files_.clear();
  return out;
}

std::optional<std::string> compare_digests(const StateDigest& expected, const StateDigest& actual) {
  auto a = actual.begin();
  for (const auto& [path, sha] : expected) {
    if (a != actual.end() && a->first < path)
      return fmt::format("state/{} is there but the snapshot and log do not make it", a->first);
    if (a == actual.end() || a->first != path) return fmt::format("state/{} is missing", path);
    if (a->second != sha)
      return fmt::format("state/{} has SHA-256 {}, the snapshot and log give {}", path, a->second,
                         sha);
    ++a;
  }
  if (a != actual.end())
    return fmt::format("state/{} is there but the snapshot and log do not make it", a->first);
  return std::nullopt;
}

}  // namespace strata::recovery
