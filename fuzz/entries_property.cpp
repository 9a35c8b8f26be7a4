// check_entries (properties.h).
#include <fmt/format.h>

#include "properties.h"
#include "property_support.h"
#include "server/entry_json.h"

namespace strata::fuzz {

namespace {

// The request body that asks for exactly these entries, written the way the
// API documents them (entry_to_json's fields an append takes).
std::string body_for(const server::ParsedEntries& p) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Entry& e : p.entries) {
    nlohmann::json j = server::entry_to_json(EntryView{0, 0, e.type, e.op, e.path, e.data});
    j.erase("seq");
    j.erase("timestamp");
    j.erase("sha256");
    arr.push_back(std::move(j));
  }
  return p.batch ? nlohmann::json{{"entries", arr}}.dump() : arr[0].dump();
}

std::string check_body(std::string_view body) {
  server::ParsedEntries p;
  try {
    p = server::parse_entries_body(body);
  } catch (const Error& e) {
    return check_refusal(e, {ErrorCode::kInvalidArgument, ErrorCode::kInvalidPath});
  } catch (const std::exception& e) {
    return fmt::format("threw a non-strata exception: {}", e.what());
  }
  if (p.entries.empty()) return "accepted a body with no entry";
  if (!p.batch && p.entries.size() != 1) return "a single entry parsed as several";
  for (const Entry& e : p.entries) {
    try {
      validate_entry_path(e.path);
    } catch (const Error& err) {
      return fmt::format("accepted a path the entry rules refuse: {}", err.what());
    }
    if (e.op == EntryOp::kDelete && !e.data.empty()) return "accepted a delete with data";
  }
  std::string again;
  try {
    again = body_for(p);
  } catch (const std::exception& e) {
    return fmt::format("accepted entries do not encode as JSON: {}", e.what());
  }
  server::ParsedEntries back;
  try {
    back = server::parse_entries_body(again);
  } catch (const Error& e) {
    return fmt::format("accepted entries, encoded again, are refused: {}", e.what());
  }
  if (back.entries != p.entries || back.batch != p.batch) {
    return "accepted entries do not survive encode and parse";
  }
  return "";
}

}  // namespace

std::string check_entries(std::string_view input) {
  if (std::string p = check_body(input); !p.empty()) return "the whole input: " + p;
  // JSON lines: each line is one entry (or batch) on its own.
  size_t start = 0, line = 1;
  while (start < input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    if (end == input.size() && start == 0) break;  // one line: checked above
    if (std::string p = check_body(input.substr(start, end - start)); !p.empty()) {
      return fmt::format("line {}: {}", line, p);
    }
    start = end + 1;
    line++;
  }
  return "";
}

}  // namespace strata::fuzz
