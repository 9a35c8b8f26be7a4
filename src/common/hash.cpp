#include "strata/hash.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include <stdexcept>

#include "strata/error.h"

namespace strata {

uint32_t crc32c(const void* data, size_t len, uint32_t crc) {
  // ISA-L's crc32_iscsi takes and returns the raw register (no final
  // inversion) and an int length; wrap it into the usual continuable form.
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t reg = ~crc;
  while (len > 0) {
    int chunk = len > (1u << 30) ? (1 << 30) : static_cast<int>(len);
    reg = crc32_iscsi(const_cast<unsigned char*>(p), chunk, reg);
    p += chunk;
    len -= static_cast<size_t>(chunk);
  }
  return ~reg;
}

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  State() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      throw Error(ErrorCode::kInternal, "OpenSSL SHA-256 initialisation failed");
    }
  }
  State(const State& o) : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr || EVP_MD_CTX_copy_ex(ctx, o.ctx) != 1) {
      throw Error(ErrorCode::kInternal, "OpenSSL SHA-256 copy failed");
    }
  }
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(const Sha256& other) : state_(std::make_unique<State>(*other.state_)) {}
Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) state_ = std::make_unique<State>(*other.state_);
  return *this;
}

void Sha256::update(const void* data, size_t len) {
  if (len > 0) EVP_DigestUpdate(state_->ctx, data, len);
}

Sha256Digest Sha256::finish() const {
  State copy(*state_);
  Sha256Digest out{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(copy.ctx, out.data(), &n);
  return out;
}

Sha256Digest sha256(const void* data, size_t len) {
  Sha256Digest out{};
  unsigned int n = 0;
  EVP_Digest(data, len, out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xF];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  auto bad = [] { return Error(ErrorCode::kInvalidArgument, "invalid base64 data"); };
  if (text.size() % 4 != 0) throw bad();
  // Padding only at the very end: "xx==" or "xxx=".
  const size_t eq = text.find('=');
  if (eq != std::string_view::npos &&
      (eq < text.size() - 2 || text.find_first_not_of('=', eq) != std::string_view::npos)) {
    throw bad();
  }
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) throw bad();
  }
  std::string out(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) throw bad();
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad++;
  if (text.size() > 1 && text[text.size() - 2] == '=') pad++;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace strata
