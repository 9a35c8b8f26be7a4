#include "wal/tier_marks.h"

#include <algorithm>

#include <fmt/format.h>

namespace strata::wal {

TierMarks::TierMarks(const std::vector<std::string>& registered)
    : registered_(registered.begin(), registered.end()) {
  for (const auto& t : registered_) validate_tier_name(t);
}

uint64_t TierMarks::confirmed(std::string_view tier) const {
  auto it = marks_.find(tier);
  return it == marks_.end() ? 0 : it->second;
}

uint64_t TierMarks::floor() const {
  if (registered_.empty()) return 0;
  uint64_t floor = UINT64_MAX;
  for (const auto& t : registered_) floor = std::min(floor, confirmed(t));
  return floor;
}

std::optional<MarkMap> TierMarks::raised(std::string_view tier, uint64_t seq) const {
  auto it = marks_.find(tier);
  if (it != marks_.end() && it->second >= seq) return std::nullopt;
  MarkMap next = marks_;
  next[std::string(tier)] = seq;
  return next;
}

void TierMarks::clamp(uint64_t seq) {
  for (auto& [tier, mark] : marks_) mark = std::min(mark, seq);
}

void TierMarks::load(FileSystem& fs, const std::string& dir, const std::string& history_id,
                     uint64_t head, std::vector<std::string>& notes) {
  std::string problem;
  auto m = read_marks(fs, dir, &problem);
  if (!m) {
    if (!problem.empty()) {
      notes.push_back(fmt::format(
          "{}/MARKS is damaged ({}): every tier counts as having confirmed nothing until it "
          "confirms again",
          dir, problem));
    }
    return;
  }
  if (m->history_id != history_id) {
    // truncate_after writes HISTORY, then MARKS: it stopped in between, and
    // these marks may count entries the truncation removed.
    notes.push_back(
        fmt::format("{}/MARKS belongs to history {}, the log's is {}: its marks are "
                    "dropped",
                    dir, m->history_id, history_id));
    return;
  }
  for (auto& [tier, seq] : m->seqs) {
    if (seq > head) {
      notes.push_back(fmt::format(
          "tier {} confirmed seq {}, above the head {}: lowered to the head", tier, seq, head));
      seq = head;
    }
  }
  marks_ = std::move(m->seqs);
}

std::vector<TierMark> TierMarks::describe() const {
  std::vector<TierMark> out;
  for (const auto& t : registered_) out.push_back(TierMark{t, confirmed(t), true});
  for (const auto& [t, seq] : marks_) {
    if (!registered_.count(t)) out.push_back(TierMark{t, seq, false});
  }
  return out;
}

}  // namespace strata::wal

namespace strata {

std::vector<TierMark> Wal::read_tier_marks(const std::string& dir, FileSystem* fs_opt) {
  FileSystem& fs = fs_opt ? *fs_opt : FileSystem::real();
  std::vector<TierMark> out;
  if (!is_directory_following_links(fs, dir)) return out;
  std::string problem;
  auto m = wal::read_marks(fs, dir, &problem);
  if (!m || m->history_id != wal::read_history_id(fs, dir)) return out;
  for (const auto& [tier, seq] : m->seqs) out.push_back(TierMark{tier, seq, false});
  return out;
}

}  // namespace strata
