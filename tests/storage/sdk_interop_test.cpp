// Interoperability with the official AWS SDK for JavaScript v3
// (@aws-sdk/client-s3, tests/js/sdk.js): objects strata writes, the SDK reads
// back byte for byte with their metadata, and the other way round. Both go
// through the verifying proxy, so both sides' signatures are checked.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "storage/servers.h"
#include "strata/hash.h"
#include "strata/storage.h"

namespace strata {
namespace {

using testing::S3Servers;

std::string sdk(const S3Servers& servers, const std::string& args, int* rc = nullptr) {
  std::string cmd = "NODE_NO_WARNINGS=1 R2_ACCESS_KEY_ID='" + std::string(testing::kAccessKey) +
                    "' R2_SECRET_ACCESS_KEY='" + testing::kSecretKey + "' node '" +
                    testing::js_dir() + "/sdk.js' " + args + " 2>&1";
  std::string out;
  int status = testing::run_command(cmd, &out);
  if (rc)
    *rc = status;
  else
    EXPECT_EQ(status, 0) << out;
  (void)servers;
  return out;
}

std::string binary_data(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + 13) & 0xFF);
  return s;
}

TEST(SdkInterop, SdkReadsWhatStrataWrote) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  testing::TempDir tmp;
  std::string data = binary_data(3 << 20);
  WriteOptions o;
  o.metadata = {{"seq", "99"}};
  std::string key = "from strata/é+~ obj.bin";
  s.write_file(key, data, o);
  std::string ep = servers.endpoint();
  std::string out = sdk(
      servers, "get " + ep + " " + testing::kBucket + " '" + key + "' '" + (tmp / "sdk.bin") + "'");
  EXPECT_EQ(testing::read_file(tmp / "sdk.bin"), data);
  auto meta = nlohmann::json::parse(out).at("metadata");
  EXPECT_EQ(meta.at("sha256"), sha256_hex(data));
  EXPECT_EQ(meta.at("seq"), "99");
  auto listed = nlohmann::json::parse(
      sdk(servers, "list " + ep + " " + testing::kBucket + " 'from strata/'"));
  EXPECT_EQ(listed, nlohmann::json::array({key}));
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 0u);
}

TEST(SdkInterop, StrataReadsWhatTheSdkWrote) {
  S3Servers servers;
  S3CheckpointStorage s(servers.config());
  testing::TempDir tmp;
  std::string data = binary_data(1 << 20);
  testing::write_file(tmp / "in.bin", data);
  std::string key = "from sdk/日本 (1).bin";
  sdk(servers, "put " + servers.endpoint() + " " + testing::kBucket + " '" + key + "' '" +
                   (tmp / "in.bin") + "'");
  EXPECT_EQ(s.read_file(key), data);
  auto st = s.stat(key);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, data.size());
  EXPECT_EQ(st->metadata.at("origin"), "aws-sdk-js");
  EXPECT_EQ(st->metadata.count("sha256"), 0u);  // the SDK writer set none
  EXPECT_TRUE(s.verify_checksum(key, sha256_hex(data)));
  EXPECT_EQ(s.list_files("from sdk/"), std::vector<std::string>{key});
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 0u);
}

TEST(SdkInterop, TheVerifyingProxyRefusesABadSignatureFromTheSdkToo) {
  // Guards the guard: the proxy must reject, not wave through, a request
  // signed with the wrong secret, whoever signs it.
  S3Servers servers;
  testing::TempDir tmp;
  testing::write_file(tmp / "in.bin", "x");
  std::string cmd = "NODE_NO_WARNINGS=1 R2_ACCESS_KEY_ID='" + std::string(testing::kAccessKey) +
                    "' R2_SECRET_ACCESS_KEY='wrong' node '" + testing::js_dir() + "/sdk.js' put " +
                    servers.endpoint() + " " + testing::kBucket + " k '" + (tmp / "in.bin") +
                    "' 2>&1";
  std::string out;
  EXPECT_NE(testing::run_command(cmd, &out), 0);
  EXPECT_NE(out.find("SignatureDoesNotMatch"), std::string::npos) << out;
  EXPECT_EQ(servers.proxy_stat("signature_failures"), 1u);
}

}  // namespace
}  // namespace strata
