// The lineage id lives with the file-system seam because it is a file of the
// data directory and nothing more: every layer that labels data may read it.
#include "strata/lineage.h"

#include <fmt/format.h>

#include "common/random_id.h"
#include "strata/error.h"

namespace strata::lineage {

namespace {

bool is_legacy_hex_id(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string path_in(const std::string& data_dir) {
  return data_dir + "/" + std::string(kFileName);
}

}  // namespace

bool is_valid(std::string_view id) {
  return is_ulid(id) || is_legacy_hex_id(id);
}

std::optional<std::string> read(FileSystem& fs, const std::string& data_dir) {
  const std::string path = path_in(data_dir);
  auto text = read_small_file(fs, path, 256);
  if (!text) return std::nullopt;
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  if (!is_valid(*text)) {
    throw Error(ErrorCode::kIoError,
                fmt::format("{}: expected a lineage id (a 26-character ULID, or 32 lowercase hex "
                            "digits from an earlier version)",
                            path));
  }
  return text;
}

std::string load_or_create(FileSystem& fs, const std::string& data_dir) {
  if (auto id = read(fs, data_dir)) return *id;
  create_directories(fs, data_dir);
  const std::string id = new_ulid();
  if (create_file_atomically(fs, path_in(data_dir), id + "\n")) return id;
  // Another process made it first: theirs is the id.
  if (auto theirs = read(fs, data_dir)) return *theirs;
  throw Error(ErrorCode::kIoError,
              fmt::format("{}: could not be read or created", path_in(data_dir)));
}

}  // namespace strata::lineage
