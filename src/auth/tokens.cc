#include "auth/tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth/random.h"

namespace skiff {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kSecretLength = (kSecretBytes * 4 + 2) / 3;  // base64url without padding

bool isLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool isBase64Url(std::string_view s) {
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  return true;
}

}  // namespace

GeneratedToken generateToken() {
  GeneratedToken t;
  t.id = hexEncode(secureRandomBytes(kTokenIdLength / 2));
  t.token =
      std::string(kTokenPrefix) + t.id + "_" + base64UrlEncode(secureRandomBytes(kSecretBytes));
  return t;
}

std::optional<std::string> tokenIdOf(std::string_view token) {
  if (token.size() != kTokenPrefix.size() + kTokenIdLength + 1 + kSecretLength ||
      token.substr(0, kTokenPrefix.size()) != kTokenPrefix)
    return std::nullopt;
  token.remove_prefix(kTokenPrefix.size());
  std::string_view id = token.substr(0, kTokenIdLength);
  if (!isLowerHex(id) || token[kTokenIdLength] != '_' ||
      !isBase64Url(token.substr(kTokenIdLength + 1)))
    return std::nullopt;
  return std::string(id);
}

std::string tokenDigest(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return hexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool digestsEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace skiff
