// JSON shapes the CLI prints, shared by its commands.
#pragma once

#include <nlohmann/json.hpp>

#include "strata/entry.h"
#include "strata/wal.h"

namespace strata::cli {

// seq, timestamp, type, op, path, data (UTF-8) or data_b64, sha256 of data.
nlohmann::json entry_json(const EntryView& e);
nlohmann::json status_json(const WalStatus& s);
nlohmann::json metrics_json(const WalMetrics& m);
nlohmann::json segment_json(const SegmentInfo& s);

}  // namespace strata::cli
