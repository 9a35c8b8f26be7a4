// Log objects: a run of the WAL's framed records (exactly the bytes of
// docs/format.md's "Records", no segment header), stored as is or as one
// zstd frame. Building hashes both forms; decoding checks everything the
// manifest says about the object before a byte of it is trusted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "strata/object_sync.h"

namespace strata::sync {

// A run of framed records read from the WAL for shipping.
struct FramedBatch {
  std::string bytes;       // whole records, in seq order
  uint64_t first_seq = 0;  // seq of the first record
  uint64_t last_seq = 0;   // seq of the last record
  uint64_t count = 0;      // records
  uint64_t last_timestamp_ms = 0;
};

struct BuiltObject {
  LogObjectInfo info;
  std::string stored;  // the bytes to upload
};

// Reusable compression state; one per thread.
class Compressor {
 public:
  Compressor(SyncCompression c, int zstd_level);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  // range_start: the previous object's last seq + 1 (<= batch.first_seq).
  BuiltObject build(FramedBatch batch, uint64_t range_start, uint64_t now_ms);

 private:
  SyncCompression compression_;
  int level_;
  void* cctx_ = nullptr;  // ZSTD_CCtx
};

// zstd-decompresses `stored`, refusing output beyond max_bytes. Throws
// kStorageIntegrity naming `what`.
std::string zstd_decompress_bounded(std::string_view stored, uint64_t max_bytes,
                                    std::string_view what);

}  // namespace strata::sync
