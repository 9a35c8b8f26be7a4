#include "wal/segment_file.h"

#include <algorithm>

#include <fmt/format.h>

#include "wal/dir_state.h"
#include "wal/segment_reader.h"

namespace strata::wal {

SegmentInfo info_of(const Segment& s) {
  return SegmentInfo{s.name,
                     s.base_seq,
                     s.first_seq,
                     s.last_seq,
                     s.entries,
                     s.size,
                     s.sealed ? to_hex(s.sha) : "",
                     s.sealed};
}

uint64_t index_start(const Segment& s, uint64_t seq) {
  auto it = std::upper_bound(s.index.begin(), s.index.end(), seq,
                             [](uint64_t v, const auto& e) { return v < e.first; });
  if (it == s.index.begin()) return kHeaderSize;
  return std::prev(it)->second;
}

Error unreadable_record(const File& file, uint64_t offset) {
  return Error(ErrorCode::kWalCorrupt,
               fmt::format("{}: unreadable record at offset {}", file.path(), offset));
}

std::string new_segment_name(FileSystem& fs, const std::string& dir, uint64_t base) {
  while (true) {
    std::string name = segment_file_name(base, random_u64());
    if (!fs.exists(segment_path(dir, name))) return name;
  }
}

std::shared_ptr<Segment> load_sealed_segment(FileSystem& fs, const std::string& dir,
                                             const std::string& name, uint64_t base) {
  auto file = fs.open(segment_path(dir, name), OpenMode::kRead);
  SegmentHeader h;
  Trailer t;
  const uint64_t size = file->size();
  if (!read_segment_header(*file, &h) || h.base_seq != base) return nullptr;
  if (!read_segment_trailer(*file, size, &t)) return nullptr;
  auto s = std::make_shared<Segment>();
  s->name = name;
  s->base_seq = base;
  s->first_seq = t.first_seq;
  s->last_seq = t.last_seq;
  s->entries = t.entry_count;
  s->data_end = t.index_offset;
  s->size = size;
  s->sealed = true;
  s->sha = t.sha256;
  std::string idx(t.index_count * kIndexEntrySize, '\0');
  if (file->pread(idx.data(), idx.size(), t.index_offset) != idx.size()) return nullptr;
  s->index.reserve(t.index_count);
  for (uint64_t i = 0; i < t.index_count; ++i) {
    s->index.emplace_back(get_u64(idx.data() + i * kIndexEntrySize),
                          get_u64(idx.data() + i * kIndexEntrySize + 8));
  }
  return s;
}

namespace {

// Writes the header for base at the start of file (no sync) and starts
// *header_sha with it.
void put_header(File& file, uint64_t base, Sha256* header_sha) {
  char header[kHeaderSize];
  encode_header(SegmentHeader{base}, header);
  file.pwrite(header, kHeaderSize, 0);
  *header_sha = Sha256();
  header_sha->update(header, kHeaderSize);
}

// A segment that holds no record yet.
std::shared_ptr<Segment> empty_segment(std::string name, uint64_t base,
                                       std::shared_ptr<File> file) {
  auto s = std::make_shared<Segment>();
  s->name = std::move(name);
  s->base_seq = base;
  s->last_seq = base - 1;
  s->data_end = kHeaderSize;
  s->file = std::move(file);
  return s;
}

}  // namespace

std::shared_ptr<Segment> create_segment(FileSystem& fs, const std::string& dir, uint64_t base,
                                        Sha256* header_sha) {
  std::string name = new_segment_name(fs, dir, base);
  auto file = std::shared_ptr<File>(fs.open(segment_path(dir, name), OpenMode::kCreate));
  put_header(*file, base, header_sha);
  file->sync();
  fs.sync_dir(dir);
  return empty_segment(std::move(name), base, std::move(file));
}

std::string new_spare_name(FileSystem& fs, const std::string& dir) {
  while (true) {
    std::string name = fmt::format(".next-{:016x}{}", random_u64(), kSpareSuffix);
    if (!fs.exists(segment_path(dir, name))) return name;
  }
}

std::shared_ptr<Segment> segment_from_spare(FileSystem& fs, const std::string& dir,
                                            const std::string& spare_name,
                                            std::shared_ptr<File> spare_file, uint64_t base,
                                            Sha256* header_sha) {
  put_header(*spare_file, base, header_sha);
  // The header is durable before the name is, so a segment name never
  // stands for a file without one (the open-time repair relies on it).
  spare_file->sync_data();
  std::string name = new_segment_name(fs, dir, base);
  fs.rename(segment_path(dir, spare_name), segment_path(dir, name));
  fs.sync_dir(dir);
  return empty_segment(std::move(name), base, std::move(spare_file));
}

Trailer encode_index_and_trailer(const Segment& s, uint64_t index_offset,
                                 const Sha256& digest_so_far, std::string* tail) {
  const size_t index_bytes = s.index.size() * kIndexEntrySize;
  tail->assign(index_bytes + kTrailerSize, '\0');
  for (size_t i = 0; i < s.index.size(); ++i) {
    put_u64(tail->data() + i * kIndexEntrySize, s.index[i].first);
    put_u64(tail->data() + i * kIndexEntrySize + 8, s.index[i].second);
  }
  Sha256 digest = digest_so_far;
  digest.update(tail->data(), index_bytes);
  Trailer t;
  t.entry_count = s.entries;
  t.first_seq = s.first_seq;
  t.last_seq = s.last_seq;
  t.index_offset = index_offset;
  t.index_count = s.index.size();
  encode_trailer(t, digest, tail->data() + index_bytes);
  return t;
}

void seal_segment(Segment& s, uint64_t data_end, const Sha256& digest_so_far) {
  std::string tail;
  const Trailer t = encode_index_and_trailer(s, data_end, digest_so_far, &tail);
  const uint64_t size = data_end + tail.size();
  s.file->pwrite(tail.data(), tail.size(), data_end);
  s.file->sync_data();
  s.file->truncate(size);
  s.file->sync();
  s.sealed = true;
  s.size = size;
  s.sha = t.sha256;
  s.data_end = data_end;
  s.sync_files.clear();
}

void write_zeros(File& file, uint64_t from, uint64_t to) {
  static const std::string kZeros(1 << 20, '\0');
  for (uint64_t off = from; off < to;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), to - off));
    file.pwrite(kZeros.data(), n, off);
    off += n;
  }
}

