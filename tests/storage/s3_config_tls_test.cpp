// Configuration from the environment, addressing, and TLS verification
// against s3rver serving HTTPS with a self-signed certificate.
#include <cstdlib>

#include <gtest/gtest.h>

#include "storage/servers.h"
#include "strata/error.h"
#include "strata/storage.h"

namespace strata {
namespace {

void clear_env() {
  for (const char* v :
       {"R2_ENDPOINT", "R2_BUCKET", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_REGION",
        "R2_PREFIX", "R2_FORCE_PATH_STYLE", "AWS_SESSION_TOKEN", "R2_CA_BUNDLE", "R2_PART_SIZE",
        "R2_MULTIPART_THRESHOLD", "R2_TIMEOUT_MS"}) {
    unsetenv(v);
  }
}

std::string config_error() {
  try {
    S3Config::from_env();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
    return e.what();
  }
  return "";
}

TEST(S3ConfigEnv, DefaultsFromTheSeed) {
  clear_env();
  setenv("R2_ENDPOINT", "https://acct.r2.cloudflarestorage.com", 1);
  setenv("R2_ACCESS_KEY_ID", "AKID", 1);
  setenv("R2_SECRET_ACCESS_KEY", "very-secret-value", 1);
  S3Config c = S3Config::from_env();
  EXPECT_EQ(c.bucket, "loa-finn-data");
  EXPECT_EQ(c.region, "auto");
  EXPECT_EQ(c.prefix, "");
  EXPECT_EQ(c.multipart_threshold, 64u << 20);
  EXPECT_FALSE(c.use_path_style());  // a DNS name: virtual-host addressing
  EXPECT_EQ(c.describe().find("very-secret-value"), std::string::npos);
  setenv("R2_PREFIX", "node-1", 1);
  setenv("AWS_SESSION_TOKEN", "tok-secret", 1);
  c = S3Config::from_env();
  EXPECT_EQ(c.prefix, "node-1/");
  EXPECT_EQ(c.session_token, "tok-secret");
  EXPECT_EQ(c.describe().find("tok-secret"), std::string::npos);
}

TEST(S3ConfigEnv, PathStyleIsAutomaticForIpAndLocalhostAndOverridable) {
  S3Config c;
  c.access_key_id = "a";
  c.secret_access_key = "b";
  for (const char* ep : {"http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000",
                         "https://minio.localhost"}) {
    c.endpoint = ep;
    EXPECT_TRUE(c.use_path_style()) << ep;
  }
  c.endpoint = "https://s3.example.com";
  EXPECT_FALSE(c.use_path_style());
  c.bucket = "dotted.bucket.name";  // would break the TLS wildcard
  EXPECT_TRUE(c.use_path_style());
  c.bucket = "plain";
  c.force_path_style = true;
  EXPECT_TRUE(c.use_path_style());
  c.endpoint = "http://127.0.0.1:9000";
  c.force_path_style = false;
  EXPECT_FALSE(c.use_path_style());
}

TEST(S3ConfigEnv, BadValuesNameTheVariableAndNeverTheSecret) {
  clear_env();
  EXPECT_NE(config_error().find("R2_ENDPOINT is not set"), std::string::npos);
  setenv("R2_ENDPOINT", "https://user:pw@host", 1);
  setenv("R2_ACCESS_KEY_ID", "AKID", 1);
  setenv("R2_SECRET_ACCESS_KEY", "s3cr3t\nvalue", 1);
  EXPECT_NE(config_error().find("user info"), std::string::npos);
  setenv("R2_ENDPOINT", "https://host/some/path", 1);
  EXPECT_NE(config_error().find("path"), std::string::npos);
  setenv("R2_ENDPOINT", "https://host:99999", 1);
  EXPECT_NE(config_error().find("port"), std::string::npos);
  setenv("R2_ENDPOINT", "https://host", 1);
  std::string e = config_error();
  EXPECT_NE(e.find("control character"), std::string::npos) << e;
  EXPECT_EQ(e.find("s3cr3t"), std::string::npos) << e;
  setenv("R2_SECRET_ACCESS_KEY", "fine", 1);
  setenv("R2_BUCKET", "Bad_Bucket", 1);
  EXPECT_NE(config_error().find("R2_BUCKET"), std::string::npos);
  unsetenv("R2_BUCKET");
  setenv("R2_PART_SIZE", "1MiB", 1);
  EXPECT_NE(config_error().find("R2_PART_SIZE"), std::string::npos);
  unsetenv("R2_PART_SIZE");
  setenv("R2_CA_BUNDLE", "/nonexistent/ca.pem", 1);
  EXPECT_NE(config_error().find("R2_CA_BUNDLE"), std::string::npos);
  unsetenv("R2_CA_BUNDLE");
  setenv("R2_PREFIX", "../up", 1);
  EXPECT_NE(config_error().find("R2_PREFIX"), std::string::npos);
}

struct Certificate {
  testing::TempDir dir;
  std::string cert = dir / "cert.pem";
  std::string key = dir / "key.pem";
  Certificate() {
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
        key + "' -out '" + cert + "' 2>&1";
    std::string out;
    if (testing::run_command(cmd, &out) != 0) throw std::runtime_error("openssl: " + out);
  }
};

TEST(S3Tls, SelfSignedCertificateIsRefusedWithoutItsCaAndNotRetried) {
  Certificate c;
  testing::S3Servers servers(/*with_proxy=*/false, false, c.cert, c.key);
  S3Config cfg = servers.config();
  cfg.endpoint = "https://127.0.0.1:" + std::to_string(servers.s3rver->port());
  S3CheckpointStorage s(cfg);
  try {
    s.write_file("k", "v");
    FAIL() << "an unverifiable certificate was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorageNetwork);
    EXPECT_NE(std::string(e.what()).find("TLS verification"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("R2_CA_BUNDLE"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.stats().requests, 1u);
}

TEST(S3Tls, TrustingTheCaThroughTheBundleWorks) {
  Certificate c;
  testing::S3Servers servers(/*with_proxy=*/false, false, c.cert, c.key);
  S3Config cfg = servers.config();
  cfg.endpoint = "https://127.0.0.1:" + std::to_string(servers.s3rver->port());
  cfg.ca_bundle = c.cert;
  S3CheckpointStorage s(cfg);
  s.write_file("over/tls", "secret bytes");
  EXPECT_EQ(s.read_file("over/tls"), "secret bytes");
  EXPECT_EQ(s.list_files(""), std::vector<std::string>{"over/tls"});
}

TEST(S3Tls, HostNameMismatchIsRefused) {
  Certificate c;  // valid for 127.0.0.1 and localhost only
  testing::S3Servers servers(/*with_proxy=*/false, false, c.cert, c.key);
  S3Config cfg = servers.config();
  // The same server under a name the certificate does not cover.
  cfg.endpoint = "https://127.0.0.2:" + std::to_string(servers.s3rver->port());
  cfg.ca_bundle = c.cert;
  S3CheckpointStorage s(cfg);
  try {
    (void)s.read_file("k");
    FAIL() << "a certificate for another host was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorageNetwork) << e.what();
  }
}

}  // namespace
}  // namespace strata
