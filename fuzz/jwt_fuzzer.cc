// libFuzzer harness for the JWT code that reads bearer tokens before anyone is authenticated
// (auth/jwt.h): the shape check, compact JWS decoding, JWK Set parsing and signature
// verification (including the r || s to DER conversion of ECDSA signatures) with arbitrary
// bytes. An input starting with 'K' is a JWK Set document; anything else is a token, verified
// against every key of a fixed JWK Set. Built and run by scripts/fuzz.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/jwt.h"

namespace {

// Public keys of a test issuer: RSA 2048 ("rsa"), EC P-256 ("ec", ES256 only), EC P-384.
std::string keySetDocument() {
  const skiff::json keys = {
      {{"kty", "RSA"},
       {"kid", "rsa"},
       {"use", "sig"},
       {"n",
        "vT_O7ztlrCjEpqqzeoSKr8J9gQW4k0HlO6oE5j72JfDOYLUIBOSXb014DBLPkXKUeM06AHFQz8Zuuo-O"
        "61H_yVkZXXfgVhO0mKlQpbD86tcfChqmWewMfZn1zAl6Vk4Gxc0CYpfktcO9Hr0RdATQMZhmUjBnLU_A"
        "YauO7PkoBkxQfVu9qirTWsKiyroHIgRRFBI9qdInEJo5lrfq57wT3dAv-MCJBAjJ5gEovXZasm-Gtp0d"
        "McAfW6lmnUj4yVOGOSv9PgfhHLPe7-iMtOm2jkm-hb0365fEhPDUf-8-6doZ1jBOZOIaLIqEIjyUdXoS"
        "PN9HGWY3zRMX9GyjcKxO1w"},
       {"e", "AQAB"}},
      {{"kty", "EC"},
       {"kid", "ec"},
       {"crv", "P-256"},
       {"alg", "ES256"},
       {"use", "sig"},
       {"x", "Dt7z-9HP6KR6nham74s2p6ZF8aTdtU3p9xC1Ngv5NVY"},
       {"y", "SXCxU7AagyVuBDawPepYW4P9V4Kz4VZ5oB1UBwq9PnQ"}},
      {{"kty", "EC"},
       {"kid", "ec384"},
       {"crv", "P-384"},
       {"use", "sig"},
       {"x", "-ePZiKvtayIlJU--PjDRMy7v-2mNgT4WtUE7vrQrnHY93ndalACi9eLTaoCAePIv"},
       {"y", "0aQMlN8Av-mOvPRdgMB55wUVL9c9uk7P7Vk2clzs3WJfSXQlMZc1PjBDQI3Yr7KI"}}};
  return skiff::json{{"keys", keys}}.dump();
}

const skiff::JsonWebKeySet& keys() {
  static const skiff::JsonWebKeySet set = [] {
    auto parsed = skiff::parseJsonWebKeySet(keySetDocument());
    if (!parsed.ok() || parsed->keys.size() != 3) {
      std::fprintf(stderr, "the fuzzer's own keys do not parse\n");
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return set;
}

void fuzzToken(std::string_view token) {
  const bool shaped = skiff::looksLikeCompactJws(token);
  auto jws = skiff::parseCompactJws(token);
  if (!jws.ok()) return;
  if (!shaped) {
    std::fprintf(stderr, "parsed a token that does not look like one\n");
    std::abort();
  }
  if (!skiff::isSupportedJwsAlgorithm(jws->alg)) return;
  for (const skiff::JsonWebKey& key : keys().keys) {
    const bool usable = key.unusableFor(jws->alg).empty();
    if (key.verify(jws->alg, jws->signing_input, jws->signature) && !usable) {
      std::fprintf(stderr, "a key verified an algorithm it is unusable for\n");
      std::abort();
    }
  }
}

void fuzzKeySet(std::string_view document) {
  auto set = skiff::parseJsonWebKeySet(document);
  if (!set.ok()) return;
  for (const skiff::JsonWebKey& key : set->keys)
    for (const char* alg : {"RS256", "PS512", "ES256", "ES384"})
      if (key.verify(alg, "header.payload", std::string(96, '\x01'))) {
        std::fprintf(stderr, "a made-up signature verified\n");
        std::abort();
      }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (!input.empty() && input.front() == 'K') {
    fuzzKeySet(input.substr(1));
  } else {
    fuzzToken(input);
  }
  return 0;
}
