// A WAL entry: one change to one file of the application's state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strata/path_rules.h"  // validate_entry_path: the rules for Entry::path

namespace strata {

enum class EntryType : uint8_t { kSession = 1, kBead = 2, kMemory = 3, kConfig = 4 };
enum class EntryOp : uint8_t { kCreate = 1, kUpdate = 2, kDelete = 3 };

struct Entry {
  uint64_t seq = 0;           // assigned by the WAL: 1, 2, 3, ... without gaps
  uint64_t timestamp_ms = 0;  // assigned by the WAL when 0
  EntryType type = EntryType::kSession;
  EntryOp op = EntryOp::kCreate;
  std::string path;  // relative, see validate_entry_path
  std::string data;  // bytes; empty for deletes

  bool operator==(const Entry&) const = default;
};

// An entry whose strings point into a buffer owned by someone else (the WAL's
// read buffer during replay): valid only inside the callback that receives it.
struct EntryView {
  uint64_t seq = 0;
  uint64_t timestamp_ms = 0;
  EntryType type = EntryType::kSession;
  EntryOp op = EntryOp::kCreate;
  std::string_view path;
  std::string_view data;
  Entry to_entry() const {
    return Entry{seq, timestamp_ms, type, op, std::string(path), std::string(data)};
  }
};

std::string_view entry_type_name(EntryType t);
std::string_view entry_op_name(EntryOp op);
// Throw Error(kInvalidArgument) naming the accepted values.
EntryType parse_entry_type(std::string_view s);
EntryOp parse_entry_op(std::string_view s);

}  // namespace strata
