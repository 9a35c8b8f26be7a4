#include "sync/log_object.h"

#include <zstd.h>

#include <fmt/format.h>

#include "strata/error.h"
#include "strata/hash.h"
#include "sync/remote_keys.h"
#include "wal/record_format.h"

namespace strata::sync {

namespace {

[[noreturn]] void integrity(std::string_view what, std::string_view why) {
  throw Error(ErrorCode::kStorageIntegrity, fmt::format("log object {}: {}", what, why));
}

}  // namespace

Compressor::Compressor(SyncCompression c, int zstd_level) : compression_(c), level_(zstd_level) {
  if (c == SyncCompression::kZstd) {
    cctx_ = ZSTD_createCCtx();
    if (cctx_ == nullptr) throw Error(ErrorCode::kInternal, "zstd: cannot allocate a context");
  }
}

Compressor::~Compressor() {
  if (cctx_ != nullptr) ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
}

BuiltObject Compressor::build(FramedBatch batch, uint64_t range_start, uint64_t now_ms) {
  BuiltObject out;
  LogObjectInfo& info = out.info;
  info.first_seq = range_start;
  info.last_seq = batch.last_seq;
  info.entries = batch.count;
  info.last_timestamp_ms = batch.last_timestamp_ms;
  info.raw_bytes = batch.bytes.size();
  info.raw_sha256 = sha256_hex(batch.bytes);
  info.compression = compression_;
  info.created_at_ms = now_ms;
  if (compression_ == SyncCompression::kZstd) {
    out.stored.resize(ZSTD_compressBound(batch.bytes.size()));
    size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), out.stored.data(),
                                 out.stored.size(), batch.bytes.data(), batch.bytes.size(), level_);
    if (ZSTD_isError(n)) {
      throw Error(ErrorCode::kInternal, fmt::format("zstd: {}", ZSTD_getErrorName(n)));
    }
    out.stored.resize(n);
    info.sha256 = sha256_hex(out.stored);
  } else {
    out.stored = std::move(batch.bytes);
    info.sha256 = info.raw_sha256;
  }
  info.stored_bytes = out.stored.size();
  info.key = log_object_key(info.first_seq, info.last_seq, tag_of(info.sha256), compression_);
  return out;
}

std::string zstd_decompress_bounded(std::string_view stored, uint64_t max_bytes,
                                    std::string_view what) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  if (d == nullptr) throw Error(ErrorCode::kInternal, "zstd: cannot allocate a context");
  struct Free {
    ZSTD_DCtx* d;
    ~Free() { ZSTD_freeDCtx(d); }
  } guard{d};
  std::string out;
  // The declared size is a hint only: the output is capped either way.
  unsigned long long declared = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) integrity(what, "not a zstd frame");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max_bytes) {
    integrity(what, fmt::format("declares {} bytes of records, more than the {} expected", declared,
                                max_bytes));
  }
  out.resize(static_cast<size_t>(max_bytes) + 1);
  ZSTD_inBuffer in{stored.data(), stored.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  while (true) {
    size_t rc = ZSTD_decompressStream(d, &ob, &in);
    if (ZSTD_isError(rc)) integrity(what, fmt::format("zstd: {}", ZSTD_getErrorName(rc)));
    if (ob.pos > max_bytes) {
      integrity(what, fmt::format("decompresses to more than the {} bytes expected", max_bytes));
    }
    if (rc == 0) {
      if (in.pos != in.size) integrity(what, "bytes after the end of the zstd frame");
      break;
    }
    if (in.pos == in.size && ob.pos < ob.size) integrity(what, "the zstd frame is truncated");
  }
  out.resize(ob.pos);
  return out;
}

}  // namespace strata::sync

namespace strata {

std::string decode_log_object(std::string_view stored, const LogObjectInfo& info) {
  const std::string& what = info.key;
  if (stored.size() != info.stored_bytes) {
    sync::integrity(
        what, fmt::format("{} bytes, the manifest says {}", stored.size(), info.stored_bytes));
  }
  std::string got = sha256_hex(stored);
  if (got != info.sha256) {
    sync::integrity(what,
                    fmt::format("SHA-256 {} does not match the manifest's {}", got, info.sha256));
  }
  std::string raw = info.compression == SyncCompression::kZstd
                        ? sync::zstd_decompress_bounded(stored, info.raw_bytes, what)
                        : std::string(stored);
  if (raw.size() != info.raw_bytes) {
    sync::integrity(
        what, fmt::format("{} bytes of records, the manifest says {}", raw.size(), info.raw_bytes));
  }
  if (info.compression == SyncCompression::kZstd) {
    std::string raw_sha = sha256_hex(raw);
    if (raw_sha != info.raw_sha256) {
      sync::integrity(what, fmt::format("records' SHA-256 {} does not match the manifest's {}",
                                        raw_sha, info.raw_sha256));
    }
  }
  uint64_t prev = info.first_seq - 1;
  uint64_t count = 0;
  size_t off = 0;
  while (off < raw.size()) {
    wal::RecordView rec;
    size_t size = 0;
    auto st = wal::decode_record(raw.data() + off, raw.size() - off, raw.size(), &rec, &size);
    if (st != wal::DecodeStatus::kOk) {
      sync::integrity(what,
                      fmt::format("the record at offset {} is {}", off,
                                  st == wal::DecodeStatus::kTruncated ? "truncated" : "not valid"));
    }
    if (rec.seq <= prev || rec.seq > info.last_seq) {
      sync::integrity(what, fmt::format("the record at offset {} has seq {}, outside {}..{} or "
                                        "not ascending",
                                        off, rec.seq, prev + 1, info.last_seq));
    }
    prev = rec.seq;
    ++count;
    off += size;
  }
  if (count != info.entries || prev != info.last_seq) {
    sync::integrity(what, fmt::format("{} records ending at seq {}, the manifest says {} ending "
                                      "at {}",
                                      count, prev, info.entries, info.last_seq));
  }
  return raw;
}

}  // namespace strata
