// Helpers shared by the command files: strict number options and the
// "does the WAL exist" check of read-only commands.
#include <charconv>

#include <fmt/format.h>

#include "cli/cli.h"
#include "strata/error.h"
#include "strata/fs.h"
#include "strata/server.h"

namespace strata::cli {

namespace {

std::string check_unsigned(const std::string& text, uint64_t min) {
  uint64_t v = 0;
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (!digits || ec != std::errc() || end != text.data() + text.size()) {
    if (digits) return fmt::format("'{}' is larger than {}", text, UINT64_MAX);
    return fmt::format("'{}' is not a whole number 0..{}", text, UINT64_MAX);
  }
  if (v < min) return fmt::format("'{}' must be at least {}", text, min);
  return "";
}

}  // namespace

const CLI::Validator& unsigned_number() {
  static const CLI::Validator v([](std::string& s) { return check_unsigned(s, 0); }, "UINT");
  return v;
}

const CLI::Validator& positive_number() {
  static const CLI::Validator v([](std::string& s) { return check_unsigned(s, 1); }, "UINT>0");
  return v;
}

void require_existing_wal(const Context& ctx) {
  FileSystem& fs = FileSystem::real();
  if (!is_directory_following_links(fs, ctx.data_dir)) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("no data directory {} (set DATA_DIR or --data-dir)", ctx.data_dir));
  }
  if (!is_directory_following_links(fs, ctx.wal_dir())) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("no WAL in {}: {} does not exist (nothing was appended yet)",
                            ctx.data_dir, ctx.wal_dir()));
  }
}

std::string Context::local_remote_dir() const {
  return server::local_remote_dir(data_dir);
}

}  // namespace strata::cli