Sha256 digest_of_prefix(File& file, uint64_t end) {
  uint64_t short_at = 0;
  auto sha = hash_file_prefix(file, end, &short_at);
  if (!sha) {
    throw Error(ErrorCode::kWalCorrupt,
                fmt::format("{}: shorter than its records (short read at offset {} of {})",
                            file.path(), short_at, end));
  }
  return *sha;
}

void copy_file_bytes(FileSystem& fs, File& from, const std::string& to, uint64_t size) {
  auto out = fs.open(to, OpenMode::kCreateTrunc);
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < size;) {
    size_t n = from.pread(buf.data(),
                          static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off)), off);
    if (n == 0) break;
    out->pwrite(buf.data(), n, off);
    off += n;
  }
  out->sync();
}

void SegmentSink::write(std::string_view bytes, uint64_t offset) {
  if (sha_valid_) sha_.update(bytes.data(), bytes.size());
  seg_->file->pwrite(bytes.data(), bytes.size(), offset);
}

void SegmentSink::sync(size_t slot) {
  if (slot < seg_->sync_files.size()) {
    seg_->sync_files[slot]->sync_data();
  } else {
    seg_->file->sync_data();
  }
}

Sha256 SegmentSink::digest(uint64_t end) {
  if (!sha_valid_) {
    sha_ = digest_of_prefix(*seg_->file, end);
    sha_valid_ = true;
  }
  return sha_;
}

}  // namespace strata::wal
