#include "cli/json_output.h"

#include "strata/hash.h"
#include "strata/utf8.h"

namespace strata::cli {

nlohmann::json entry_json(const EntryView& e) {
  nlohmann::json j;
  j["seq"] = e.seq;
  j["timestamp"] = e.timestamp_ms;
  j["type"] = entry_type_name(e.type);
  j["op"] = entry_op_name(e.op);
  j["path"] = e.path;
  if (is_valid_utf8(e.data)) {
    j["data"] = e.data;
  } else {
    j["data_b64"] = base64_encode(e.data);
  }
  j["sha256"] = sha256_hex(e.data);
  return j;
}

nlohmann::json status_json(const WalStatus& s) {
  nlohmann::json tiers = nlohmann::json::array();
  for (const auto& t : s.tiers) {
    tiers.push_back({{"tier", t.tier}, {"confirmed_seq", t.seq}, {"registered", t.registered}});
  }
  return {{"dir", s.dir},
          {"open", s.open},
          {"stopped", s.stopped},
          {"stop_reason", s.stop_reason},
          {"sync", sync_mode_name(s.sync)},
          {"head_seq", s.head_seq},
          {"first_seq", s.first_seq},
          {"durable_seq", s.durable_seq},
          {"segments", s.segments},
          {"total_bytes", s.total_bytes},
          {"disk_pressure", disk_pressure_name(s.pressure)},
          {"low_free_space", s.low_free_space},
          {"free_bytes", s.free_bytes},
          {"retention_floor", s.retention_floor},
          {"tiers", tiers}};
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
