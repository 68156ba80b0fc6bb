#include "image/digest.h"

#include <openssl/evp.h>

namespace skiff::image {

Result<Digest> Digest::parse(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (!text.starts_with(kPrefix))
    return badRequest("digest \"" + std::string(text) +
                      "\" is not a sha256 digest: expected sha256:<64 hex digits>");
  std::string_view hex = text.substr(kPrefix.size());
  bool valid = hex.size() == 64;
  for (char c : hex) valid = valid && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!valid)
    return badRequest("digest \"" + std::string(text) +
                      "\" is malformed: expected sha256: and 64 lowercase hex digits");
  return Digest(std::string(hex));
}

Digest Digest::of(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.finish();
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  SKIFF_ASSERT(ctx_->md != nullptr && EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) == 1,
               "OpenSSL cannot initialise SHA-256");
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  SKIFF_ASSERT(EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) == 1,
               "OpenSSL SHA-256 update failed");
}

Digest Sha256::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  SKIFF_ASSERT(EVP_DigestFinal_ex(ctx_->md, out, &len) == 1, "OpenSSL SHA-256 final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 0xf]);
  }
  return Digest(std::move(hex));
}

}  // namespace skiff::image
