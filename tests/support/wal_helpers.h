// Helpers for black-box WAL, materializer and CLI tests: entries, byte-level
// access to files, and a snapshot of a directory's bytes.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/entry.h"
#include "strata/error.h"
#include "strata/testing/fault_injection_file_system.h"
#include "strata/wal.h"
#include "support/error_helpers.h"
#include "support/temp_dir.h"

namespace strata::testing {

inline Entry make_entry(std::string path, std::string data = "payload",
                        EntryOp op = EntryOp::kCreate, EntryType type = EntryType::kSession) {
  Entry e;
  e.type = type;
  e.op = op;
  e.path = std::move(path);
  e.data = std::move(data);
  return e;
}

// Options for a WAL in dir that never trips the free-space guard (tests that
// exercise it set their own marks).
inline WalOptions test_options(const std::string& dir) {
  WalOptions o;
  o.dir = dir;
  o.stop_free_bytes = 0;
  o.resume_free_bytes = 0;
  return o;
}

// Every regular file under dir (recursively), relative name -> bytes.
inline std::map<std::string, std::string> dir_bytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string rel = std::filesystem::relative(e.path(), dir).string();
    if (e.is_regular_file()) {
      out[rel] = read_file(e.path().string());
    } else if (e.is_directory()) {
      out[rel + "/"] = "<dir>";
    }
  }
  return out;
}

// Whether name is a segment file name: the base seq in 20 digits, then
// "-<16 hex digits>.seg" (or just ".seg", in directories written before
// names carried an id). docs/format.md, "Segment names".
inline bool is_segment_name(const std::string& name) {
  auto digits = [&](size_t from, size_t n, const char* set) {
    return name.find_first_not_of(set, from) >= from + n;
  };
  if (!name.ends_with(".seg") || !digits(0, 20, "0123456789")) return false;
  return name.size() == 24 ||
         (name.size() == 41 && name[20] == '-' && digits(21, 16, "0123456789abcdef"));
}

// Sorted names of the segment files in dir.
inline std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (is_segment_name(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The path of the segment file in dir whose base seq is base (the newest
// name if several), or "" if there is none.
inline std::string segment_path(const std::string& dir, uint64_t base) {
  std::string found;
  const std::string prefix = std::to_string(base);
  for (const auto& name : segment_files(dir)) {
    if (std::stoull(name.substr(0, 20)) == base) found = dir + "/" + name;
  }
  return found;
}

inline uint64_t file_size(const std::string& path) {
  return static_cast<uint64_t>(std::filesystem::file_size(path));
}

inline void truncate_file(const std::string& path, uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    throw std::runtime_error("truncate failed: " + path);
  }
}

// Overwrites bytes at offset without changing the file's size otherwise.
inline void patch_file(const std::string& path, uint64_t offset, const std::string& bytes) {
  std::string content = read_file(path);
  if (offset + bytes.size() > content.size()) content.resize(offset + bytes.size(), '\0');
  std::memcpy(content.data() + offset, bytes.data(), bytes.size());
  write_file(path, content);
}

inline void flip_byte(const std::string& path, uint64_t offset) {
  std::string content = read_file(path);
  if (offset >= content.size()) throw std::runtime_error("flip_byte past end");
  content[offset] = static_cast<char>(content[offset] ^ 0x5a);
  write_file(path, content);
}

inline uint32_t le32(const std::string& b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}
inline uint64_t le64(const std::string& b, size_t off) {
  uint64_t v;
  std::memcpy(&v, b.data() + off, 8);
  return v;
}

// Shell-quotes a string for run_command.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Format constants from docs/format.md (duplicated on purpose: the tests
// check the documented layout, not the implementation's constants).
constexpr uint64_t kSegHeaderBytes = 32;
constexpr uint64_t kRecordOverheadBytes = 8 + 20;  // crc, len, seq, ts, type, op, path_len
constexpr uint64_t kTrailerBytes = 88;
constexpr uint64_t kTrailerShaOffset = 48;  // the SHA-256 covers every byte before it

inline uint64_t record_bytes(const Entry& e) {
  return kRecordOverheadBytes + e.path.size() + e.data.size();
}

// A fixture for tests that write a small log, close it and then work on its
// bytes: entry(i) is "k/<i>" with 100 bytes of data.
class SmallLogTest : public ::testing::Test {
 protected:
  WalOptions opts() { return test_options(dir_); }
  Entry entry(uint64_t i) { return make_entry("k/" + std::to_string(i), std::string(100, 'x')); }
  // Appends n entries (seq 1..n) and closes; returns the active segment's
  // path and the offset just past the last record.
  std::pair<std::string, uint64_t> write_and_close(uint64_t n) {
    auto wal = Wal::open(opts());
    for (uint64_t i = 1; i <= n; ++i) EXPECT_EQ(wal->append(entry(i)), i);
    auto snap = wal->snapshot();
    wal->close();
    return {dir_ + "/" + snap.active.file, snap.active.bytes};
  }
  // Offset of record `seq` (1-based) in a fresh single-segment log of entry(i).
  uint64_t offset_of(uint64_t seq) {
    uint64_t off = kSegHeaderBytes;
    for (uint64_t i = 1; i < seq; ++i) off += record_bytes(entry(i));
    return off;
  }
  TempDir tmp_;
  std::string dir_ = tmp_ / "wal";
};

}  // namespace strata::testing
