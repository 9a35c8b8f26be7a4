// The small files of a WAL directory besides the segments: HISTORY (the id
// of the log's history) and MARKS (what each remote tier has confirmed, and
// the history those marks belong to). docs/format.md has the byte layout.
//
// Contract: every write is atomic and durable before it returns
// (write_file_atomically: temp file, fsync, rename, directory fsync), so
// after a crash or power loss a reader finds the old content or the new one,
// never a mix. Reads never write.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "strata/fs.h"

namespace strata::wal {

inline constexpr std::string_view kHistoryFile = "HISTORY";
inline constexpr std::string_view kMarksFile = "MARKS";

using MarkMap = std::map<std::string, uint64_t, std::less<>>;

struct Marks {
  std::string history_id;  // the history the marks were confirmed in
  MarkMap seqs;            // tier -> highest seq it holds
};

// Throws kInvalidArgument unless name matches [a-z0-9_-]{1,32}.
void validate_tier_name(std::string_view name);

// 16 lowercase hex digits from the shared random-id generator.
std::string new_history_id();
uint64_t random_u64();

// The history id in dir/HISTORY; empty if the file is missing or empty.
std::string read_history_id(FileSystem& fs, const std::string& dir);
void write_history_id(FileSystem& fs, const std::string& dir, const std::string& id);

std::string encode_marks(const Marks& m);
// nullopt (and *problem says why) unless text is a whole, intact marks file.
std::optional<Marks> decode_marks(std::string_view text, std::string* problem);

// dir/MARKS: nullopt if the file is missing; nullopt with *problem set if it
// is damaged.
std::optional<Marks> read_marks(FileSystem& fs, const std::string& dir, std::string* problem);
void write_marks(FileSystem& fs, const std::string& dir, const Marks& m);

}  // namespace strata::wal
