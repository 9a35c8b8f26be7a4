#include "cli/read_only_wal.h"

#include <fmt/format.h>

#include "strata/error.h"

namespace strata::cli {
namespace {

class ReadOnlyWal final : public Wal {
 public:
  ReadOnlyWal(std::unique_ptr<WalReader> reader, WalOptions options)
      : reader_(std::move(reader)), opt_(std::move(options)) {}

  uint64_t append(const Entry&) override { throw refused("append"); }
  uint64_t append_batch(const std::vector<Entry>&) override { throw refused("append_batch"); }
  void truncate_after(uint64_t) override { throw refused("truncate_after"); }
  std::optional<Entry> read_entry(uint64_t seq) override { return reader_->read_entry(seq); }
  uint64_t replay(uint64_t since_seq, uint64_t limit,
                  const std::function<bool(const Entry&)>& fn) override {
    return reader_->replay_view(since_seq, limit,
                                [&](const EntryView& v) { return fn(v.to_entry()); });
  }
  uint64_t replay_view(uint64_t since_seq, uint64_t limit,
                       const std::function<bool(const EntryView&)>& fn) override {
    return reader_->replay_view(since_seq, limit, fn);
  }
  WalSnapshot snapshot() override { return reader_->snapshot(); }
  WalStatus status() override { return reader_->status(); }
  WalMetrics metrics() override { return reader_->metrics(); }
  void flush() override {}
  void confirm(std::string_view, uint64_t) override { throw refused("confirm"); }
  uint64_t confirmed(std::string_view tier) override {
    for (const auto& m : Wal::read_tier_marks(opt_.dir, opt_.fs)) {
      if (m.tier == tier) return m.seq;
    }
    return 0;
  }
  uint64_t retention_floor() override { return 0; }
  FramedRecords read_framed(uint64_t, uint64_t) override { throw refused("read_framed"); }
  SegmentPin pin_sealed_since(uint64_t) override { throw refused("pin_sealed_since"); }
  std::vector<SegmentInfo> delete_sealed_through(uint64_t) override {
    throw refused("delete_sealed_through");
  }
  ImportResult import_framed(std::string_view) override { throw refused("import_framed"); }
  void start_after(uint64_t) override { throw refused("start_after"); }
  CompactResult compact(bool) override { throw refused("compact"); }
  void rotate() override { throw refused("rotate"); }
  void close() override {}

 private:
  Error refused(const char* call) const {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: WAL {} is open read-only here", call, opt_.dir));
  }
  std::unique_ptr<WalReader> reader_;
  WalOptions opt_;
};

}  // namespace

std::unique_ptr<Wal> read_only_wal(std::unique_ptr<WalReader> reader, WalOptions options) {
  return std::make_unique<ReadOnlyWal>(std::move(reader), std::move(options));
}

}  // namespace strata::cli
