// A Wal that only reads, over a WalReader: for code that takes a Wal& just to
// look (the object-store tier's status in `strata status`) in a command that
// must not take the WAL's lock. Reads go to the reader; confirmed() reads the
// recorded marks; every write throws kInvalidArgument naming the call, and
// changes nothing. flush() and close() do nothing (a reader holds nothing
// unwritten).
#pragma once

#include <memory>

#include "strata/wal.h"
#include "strata/wal_reader.h"

namespace strata::cli {

std::unique_ptr<Wal> read_only_wal(std::unique_ptr<WalReader> reader, WalOptions options);

}  // namespace strata::cli
