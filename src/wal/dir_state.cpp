#include "wal/dir_state.h"

#include <charconv>

#include <fmt/format.h>

#include "common/random_id.h"
#include "strata/error.h"
#include "strata/hash.h"

namespace strata::wal {
namespace {

constexpr std::string_view kMarksMagic = "strata-wal-marks 1";
constexpr size_t kMaxSmallFile = 64 * 1024;

std::string read_small(FileSystem& fs, const std::string& path) {
  return read_small_file(fs, path, kMaxSmallFile).value_or("");
}

bool parse_u64(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 20 || s[0] == '+' || s[0] == '-') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

bool is_hex_id(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

void validate_tier_name(std::string_view name) {
  if (name.empty() || name.size() > 32 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string_view::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("tier name '{}' is not 1-32 characters of [a-z0-9_-]", name));
  }
}

uint64_t random_u64() {
  uint64_t v = 0;
  random_bytes(&v, sizeof v);
  return v;
}

std::string new_history_id() {
  return random_hex(8);
}

std::string read_history_id(FileSystem& fs, const std::string& dir) {
  const std::string path = dir + "/" + std::string(kHistoryFile);
  std::string id = read_small(fs, path);
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  return id;
}

void write_history_id(FileSystem& fs, const std::string& dir, const std::string& id) {
  write_file_atomically(fs, dir + "/" + std::string(kHistoryFile), id + "\n");
}

std::string encode_marks(const Marks& m) {
  std::string text = fmt::format("{}\nhistory {}\n", kMarksMagic, m.history_id);
  for (const auto& [tier, seq] : m.seqs) text += fmt::format("tier {} {}\n", tier, seq);
  text += fmt::format("crc32c {:08x}\n", crc32c(text.data(), text.size()));
  return text;
}

std::optional<Marks> decode_marks(std::string_view text, std::string* problem) {
  auto bad = [&](std::string why) -> std::optional<Marks> {
    *problem = std::move(why);
    return std::nullopt;
  };
  // The checksum line is last and covers everything before it.
  if (!text.ends_with('\n')) return bad("does not end with a newline (cut short?)");
  const size_t crc_at = text.rfind("crc32c ");
  if (crc_at == std::string_view::npos || (crc_at > 0 && text[crc_at - 1] != '\n')) {
    return bad("no crc32c line");
  }
  const std::string_view crc_hex = text.substr(crc_at + 7, text.size() - crc_at - 8);
  uint32_t want = 0;
  auto [end, ec] = std::from_chars(crc_hex.data(), crc_hex.data() + crc_hex.size(), want, 16);
  if (ec != std::errc() || end != crc_hex.data() + crc_hex.size() || crc_hex.size() != 8) {
    return bad("malformed crc32c line");
  }
  if (crc32c(text.data(), crc_at) != want) return bad("crc32c mismatch");

  Marks m;
  std::string_view body = text.substr(0, crc_at);
  size_t line_no = 0;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    line_no++;
    if (line_no == 1) {
      if (line != kMarksMagic) return bad(fmt::format("unknown format '{}'", line));
      continue;
    }
    if (line_no == 2) {
      if (!line.starts_with("history ") || !is_hex_id(line.substr(8))) {
        return bad("line 2 is not 'history <hex id>'");
      }
      m.history_id = std::string(line.substr(8));
      continue;
    }
    // "tier <name> <seq>"
    const size_t sp = line.find(' ', 5);
    uint64_t seq = 0;
    if (!line.starts_with("tier ") || sp == std::string_view::npos ||
        !parse_u64(line.substr(sp + 1), &seq)) {
      return bad(fmt::format("line {} is not 'tier <name> <seq>'", line_no));
    }
    const std::string_view name = line.substr(5, sp - 5);
    try {
      validate_tier_name(name);
    } catch (const Error& e) {
      return bad(fmt::format("line {}: {}", line_no, e.what()));
    }
    if (!m.seqs.emplace(std::string(name), seq).second) {
      return bad(fmt::format("tier {} appears twice", name));
    }
  }
  if (line_no < 2) return bad("no history line");
  return m;
}

std::optional<Marks> read_marks(FileSystem& fs, const std::string& dir, std::string* problem) {
  const std::string path = dir + "/" + std::string(kMarksFile);
  problem->clear();
  if (!fs.exists(path)) return std::nullopt;
  if (const uint64_t size = fs.open(path, OpenMode::kRead)->size(); size > kMaxSmallFile) {
    *problem = fmt::format("{} bytes, more than a marks file holds", size);
    return std::nullopt;
  }
  return decode_marks(read_small(fs, path), problem);
}

void write_marks(FileSystem& fs, const std::string& dir, const Marks& m) {
  write_file_atomically(fs, dir + "/" + std::string(kMarksFile), encode_marks(m));
}

}  // namespace strata::wal
