#include "wal_open_property.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "properties.h"
#include "property_support.h"
#include "strata/error.h"
#include "strata/wal.h"

namespace strata::fuzz {

std::string entry_data(uint64_t seq) {
  std::string d = fmt::format("entry-{}:", seq);
  d.append(seq * 7 % 97, static_cast<char>('a' + seq % 26));
  return d;
}

std::string make_segment(uint64_t count) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / fmt::format("strata-seed-{}", ::getpid());
  fs::remove_all(dir);
  {
    WalOptions o;
    o.dir = dir.string();
    o.sync = SyncMode::kNone;
    auto wal = Wal::open(o);
    for (uint64_t i = 1; i <= count; ++i) {
      wal->append(Entry{0, 1000 + i, EntryType::kMemory, EntryOp::kUpdate,
                        fmt::format("m/{}", i % 5), entry_data(i)});
    }
    wal->close();
  }
  // The one segment the writer made (its name carries a random id).
  fs::path seg;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") seg = e.path();
  }
  std::ifstream in(seg, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove_all(dir);
  // Keep only header + records: drop the preallocated zeros after them.
  size_t end = bytes.find_last_not_of('\0');
  return bytes.substr(0, end == std::string::npos ? 0 : end + 1);
}

namespace {

// Bytes [32, offset_of_record_k) for a segment made by make_segment.
size_t record_end(uint64_t seq) {
  size_t off = 32;
  for (uint64_t i = 1; i <= seq; ++i) {
    off += 28 + fmt::format("m/{}", i % 5).size() + entry_data(i).size();
  }
  return off;
}

std::string open_and_check(const std::string& dir, size_t damage_from, uint64_t written,
                           bool skip) {
  WalOptions o;
  o.dir = dir + "/wal";
  o.sync = SyncMode::kNone;
  o.skip_corrupt = skip;
  std::unique_ptr<Wal> wal;
  try {
    wal = Wal::open(o);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kWalCorrupt) return "";  // a refusal is allowed
    return fmt::format("open threw {} ({})", e.code_name(), e.what());
  }
  uint64_t prev = 0, present = 0;
  std::string problem;
  wal->replay_view(0, 0, [&](const EntryView& e) {
    if (e.seq <= prev || e.seq > written) {
      problem = fmt::format("seq {} after {} (written {})", e.seq, prev, written);
    } else if (e.data != entry_data(e.seq)) {
      problem = fmt::format("entry {} has data that was never written", e.seq);
    }
    prev = e.seq;
    present++;
    return problem.empty();
  });
  if (!problem.empty()) return problem;
  // Records wholly before the damage must all be there (and first).
  uint64_t intact = 0;
  while (intact < written && record_end(intact + 1) <= damage_from) intact++;
  if (!skip && present < intact) {
    return fmt::format("only {} entries after open, {} lie before the damage", present, intact);
  }
  // The WAL must accept a new entry right after what it kept.
  uint64_t seq = wal->append(Entry{0, 0, EntryType::kConfig, EntryOp::kCreate, "after", "x"});
  if (seq != wal->status().head_seq) return "append after open did not become the head";
  wal->close();
  return "";
}

}  // namespace

std::string check_open(const std::string& dir, const std::string& segment, size_t damage_from,
                       uint64_t written) {
  for (bool skip : {false, true}) {
    std::filesystem::remove_all(dir + "/wal");
    std::filesystem::create_directories(dir + "/wal");
    {
      std::ofstream out(dir + "/wal/00000000000000000001.seg", std::ios::binary);
      out.write(segment.data(), static_cast<std::streamsize>(segment.size()));
    }
    std::string problem = open_and_check(dir, damage_from, written, skip);
    if (!problem.empty()) return fmt::format("{} (skip_corrupt={})", problem, skip);
  }
  return "";
}

std::string check_wal_open(std::string_view input) {
  constexpr uint64_t kWritten = 40;
  static const std::string seed = [] {
    // Opening a damaged WAL warns about it: a line per input otherwise.
    spdlog::set_level(spdlog::level::err);
    return make_segment(kWritten);
  }();
  if (input.size() < 2) return "";
  // The first two bytes choose where the rest lands.
  const size_t at =
      (static_cast<size_t>(static_cast<uint8_t>(input[0])) << 8 | static_cast<uint8_t>(input[1])) %
      seed.size();
  std::string seg = seed;
  const std::string_view patch = input.substr(2);
  seg.replace(at, std::min(patch.size(), seg.size() - at), patch);
  size_t first_diff = 0;
  while (first_diff < std::min(seg.size(), seed.size()) && seg[first_diff] == seed[first_diff]) {
    first_diff++;
  }
  return check_open(scratch_dir() + "/wal_open", seg, first_diff, kWritten);
}

}  // namespace strata::fuzz
