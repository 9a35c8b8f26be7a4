#include "server/entry_json.h"

#include <algorithm>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/utf8.h"

namespace strata::server {

namespace {

// Our shapes nest three deep ({"entries":[{...}]}); refusing deeper input
// keeps a hostile body from building a huge tree.
constexpr int kMaxDepth = 4;

// The deepest nesting of objects and arrays in text (brackets inside strings
// do not count; malformed text is left to the parser to name). Checked before
// parsing, so the parse itself runs without a per-value callback (the route
// every append takes).
int nesting_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

[[noreturn]] void bad(const std::string& where, std::string_view why) {
  throw Error(ErrorCode::kInvalidArgument, fmt::format("{}{}", where, why));
}

Entry parse_entry(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) bad(where, "expected a JSON object");
  for (const auto& [key, _] : j.items()) {
    if (key != "type" && key != "op" && key != "path" && key != "data" && key != "data_b64") {
      bad(where,
          fmt::format("unknown field \"{}\" (expected type, op, path, data or data_b64)", key));
    }
  }
  auto str = [&](const char* key, bool required) -> const std::string* {
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) bad(where, fmt::format("missing \"{}\"", key));
      return nullptr;
    }
    if (!it->is_string()) bad(where, fmt::format("\"{}\" must be a string", key));
    return it->get_ptr<const std::string*>();
  };
  Entry e;
  try {
    e.type = parse_entry_type(*str("type", true));
    e.op = parse_entry_op(*str("op", true));
  } catch (const Error& err) {
    bad(where, err.what());
  }
  e.path = *str("path", true);
  const std::string* data = str("data", false);
  const std::string* b64 = str("data_b64", false);
  if (data && b64) bad(where, "give \"data\" or \"data_b64\", not both");
  if (e.op == EntryOp::kDelete && ((data && !data->empty()) || (b64 && !b64->empty()))) {
    bad(where, "a delete carries no data");
  }
  if (data) e.data = *data;
  if (b64) {
    try {
      e.data = base64_decode(*b64);
    } catch (const Error& err) {
      bad(where, fmt::format("\"data_b64\": {}", err.what()));
    }
  }
  try {
    validate_entry_path(e.path);
  } catch (const Error& err) {
    throw Error(ErrorCode::kInvalidPath, fmt::format("{}\"path\": {}", where, err.what()));
  }
  return e;
}

}  // namespace

ParsedEntries parse_entries_body(std::string_view body) {
  if (nesting_depth(body) > kMaxDepth) {
    bad("", fmt::format("JSON nested deeper than {} levels", kMaxDepth));
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number beyond a double (1e999) is out_of_range
    // (found by fuzz/entries_fuzz.cpp; it was answered 500).
    bad("", fmt::format("malformed JSON: {}", e.what()));
  }
  ParsedEntries out;
  if (j.is_object() && j.contains("entries")) {
    if (j.size() != 1) bad("", "a batch is {\"entries\": [...]} with nothing beside it");
    const auto& arr = j["entries"];
    if (!arr.is_array()) bad("", "\"entries\" must be an array");
    if (arr.empty()) bad("", "\"entries\" must hold at least one entry");
    out.batch = true;
    out.entries.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      out.entries.push_back(parse_entry(arr[i], fmt::format("entries[{}]: ", i)));
    }
    return out;
  }
  out.entries.push_back(parse_entry(j, ""));
  return out;
}

nlohmann::json entry_to_json(const EntryView& e) {
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

void append_entry_line(const EntryView& e, std::string& out) {
  out += entry_to_json(e).dump();
  out.push_back('\n');
}

nlohmann::json wal_status_json(const WalStatus& s) {
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

std::string error_body(std::string_view code, std::string_view message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace strata::server
