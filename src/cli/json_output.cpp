#include "cli/json_output.h"

#include "server/entry_json.h"

namespace strata::cli {

// The daemon's API and the CLI print the same shapes.
nlohmann::json entry_json(const EntryView& e) {
  return server::entry_to_json(e);
}

nlohmann::json status_json(const WalStatus& s) {
  return server::wal_status_json(s);
}

nlohmann::json metrics_json(const WalMetrics& m) {
  return {{"appends", m.appends},
          {"append_batches", m.append_batches},
          {"bytes_written", m.bytes_written},
          {"fsyncs", m.fsyncs},
          {"group_commits", m.group_commits},
          {"mean_group_size", m.mean_group_size()},
          {"max_group_size", m.max_group_size},
          {"rotations", m.rotations},
          {"compactions", m.compactions},
          {"compaction_entries_dropped", m.compaction_entries_dropped},
          {"rejected_writes", m.rejected_writes},
          {"corrupt_records_skipped", m.corrupt_records_skipped},
          {"torn_bytes_dropped", m.torn_bytes_dropped},
          {"replayed_entries", m.replayed_entries}};
}

nlohmann::json segment_json(const SegmentInfo& s) {
  nlohmann::json j = {{"file", s.file},           {"base_seq", s.base_seq},
                      {"first_seq", s.first_seq}, {"last_seq", s.last_seq},
                      {"entries", s.entries},     {"bytes", s.bytes},
                      {"sealed", s.sealed}};
  if (s.sealed) j["sha256"] = s.sha256;
  return j;
}

}  // namespace strata::cli
