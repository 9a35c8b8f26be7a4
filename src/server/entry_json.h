// Entries as the HTTP API reads and writes them (docs/api.md): the same JSON
// shape as `strata get` and `strata replay`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "strata/entry.h"

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

// {"error": {"code": "...", "message": "..."}}
std::string error_body(std::string_view code, std::string_view message);

}  // namespace strata::server
