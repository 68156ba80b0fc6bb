// JSON Web Tokens as an OpenID Connect issuer signs them: the compact JWS serialization
// (RFC 7515), the public keys an issuer publishes as a JWK Set (RFC 7517), and signature
// verification with the asymmetric algorithms of RFC 7518 that Skiff accepts: RS256, RS384,
// RS512, PS256, PS384, PS512, ES256, ES384. Unsigned tokens ("none") and shared-secret
// algorithms (HS256...) are never accepted: an issuer's public keys could otherwise be used as
// HMAC secrets to forge tokens.
//
// This file knows nothing about issuers, audiences or time (auth/oidc.h checks those); it
// answers "is this well-formed" and "did this key sign this". Keys are immutable after
// parsing and may be shared between threads; every function is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/types.h>

#include "common/status.h"
#include "model/object.h"

namespace skiff {

// Whether `token` has the shape of a compact JWS: three base64url segments separated by dots,
// the first two non-empty (the signature is empty only in an unsigned token, which
// parseCompactJws() reads so that verification can refuse it by name).
bool looksLikeCompactJws(std::string_view token);

// A decoded compact JWS. Nothing in it is trusted until a key verified `signature` over
// `signing_input`.
struct CompactJws {
  json header;                // a JSON object
  json payload;               // a JSON object (the claims)
  std::string alg;            // header "alg"
  std::string kid;            // header "kid"; empty when absent
  std::string signing_input;  // "<header>.<payload>" exactly as received
  std::string signature;      // the decoded signature bytes
};

// Decodes a compact JWS whose payload is a JSON object. kInvalid saying which part is
// malformed (never quoting the token).
Result<CompactJws> parseCompactJws(std::string_view token);

// Whether `alg` is one of the algorithms above.
bool isSupportedJwsAlgorithm(std::string_view alg);
// "RS256, RS384, ...", for messages.
std::string supportedJwsAlgorithms();

// A public key from a JWK Set: RSA (at least 2048 bits) or EC on P-256 or P-384.
class JsonWebKey {
 public:
  // kInvalid saying why `jwk` cannot be used for verifying signatures: an unsupported "kty" or
  // curve, a "use" other than "sig", "key_ops" without "verify", a malformed or weak key.
  static Result<JsonWebKey> fromJson(const json& jwk);

  const std::string& kid() const { return kid_; }
  // Empty when this key may verify signatures of algorithm `alg`; else why not, e.g.
  //   key "k1" is an RSA key: it cannot verify ES256
  // A key whose JWK names an "alg" verifies only that algorithm.
  std::string unusableFor(std::string_view alg) const;
  // Whether `signature` is this key's signature over `input` with `alg`. False as well for an
  // algorithm the key is unusable for.
  bool verify(std::string_view alg, std::string_view input, std::string_view signature) const;

 private:
  JsonWebKey() = default;

  std::string kid_;
  std::string kty_;  // "RSA" or "EC"
  std::string crv_;  // "P-256", "P-384" for EC keys
  std::string alg_;  // the JWK's "alg"; empty: any algorithm of its type
  std::shared_ptr<EVP_PKEY> key_;
};

struct JsonWebKeySet {
  std::vector<JsonWebKey> keys;
  // Keys of the set that cannot be used, each "key "<kid>": why", so that a token naming one
  // is refused with the reason rather than as an unknown key.
  std::vector<std::pair<std::string, std::string>> unusable;  // kid, reason
};

// Parses a JWK Set document ({"keys": [...]}). Unusable keys are set aside, not errors (an
// issuer may publish encryption keys, or keys of types Skiff does not support); kInvalid only
// when the document itself is malformed.
Result<JsonWebKeySet> parseJsonWebKeySet(std::string_view document);

}  // namespace skiff
