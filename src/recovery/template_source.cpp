#include "recovery/template_source.h"

#include <fmt/format.h>

#include "strata/entry.h"
#include "strata/error.h"

namespace strata::recovery {

namespace {

uint64_t copy_dir(Dir& from, Dir& to, const std::string& rel, std::vector<std::string>* skipped,
                  std::vector<char>& buf) {
  uint64_t files = 0;
  for (const std::string& name : from.list()) {
    const std::string path = rel.empty() ? name : rel + "/" + name;
    const auto info = from.stat(name);
    if (!info) continue;
    try {
      validate_entry_path(path);
    } catch (const Error& e) {
      skipped->push_back(fmt::format("{}: {}", path, e.what()));
      continue;
    }
    if (info->kind == FileKind::kDirectory) {
      auto sub = from.open_dir(name);
      if (!sub) continue;
      to.make_dir(name, 0755);
      auto out = to.open_dir(name);
      files += copy_dir(*sub, *out, path, skipped, buf);
    } else if (info->kind == FileKind::kRegular) {
      auto in = from.open_file(name, OpenMode::kRead);
      if (!in) continue;
      auto out = to.open_file(name, OpenMode::kCreate, 0644);
      if (!out) throw Error(ErrorCode::kIoError, fmt::format("{}: exists in the copy", path));
      uint64_t at = 0;
      while (size_t n = in->pread(buf.data(), buf.size(), at)) {
        out->pwrite(buf.data(), n, at);
        at += n;
      }
      files++;
    } else {
      skipped->push_back(fmt::format(
          "{}: {}", path, info->kind == FileKind::kSymlink ? "a symlink" : "not a regular file"));
    }
  }
  return files;
}

}  // namespace

Offer probe_template(RunContext& ctx) {
  Offer o;
  if (!begin_offer(o, RecoverySource::kTemplate, !ctx.config.template_dir.empty(),
                   "not configured (RECOVERY_TEMPLATE_DIR)")) {
    return o;
  }
  if (!is_directory_following_links(ctx.fs, ctx.config.template_dir)) {
    o.error = Error(ErrorCode::kNotFound, fmt::format("RECOVERY_TEMPLATE_DIR {} is not a directory",
                                                      ctx.config.template_dir));
    o.line = describe(*o.error);
    return o;
  }
  o.reachable = true;
  o.has_data = true;
  o.line = fmt::format("template {}", ctx.config.template_dir);
  return o;
}

uint64_t copy_template(RunContext& ctx, const std::string& to_dir,
                       std::vector<std::string>* skipped) {
  auto from = ctx.fs.open_dir(ctx.config.template_dir);
  if (!from)
    throw Error(ErrorCode::kNotFound,
                fmt::format("RECOVERY_TEMPLATE_DIR {} vanished", ctx.config.template_dir));
  create_directories(ctx.fs, to_dir);
  auto to = ctx.fs.open_dir(to_dir);
  std::vector<char> buf(1 << 20);
  return copy_dir(*from, *to, "", skipped, buf);
}

}  // namespace strata::recovery
