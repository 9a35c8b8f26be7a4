#include "wal/record_format.h"

#include <bit>
#include <charconv>

#include <fmt/format.h>

namespace strata::wal {

std::string segment_file_name(uint64_t base_seq, uint64_t id) {
  return fmt::format("{:020}-{:016x}.seg", base_seq, id);
}

bool parse_segment_file_name(std::string_view name, uint64_t* base_seq) {
  auto digits = [](std::string_view s, int base) {
    uint64_t v;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    return ec == std::errc() && end == s.data() + s.size() &&
           s.find_first_of("+-") == std::string_view::npos;
  };
  if (name.size() == 24 && name.ends_with(".seg")) {
    // Written before segment names carried an id.
  } else if (name.size() != 41 || name[20] != '-' || !name.ends_with(".seg") ||
             !digits(name.substr(21, 16), 16)) {
    return false;
  }
  if (!digits(name.substr(0, 20), 10)) return false;
  std::from_chars(name.data(), name.data() + 20, *base_seq);
  return true;
}

void encode_header(const SegmentHeader& h, char out[kHeaderSize]) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kSegmentMagic, 8);
  put_u32(out + 8, kFormatVersion);
  put_u32(out + 12, kHeaderSize);
  put_u64(out + 16, h.base_seq);
  put_u32(out + 28, crc32c(out, 28));
}

bool decode_header(const char in[kHeaderSize], SegmentHeader* h) {
  if (std::memcmp(in, kSegmentMagic, 8) != 0) return false;
  if (get_u32(in + 8) != kFormatVersion || get_u32(in + 12) != kHeaderSize) return false;
  if (get_u32(in + 28) != crc32c(in, 28)) return false;
  h->base_seq = get_u64(in + 16);
  return true;
}

void encode_trailer(Trailer& t, const Sha256& digest_so_far, char out[kTrailerSize]) {
  std::memset(out, 0, kTrailerSize);
  std::memcpy(out, kTrailerMagic, 8);
  put_u64(out + 8, t.entry_count);
  put_u64(out + 16, t.first_seq);
  put_u64(out + 24, t.last_seq);
  put_u64(out + 32, t.index_offset);
  put_u64(out + 40, t.index_count);
  Sha256 d = digest_so_far;
  d.update(out, 48);
  t.sha256 = d.finish();
  std::memcpy(out + 48, t.sha256.data(), 32);
  put_u32(out + 80, crc32c(out, 80));
  put_u32(out + 84, kTrailerSize);
}

bool decode_trailer(const char in[kTrailerSize], Trailer* t) {
  if (std::memcmp(in, kTrailerMagic, 8) != 0) return false;
  if (get_u32(in + 84) != kTrailerSize || get_u32(in + 80) != crc32c(in, 80)) return false;
  t->entry_count = get_u64(in + 8);
  t->first_seq = get_u64(in + 16);
  t->last_seq = get_u64(in + 24);
  t->index_offset = get_u64(in + 32);
  t->index_count = get_u64(in + 40);
  std::memcpy(t->sha256.data(), in + 48, 32);
  return true;
}

void encode_record(uint64_t seq, uint64_t timestamp_ms, const Entry& e, char* out) {
  const uint32_t body = static_cast<uint32_t>(kBodyFixed + e.path.size() + e.data.size());
  char* b = out + kFrameSize;
  put_u32(out + 4, body);
  put_u64(b, seq);
  put_u64(b + 8, timestamp_ms);
  b[16] = static_cast<char>(e.type);
  b[17] = static_cast<char>(e.op);
  put_u16(b + 18, static_cast<uint16_t>(e.path.size()));
  std::memcpy(b + kBodyFixed, e.path.data(), e.path.size());
  if (!e.data.empty()) std::memcpy(b + kBodyFixed + e.path.size(), e.data.data(), e.data.size());
  put_u32(out, crc32c(out + 4, 4 + body));
}

DecodeStatus decode_record(const char* p, size_t avail, uint64_t max_body, RecordView* out,
                           size_t* size) {
  if (avail < kFrameSize) {
    for (size_t i = 0; i < avail; ++i) {
      if (p[i] != 0) return DecodeStatus::kTruncated;
    }
    return DecodeStatus::kZero;
  }
  const uint32_t crc = get_u32(p);
  const uint32_t body = get_u32(p + 4);
  if (crc == 0 && body == 0) return DecodeStatus::kZero;
  if (body < kBodyFixed || body > max_body) return DecodeStatus::kBad;
  if (avail < kFrameSize + body) return DecodeStatus::kTruncated;
  if (crc32c(p + 4, 4 + body) != crc) return DecodeStatus::kBad;
  const char* b = p + kFrameSize;
  const auto type = static_cast<uint8_t>(b[16]);
  const auto op = static_cast<uint8_t>(b[17]);
  const uint16_t path_len = get_u16(b + 18);
  if (type < 1 || type > 4 || op < 1 || op > 3 || path_len > body - kBodyFixed) {
    return DecodeStatus::kBad;
  }
  out->seq = get_u64(b);
  out->timestamp_ms = get_u64(b + 8);
  out->type = static_cast<EntryType>(type);
  out->op = static_cast<EntryOp>(op);
  out->path = std::string_view(b + kBodyFixed, path_len);
  out->data = std::string_view(b + kBodyFixed + path_len, body - kBodyFixed - path_len);
  *size = kFrameSize + body;
  return DecodeStatus::kOk;
}

}  // namespace strata::wal
