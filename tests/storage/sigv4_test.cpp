// The SigV4 signer against AWS's published worked examples (the S3 API
// reference "Signature Calculations for the Authorization Header" examples:
// credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,
// 20130524T000000Z, us-east-1, bucket examplebucket).
#include "storage/sigv4.h"

#include <gtest/gtest.h>

#include "strata/error.h"
#include "strata/hash.h"

namespace strata::storage {
namespace {

const Credentials kAwsExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                              ""};
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kDate = "20130524T000000Z";

TEST(SigV4, AwsExampleGetObjectWithRange) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = encode_path("", "test.txt");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmpty},
               {"x-amz-date", kDate}};
  r.payload_hash = kEmpty;
  Signature s = sign(r, kAwsExample, "us-east-1", "s3", kDate);
  EXPECT_EQ(
      s.canonical_request,
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, AwsExamplePutObjectEncodesDollarInKey) {
  std::string body = "Welcome to Amazon S3.";
  std::string hash = sha256_hex(body);
  ASSERT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SignableRequest r;
  r.method = "PUT";
  r.encoded_path = encode_path("", "test$file.text");
  EXPECT_EQ(r.encoded_path, "/test%24file.text");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", kDate},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", hash}};
  r.payload_hash = hash;
  Signature s = sign(r, kAwsExample, "us-east-1", "s3", kDate);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(s.signed_headers, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, AwsExampleGetBucketLifecycleEmptyQueryValue) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = "/";
  r.query = {{"lifecycle", ""}};
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-date", kDate},
               {"x-amz-content-sha256", kEmpty}};
  r.payload_hash = kEmpty;
  Signature s = sign(r, kAwsExample, "us-east-1", "s3", kDate);
  EXPECT_EQ(canonical_query(r.query), "lifecycle=");
  EXPECT_EQ(s.string_to_sign.substr(s.string_to_sign.rfind('\n') + 1),
            "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
  EXPECT_EQ(s.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, AwsExampleListObjectsSortsQuery) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = "/";
  r.query = {{"prefix", "J"}, {"max-keys", "2"}};  // given unsorted on purpose
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-date", kDate},
               {"x-amz-content-sha256", kEmpty}};
  r.payload_hash = kEmpty;
  Signature s = sign(r, kAwsExample, "us-east-1", "s3", kDate);
  EXPECT_EQ(canonical_query(r.query), "max-keys=2&prefix=J");
  EXPECT_EQ(s.string_to_sign.substr(s.string_to_sign.rfind('\n') + 1),
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  EXPECT_EQ(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, UriEncodeFollowsRfc3986Unreserved) {
  EXPECT_EQ(uri_encode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(uri_encode("a b+c*d/e", false), "a%20b%2Bc%2Ad%2Fe");
  EXPECT_EQ(uri_encode("a b+c*d/e", true), "a%20b%2Bc%2Ad/e");
  EXPECT_EQ(uri_encode("é", false), "%C3%A9");
  EXPECT_EQ(uri_encode("!'()=&%", false), "%21%27%28%29%3D%26%25");
  EXPECT_EQ(encode_path("/bucket", "dir/sub dir/f+1.txt"), "/bucket/dir/sub%20dir/f%2B1.txt");
}

TEST(SigV4, QueryEncodesAndSortsRepeatedNamesByValue) {
  Params q = {{"b", "2"}, {"a", "z"}, {"a", "y"}, {"c d", "x=y&z"}, {"A", ""}};
  EXPECT_EQ(canonical_query(q), "A=&a=y&a=z&b=2&c%20d=x%3Dy%26z");
}

TEST(SigV4, HeaderValuesAreTrimmedAndInnerBlanksCollapsed) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = "/";
  r.headers = {{"Host", "h"}, {"X-Amz-Meta-A", "  one   two\t three  "}, {"x-amz-date", kDate}};
  r.payload_hash = kEmpty;
  Signature s = sign(r, kAwsExample, "us-east-1", "s3", kDate);
  EXPECT_NE(s.canonical_request.find("\nx-amz-meta-a:one two three\n"), std::string::npos);
}

TEST(SigV4, RepeatedHeadersAreJoinedWithComma) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = "/";
  r.headers = {{"Host", "h"}, {"X-Amz-Meta-A", "1"}, {"x-amz-meta-a", "2"}, {"x-amz-date", kDate}};
  r.payload_hash = kEmpty;
  Signature s = sign(r, kAwsExample, "us-east-1", "s3", kDate);
  EXPECT_NE(s.canonical_request.find("\nx-amz-meta-a:1,2\n"), std::string::npos);
  EXPECT_EQ(s.signed_headers, "host;x-amz-date;x-amz-meta-a");
}

TEST(SigV4, RefusesLineBreaksInHeaderValues) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = "/";
  r.headers = {{"Host", "h"}, {"x-amz-meta-a", "a\r\nInjected: 1"}};
  try {
    sign(r, kAwsExample, "us-east-1", "s3", kDate);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(SigV4, AmzDateFormatsUtc) {
  EXPECT_EQ(amz_date(1369353600), "20130524T000000Z");
  EXPECT_EQ(amz_date(0), "19700101T000000Z");
  EXPECT_EQ(amz_date(4102444799), "20991231T235959Z");
}

}  // namespace
}  // namespace strata::storage
