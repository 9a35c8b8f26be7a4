// The remote format: manifest encoding, its self-checksum and rules, object
// names, log objects (both compressions) and what decoding refuses.
#include <gtest/gtest.h>

#include <zstd.h>

#include "strata/error.h"
#include "strata/hash.h"
#include "strata/object_sync.h"
#include "sync/log_object.h"
#include "sync/remote_keys.h"
#include "sync/retention.h"
#include "wal/record_format.h"

namespace strata {
namespace {

std::string records(uint64_t first, uint64_t last, uint64_t ts = 1000) {
  std::string out;
  for (uint64_t s = first; s <= last; ++s) {
    Entry e;
    e.path = "sessions/s" + std::to_string(s);
    e.data = R"({"turn":)" + std::to_string(s) + R"(,"text":"hello hello hello"})";
    size_t off = out.size();
    out.resize(off + wal::record_size(e.path.size(), e.data.size()));
    wal::encode_record(s, ts + s, e, out.data() + off);
  }
  return out;
}

sync::FramedBatch batch(uint64_t first, uint64_t last) {
  sync::FramedBatch b;
  b.bytes = records(first, last);
  b.first_seq = first;
  b.last_seq = last;
  b.count = last - first + 1;
  b.last_timestamp_ms = 1000 + last;
  return b;
}

LogObjectInfo object(uint64_t first, uint64_t last, SyncCompression c = SyncCompression::kZstd) {
  sync::Compressor comp(c, 3);
  return comp.build(batch(first, last), first, 5).info;
}

Manifest sample() {
  Manifest m;
  m.manifest_version = 7;
  m.lineage_id = "01JTESTLINEAGE0000000000000";
  m.history_id = "0123456789abcdef";
  m.written_at_ms = 1700000000000;
  m.log = {object(1, 10), object(11, 20, SyncCompression::kNone), object(21, 25)};
  m.head_seq = 25;
  m.head_timestamp_ms = 1025;
  SnapshotObjectInfo s;
  s.seq = 12;
  s.sha256 = sha256_hex("snap");
  s.key = snapshot_object_key(12, s.sha256.substr(0, 16));
  s.stored_bytes = 4;
  m.snapshots = {s};
  return m;
}

std::string refusal(std::string_view bytes) {
  try {
    parse_manifest(bytes, "test/checkpoint.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kManifestInvalid) << e.what();
    EXPECT_NE(std::string(e.what()).find("test/checkpoint.json"), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << bytes;
  return "";
}

// Re-encodes a manifest with the checksum recomputed, so a test can check a
// rule without tripping the checksum first.
std::string forge(const std::string& json_without_sha) {
  std::string body = json_without_sha;
  body.pop_back();
  return body + ",\"manifest_sha256\":\"" + sha256_hex(body) + "\"}\n";
}

TEST(Manifest, RoundTripsAndEndsWithItsOwnChecksum) {
  Manifest m = sample();
  std::string bytes = encode_manifest(m);
  ASSERT_EQ(bytes.back(), '\n');
  EXPECT_EQ(bytes.find('\n'), bytes.size() - 1) << "one line";
  // The checksum covers exactly the bytes before the final field.
  std::string tail = ",\"manifest_sha256\":\"" + m.manifest_sha256 + "\"}\n";
  ASSERT_TRUE(bytes.ends_with(tail));
  EXPECT_EQ(sha256_hex(bytes.substr(0, bytes.size() - tail.size())), m.manifest_sha256);
  Manifest back = parse_manifest(bytes, "x");
  EXPECT_EQ(back, m);
  EXPECT_EQ(back.latest_snapshot()->seq, 12u);
  EXPECT_EQ(back.log_start(), 1u);
  // Encoding is deterministic.
  Manifest again = back;
  EXPECT_EQ(encode_manifest(again), bytes);
}

TEST(Manifest, AnyChangedByteFailsTheChecksum) {
  Manifest m = sample();
  std::string bytes = encode_manifest(m);
  std::string edited = bytes;
  size_t pos = edited.find("\"head_seq\":25");
  ASSERT_NE(pos, std::string::npos);
  edited[pos + 12] = '4';  // head_seq 24: still valid JSON
  EXPECT_NE(refusal(edited).find("does not match"), std::string::npos);
  EXPECT_NE(refusal(bytes.substr(0, bytes.size() - 10)).find("not JSON"), std::string::npos);
  EXPECT_NE(refusal("").find("empty"), std::string::npos);
  EXPECT_NE(refusal("{}").find("\"format\" is missing"), std::string::npos);
  EXPECT_NE(refusal(std::string(200, 'x')).find("not JSON"), std::string::npos);
}

TEST(Manifest, RefusesAFormatVersionFromTheFuture) {
  std::string future = forge(R"({"format":"strata-checkpoint","format_version":2,"anything":1})");
  std::string why = refusal(future);
  EXPECT_NE(why.find("format_version 2 is from the future"), std::string::npos) << why;
  // Even without a checksum in the version-1 style.
  why = refusal(R"({"format":"strata-checkpoint","format_version":3,"padding":")" +
                std::string(100, 'p') + "\"}");
  EXPECT_NE(why.find("from the future"), std::string::npos) << why;
  EXPECT_NE(refusal(forge(R"({"format":"other","format_version":1})")).find("\"format\""),
            std::string::npos);
}

TEST(Manifest, RefusesKeysOutsideTheRules) {
  Manifest m = sample();
  std::string good = encode_manifest(m);
  auto with_key = [&](const std::string& from, const std::string& to) {
    std::string s = good.substr(0, good.rfind(",\"manifest_sha256\"")) + "}";
    size_t pos = s.find(from);
    EXPECT_NE(pos, std::string::npos);
    s.replace(pos, from.size(), to);
    return forge(s);
  };
  const std::string k = m.log[0].key;
  EXPECT_NE(refusal(with_key(k, "../" + k)).find("'.' or '..'"), std::string::npos);
  EXPECT_NE(refusal(with_key(k, "/" + k)).find("starts with '/'"), std::string::npos);
  EXPECT_NE(refusal(with_key(k, "log/evil.wal")).find("not a log object name"), std::string::npos);
  EXPECT_NE(refusal(with_key(k, "other/" + k.substr(4))).find("not a log object name"),
            std::string::npos);
  std::string wrong_range = k;
  wrong_range.replace(4, 20, "00000000000000000002");
  EXPECT_NE(refusal(with_key(k, wrong_range)).find("names seqs 2-10"), std::string::npos);
  std::string ctl = k;
  ctl[5] = '\x01';
  EXPECT_NE(refusal(with_key(k, "log/\\u0001x")).find("control character"), std::string::npos);
}

TEST(Manifest, RefusesGapsOverlapsAndAnUncoveredHead) {
  auto check = [](Manifest m, const char* expect) {
    // encode_manifest enforces the same rules: nothing invalid is written.
    try {
      encode_manifest(m);
      ADD_FAILURE() << "encoded: " << expect;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kManifestInvalid);
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
  };
  Manifest gap = sample();
  gap.log[1] = object(12, 20, SyncCompression::kNone);
  check(gap, "a gap in the log");
  Manifest overlap = sample();
  overlap.log[1] = object(10, 20, SyncCompression::kNone);
  check(overlap, "an overlap in the log");
  Manifest head = sample();
  head.head_seq = 26;
  check(head, "ends at seq 25 but head_seq is 26");
  Manifest start = sample();
  start.log.erase(start.log.begin());
  start.snapshots.clear();
  check(start, "no snapshot covers");
  Manifest snap_ahead = sample();
  snap_ahead.snapshots[0].seq = 30;
  snap_ahead.snapshots[0].key = snapshot_object_key(30, "0123456789abcdef");
  check(snap_ahead, "above head_seq");
  Manifest empty_entries = sample();
  empty_entries.log[0].entries = 0;
  check(empty_entries, "0 entries");
  Manifest twice = sample();
  twice.log[2].key = twice.log[0].key;
  check(twice, "key \"log/00000000000000000001-00000000000000000010");
  Manifest no_lineage = sample();
  no_lineage.lineage_id = "";
  check(no_lineage, "lineage_id");

  // A log that starts right after a snapshot is a valid chain.
  Manifest after_snapshot = sample();
  after_snapshot.log.erase(after_snapshot.log.begin());  // starts at 11, snapshot at 12
  EXPECT_NO_THROW(encode_manifest(after_snapshot));
  // No log: the head is the newest snapshot.
  Manifest only_snapshot = sample();
  only_snapshot.log.clear();
  only_snapshot.head_seq = 12;
  EXPECT_NO_THROW(encode_manifest(only_snapshot));
}

TEST(Manifest, RefusesMistypedFields) {
  Manifest m = sample();
  std::string good = encode_manifest(m);
  std::string body = good.substr(0, good.rfind(",\"manifest_sha256\"")) + "}";
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = body;
    size_t pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    s.replace(pos, from.size(), to);
    return refusal(forge(s));
  };
  EXPECT_NE(edit("\"head_seq\":25", "\"head_seq\":-1").find("\"head_seq\" is not"),
            std::string::npos);
  EXPECT_NE(edit("\"head_seq\":25", "\"head_seq\":\"25\"").find("\"head_seq\""), std::string::npos);
  EXPECT_NE(edit("\"compression\":\"zstd\"", "\"compression\":\"lz4\"").find("lz4"),
            std::string::npos);
  EXPECT_NE(edit("\"lineage_id\"", "\"lineage\"").find("\"lineage_id\" is missing"),
            std::string::npos);
  EXPECT_NE(edit("\"log\":[", "\"log\":{\"x\":[").find("not JSON"), std::string::npos);
}

TEST(ObjectNames, SortBySeqAndParseBack) {
  std::string a = log_object_key(2, 9, "0123456789abcdef", SyncCompression::kZstd);
  std::string b = log_object_key(10, 100, "0123456789abcdef", SyncCompression::kNone);
  EXPECT_EQ(a, "log/00000000000000000002-00000000000000000009-0123456789abcdef.wal.zst");
  EXPECT_LT(a, b);
  auto pa = sync::parse_log_object_key(a);
  ASSERT_TRUE(pa);
  EXPECT_EQ(pa->first_seq, 2u);
  EXPECT_EQ(pa->last_seq, 9u);
  EXPECT_EQ(pa->compression, SyncCompression::kZstd);
  EXPECT_EQ(sync::parse_log_object_key(b)->compression, SyncCompression::kNone);
  for (const char* bad :
       {"log/2-9-0123456789abcdef.wal", "log/00000000000000000002-00000000000000000009.wal",
        "log/00000000000000000002-00000000000000000009-0123456789ABCDEF.wal",
        "log/00000000000000000002-00000000000000000009-0123456789abcdef.gz",
        "log/99999999999999999999-00000000000000000009-0123456789abcdef.wal",
        "x/00000000000000000002-00000000000000000009-0123456789abcdef.wal"}) {
    EXPECT_FALSE(sync::parse_log_object_key(bad)) << bad;
  }
  EXPECT_EQ(sync::parse_snapshot_object_key(snapshot_object_key(5, "00000000000000ff"))->seq, 5u);
  EXPECT_EQ(sync::parse_intent_key(sync::intent_key(3, "0123456789abcdef")), 3u);
  EXPECT_FALSE(sync::parse_intent_key("_intents/x.json"));
}

TEST(LogObject, BuildsAndDecodesBothCompressions) {
  for (auto c : {SyncCompression::kZstd, SyncCompression::kNone}) {
    sync::Compressor comp(c, 3);
    sync::BuiltObject o = comp.build(batch(5, 40), 3, 99);
    EXPECT_EQ(o.info.first_seq, 3u);
    EXPECT_EQ(o.info.last_seq, 40u);
    EXPECT_EQ(o.info.entries, 36u);
    EXPECT_EQ(o.info.raw_bytes, records(5, 40).size());
    EXPECT_EQ(o.info.raw_sha256, sha256_hex(records(5, 40)));
    EXPECT_EQ(o.info.sha256, sha256_hex(o.stored));
    EXPECT_EQ(o.info.stored_bytes, o.stored.size());
    EXPECT_EQ(o.info.created_at_ms, 99u);
    EXPECT_EQ(o.info.key, log_object_key(3, 40, o.info.sha256.substr(0, 16), c));
    if (c == SyncCompression::kZstd) {
      EXPECT_LT(o.stored.size(), o.info.raw_bytes / 2);
      // A plain zstd frame: the zstd library (and `zstd -d`) opens it.
      std::string plain(o.info.raw_bytes, '\0');
      EXPECT_EQ(ZSTD_decompress(plain.data(), plain.size(), o.stored.data(), o.stored.size()),
                o.info.raw_bytes);
      EXPECT_EQ(plain, records(5, 40));
    } else {
      EXPECT_EQ(o.stored, records(5, 40));
    }
    EXPECT_EQ(decode_log_object(o.stored, o.info), records(5, 40));
  }
}

std::string integrity_refusal(std::string_view stored, const LogObjectInfo& info) {
  try {
    decode_log_object(stored, info);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorageIntegrity);
    EXPECT_NE(std::string(e.what()).find(info.key), std::string::npos);
    return e.what();
  }
  ADD_FAILURE() << "decoded";
  return "";
}

TEST(LogObject, DecodingRefusesWhatDoesNotMatchTheManifest) {
  sync::Compressor comp(SyncCompression::kZstd, 3);
  sync::BuiltObject o = comp.build(batch(1, 30), 1, 0);
  EXPECT_NE(integrity_refusal(o.stored.substr(1), o.info).find("bytes, the manifest says"),
            std::string::npos);
  std::string flipped = o.stored;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_NE(integrity_refusal(flipped, o.info).find("SHA-256"), std::string::npos);

  // A manifest that matches the bytes but lies about the records.
  LogObjectInfo lies = o.info;
  lies.entries = 29;
  EXPECT_NE(integrity_refusal(o.stored, lies).find("30 records"), std::string::npos);
  lies = o.info;
  lies.last_seq = 31;
  EXPECT_NE(integrity_refusal(o.stored, lies).find("ending at seq 30"), std::string::npos);
  lies = o.info;
  lies.first_seq = 2;
  EXPECT_NE(integrity_refusal(o.stored, lies).find("has seq 1"), std::string::npos);

  // Uncompressed records with a bad CRC, hashed consistently.
  std::string raw = records(1, 3);
  raw[40] ^= 1;
  LogObjectInfo plain = o.info;
  plain.compression = SyncCompression::kNone;
  plain.raw_bytes = plain.stored_bytes = raw.size();
  plain.sha256 = plain.raw_sha256 = sha256_hex(raw);
  plain.entries = 3;
  plain.last_seq = 3;
  EXPECT_NE(integrity_refusal(raw, plain).find("not valid"), std::string::npos);
}

TEST(LogObject, DecompressionIsBoundedByTheDeclaredSize) {
  // A small object that expands to 64 MiB: refused without producing it.
  std::string bomb_raw(64 << 20, 'a');
  std::string bomb(ZSTD_compressBound(bomb_raw.size()), '\0');
  bomb.resize(ZSTD_compress(bomb.data(), bomb.size(), bomb_raw.data(), bomb_raw.size(), 1));
  LogObjectInfo info;
  info.key = "log/x";
  info.first_seq = info.last_seq = info.entries = 1;
  info.raw_bytes = 1000;
  info.stored_bytes = bomb.size();
  info.sha256 = sha256_hex(bomb);
  info.compression = SyncCompression::kZstd;
  EXPECT_NE(integrity_refusal(bomb, info).find("declares 67108864 bytes"), std::string::npos);
  EXPECT_THROW(sync::zstd_decompress_bounded("not zstd at all", 100, "x"), Error);
  std::string truncated = bomb.substr(0, bomb.size() / 2);
  EXPECT_THROW(sync::zstd_decompress_bounded(truncated, 64 << 20, "x"), Error);
}

SnapshotObjectInfo snap(uint64_t seq, uint64_t ts) {
  SnapshotObjectInfo s;
  s.seq = seq;
  s.timestamp_ms = ts;
  s.key = snapshot_object_key(seq, "00000000000000aa");
  return s;
}

LogObjectInfo range(uint64_t first, uint64_t last) {
  LogObjectInfo o;
  o.first_seq = first;
  o.last_seq = last;
  o.key = log_object_key(first, last, "00000000000000bb", SyncCompression::kZstd);
  return o;
}

TEST(Retention, DropsExactlyWhatTheBaseSnapshotReplaces) {
  std::vector<LogObjectInfo> log = {range(1, 10), range(11, 20), range(21, 30), range(31, 40)};
  std::vector<SnapshotObjectInfo> snaps = {snap(15, 1000), snap(25, 2000), snap(38, 3000)};
  // Window starts at 2500: the base is the snapshot at 25 (ts 2000).
  auto plan = sync::plan_retention(log, snaps, 3500, 1000);
  std::vector<std::string> expect = {snaps[0].key, log[0].key, log[1].key};
  EXPECT_EQ(plan.drop, expect);
  ASSERT_EQ(plan.log.size(), 2u);
  EXPECT_EQ(plan.log[0].first_seq, 21u);  // the object straddling the base stays
  ASSERT_EQ(plan.snapshots.size(), 2u);
  EXPECT_EQ(plan.snapshots[0].seq, 25u);

  // Nothing older than the window: nothing goes.
  auto none = sync::plan_retention(log, snaps, 1500, 1000);
  EXPECT_TRUE(none.drop.empty());
  EXPECT_EQ(none.log.size(), 4u);
  // Everything old: the newest snapshot is the base and stays.
  auto all = sync::plan_retention(log, snaps, 1000000, 1000);
  ASSERT_EQ(all.snapshots.size(), 1u);
  EXPECT_EQ(all.snapshots[0].seq, 38u);
  ASSERT_EQ(all.log.size(), 1u);
  EXPECT_EQ(all.log[0].first_seq, 31u);
}

SegmentInfo seg(uint64_t first, uint64_t last) {
  SegmentInfo s;
  s.first_seq = s.base_seq = first;
  s.last_seq = last;
  s.sealed = true;
  s.file = std::to_string(first);
  return s;
}

TEST(PrunePlan, OnlyConfirmedSegmentsAndNeverTheNewestKept) {
  std::vector<SegmentInfo> sealed = {seg(1, 10), seg(11, 20), seg(21, 30), seg(31, 40)};
  EXPECT_EQ(sync::plan_prune(sealed, 25, 0).size(), 2u);   // 30 > 25: stops there
  EXPECT_EQ(sync::plan_prune(sealed, 30, 0).size(), 3u);   // at or below
  EXPECT_EQ(sync::plan_prune(sealed, 100, 2).size(), 2u);  // keeps the newest two
  EXPECT_EQ(sync::plan_prune(sealed, 100, 4).size(), 0u);
  EXPECT_EQ(sync::plan_prune(sealed, 9, 0).size(), 0u);
  EXPECT_EQ(sync::plan_prune({}, 100, 0).size(), 0u);
}

}  // namespace
}  // namespace strata
