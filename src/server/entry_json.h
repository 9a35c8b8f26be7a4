// The JSON shapes of entries and of the WAL's status, as the HTTP API reads
// and writes them (docs/api.md) and as the CLI prints them (`strata get`,
// `replay`, `status --json` use these same functions).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/entry.h"
#include "strata/wal.h"

namespace strata::server {

// The body of POST /v1/entries: one entry object, or {"entries": [...]}
// (at least one). Every field is checked before anything is appended:
// kInvalidArgument (malformed JSON, a missing, unknown or mistyped field, bad
// type/op/base64, data on a delete) or kInvalidPath, the message naming the
// field ("entries[2].path: ...").
struct ParsedEntries {
  std::vector<Entry> entries;
  bool batch = false;  // the {"entries": [...]} form
};
ParsedEntries parse_entries_body(std::string_view body);

// seq, timestamp, type, op, path, data (valid UTF-8) or data_b64, sha256.
nlohmann::json entry_to_json(const EntryView& e);
// The same, written into out as one line (for JSON-lines streaming).
void append_entry_line(const EntryView& e, std::string& out);

// dir, open, stopped, stop_reason, sync, head/first/durable seq, segments,
// total_bytes, disk_pressure, low_free_space, free_bytes, retention_floor and
// each tier's confirmed seq.
nlohmann::json wal_status_json(const WalStatus& s);

// {"error": {"code": "...", "message": "..."}}
std::string error_body(std::string_view code, std::string_view message);

}  // namespace strata::server
