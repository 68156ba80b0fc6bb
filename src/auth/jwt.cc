#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>

#include "auth/random.h"
#include "model/codec.h"

namespace skiff {
namespace {

// Far above any real token (a few KiB even with many groups), far below what would let a
// caller make the server decode megabytes per request.
constexpr size_t kMaxTokenBytes = 64 * 1024;
constexpr int kMinRsaBits = 2048;

enum class Family { kRsa, kRsaPss, kEcdsa };

struct Algorithm {
  std::string_view name;
  const char* digest;
  Family family;
  std::string_view curve;   // JWK "crv" an ECDSA algorithm requires
  size_t coordinate_bytes;  // ECDSA: bytes of r and s in the signature, and of x and y
};

constexpr Algorithm kAlgorithms[] = {
    {"RS256", "SHA256", Family::kRsa, "", 0},
    {"RS384", "SHA384", Family::kRsa, "", 0},
    {"RS512", "SHA512", Family::kRsa, "", 0},
    {"PS256", "SHA256", Family::kRsaPss, "", 0},
    {"PS384", "SHA384", Family::kRsaPss, "", 0},
    {"PS512", "SHA512", Family::kRsaPss, "", 0},
    {"ES256", "SHA256", Family::kEcdsa, "P-256", 32},
    {"ES384", "SHA384", Family::kEcdsa, "P-384", 48},
};

const Algorithm* algorithmNamed(std::string_view name) {
  for (const Algorithm& a : kAlgorithms)
    if (a.name == name) return &a;
  return nullptr;
}

struct BignumFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBuildFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using BignumPtr = std::unique_ptr<BIGNUM, BignumFree>;

Status invalid(std::string message) { return Status(StatusCode::kInvalid, std::move(message)); }

// OpenSSL reports failures on a per-thread queue; a refused signature must not leave entries
// behind for unrelated code on the same thread to find.
template <class T>
T clearingErrors(T value) {
  ERR_clear_error();
  return value;
}

bool isBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

Result<json> decodeSegment(std::string_view segment, const char* what) {
  auto bytes = base64UrlDecode(segment);
  if (!bytes) return invalid(std::string("the token's ") + what + " is not valid base64url");
  auto value = decodeDocument(*bytes, "application/json");
  if (!value.ok() || !value->is_object())
    return invalid(std::string("the token's ") + what + " is not a JSON object");
  return std::move(value).value();
}

// A base64url member of a JWK as a positive big-endian integer.
Result<std::string> keyBytes(const json& jwk, const char* member) {
  auto it = jwk.find(member);
  if (it == jwk.end() || !it->is_string())
    return invalid(std::string("\"") + member + "\" is missing");
  auto bytes = base64UrlDecode(it->get<std::string>());
  if (!bytes || bytes->empty())
    return invalid(std::string("\"") + member + "\" is not a base64url-encoded number");
  return std::move(bytes).value();
}

BignumPtr bignumOf(std::string_view bytes) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
}

// Builds a public key of `type` ("RSA", "EC") from OSSL_PARAMs and checks it.
Result<std::shared_ptr<EVP_PKEY>> publicKeyFromParams(const char* type, OSSL_PARAM_BLD* build) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(build));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return clearingErrors(invalid("the key's parameters do not make a valid public key"));
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return clearingErrors(invalid("the key's parameters do not make a valid public key"));
  return key;
}

Result<std::shared_ptr<EVP_PKEY>> rsaKey(const json& jwk) {
  auto n = keyBytes(jwk, "n");
  if (!n.ok()) return n.status();
  auto e = keyBytes(jwk, "e");
  if (!e.ok()) return e.status();
  BignumPtr modulus = bignumOf(*n);
  BignumPtr exponent = bignumOf(*e);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBuildFree> build(OSSL_PARAM_BLD_new());
  if (!modulus || !exponent || !build ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1)
    return clearingErrors(invalid("the RSA key's \"n\" and \"e\" cannot be read"));
  const int bits = BN_num_bits(modulus.get());
  if (bits < kMinRsaBits)
    return invalid("the RSA key has " + std::to_string(bits) + " bits; at least " +
                   std::to_string(kMinRsaBits) + " are required");
  return publicKeyFromParams("RSA", build.get());
}

Result<std::shared_ptr<EVP_PKEY>> ecKey(const json& jwk, const std::string& crv) {
  const Algorithm* a = algorithmNamed(crv == "P-256" ? "ES256" : "ES384");
  auto x = keyBytes(jwk, "x");
  if (!x.ok()) return x.status();
  auto y = keyBytes(jwk, "y");
  if (!y.ok()) return y.status();
  // RFC 7518 6.2.1.2: the coordinates are exactly the curve's size, leading zeros included.
  if (x->size() != a->coordinate_bytes || y->size() != a->coordinate_bytes)
    return invalid("the " + crv + " key's \"x\" and \"y\" must be " +
                   std::to_string(a->coordinate_bytes) + " bytes each");
  const std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBuildFree> build(OSSL_PARAM_BLD_new());
  if (!build ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      crv == "P-256" ? "prime256v1" : "secp384r1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return clearingErrors(invalid("the " + crv + " key cannot be read"));
  return publicKeyFromParams("EC", build.get());
}

// JWS carries an ECDSA signature as r || s, each left-padded to the curve's size; OpenSSL
// verifies the DER encoding.
std::string ecdsaDer(std::string_view raw) {
  const size_t half = raw.size() / 2;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BignumPtr r = bignumOf(raw.substr(0, half));
  BignumPtr s = bignumOf(raw.substr(half));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  r.release();  // owned by sig now
  s.release();
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return {};
  std::string der(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return {};
  return der;
}

}  // namespace

bool looksLikeCompactJws(std::string_view token) {
  size_t dots = 0;
  size_t segment_length = 0;
  for (char c : token) {
    if (c == '.') {
      if (segment_length == 0 || ++dots > 2) return false;
      segment_length = 0;
    } else if (isBase64UrlChar(c)) {
      ++segment_length;
    } else {
      return false;
    }
  }
  return dots == 2;
}

Result<CompactJws> parseCompactJws(std::string_view token) {
  if (token.size() > kMaxTokenBytes)
    return invalid("the token is larger than " + std::to_string(kMaxTokenBytes / 1024) + " KiB");
  if (!looksLikeCompactJws(token))
    return invalid("the token is not a JWT (three base64url parts separated by dots)");
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  CompactJws jws;
  auto header = decodeSegment(token.substr(0, first), "header");
  if (!header.ok()) return header.status();
  jws.header = std::move(header).value();
  auto payload = decodeSegment(token.substr(first + 1, second - first - 1), "payload");
  if (!payload.ok()) return payload.status();
  jws.payload = std::move(payload).value();
  auto alg = jws.header.find("alg");
  if (alg == jws.header.end() || !alg->is_string())
    return invalid("the token's header has no \"alg\"");
  jws.alg = alg->get<std::string>();
  if (auto kid = jws.header.find("kid"); kid != jws.header.end()) {
    if (!kid->is_string()) return invalid("the token's header has a \"kid\" that is not a string");
    jws.kid = kid->get<std::string>();
  }
  auto signature = base64UrlDecode(token.substr(second + 1));
  if (!signature) return invalid("the token's signature is not valid base64url");
  jws.signature = std::move(signature).value();
  jws.signing_input = std::string(token.substr(0, second));
  return jws;
}

bool isSupportedJwsAlgorithm(std::string_view alg) { return algorithmNamed(alg) != nullptr; }

std::string supportedJwsAlgorithms() {
  std::string out;
  for (const Algorithm& a : kAlgorithms) (out += out.empty() ? "" : ", ") += a.name;
  return out;
}

Result<JsonWebKey> JsonWebKey::fromJson(const json& jwk) {
  if (!jwk.is_object()) return invalid("it is not a JSON object");
  JsonWebKey key;
  if (auto kid = jwk.find("kid"); kid != jwk.end()) {
    if (!kid->is_string()) return invalid("its \"kid\" is not a string");
    key.kid_ = kid->get<std::string>();
  }
  if (auto use = jwk.find("use"); use != jwk.end() && *use != "sig")
    return invalid("its \"use\" is " + use->dump() + ", not \"sig\"");
  if (auto ops = jwk.find("key_ops"); ops != jwk.end()) {
    if (!ops->is_array() || std::find(ops->begin(), ops->end(), "verify") == ops->end())
      return invalid("its \"key_ops\" do not include \"verify\"");
  }
  if (auto alg = jwk.find("alg"); alg != jwk.end()) {
    if (!alg->is_string() || !isSupportedJwsAlgorithm(alg->get<std::string>()))
      return invalid("its \"alg\" " + alg->dump() + " is not one Skiff accepts (" +
                     supportedJwsAlgorithms() + ")");
    key.alg_ = alg->get<std::string>();
  }
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) return invalid("it has no \"kty\"");
  key.kty_ = kty->get<std::string>();
  if (key.kty_ == "EC") {
    auto crv = jwk.find("crv");
    if (crv == jwk.end() || (*crv != "P-256" && *crv != "P-384"))
      return invalid("its curve " + (crv == jwk.end() ? std::string("(none)") : crv->dump()) +
                     " is not supported (P-256, P-384 are)");
    key.crv_ = crv->get<std::string>();
  } else if (key.kty_ != "RSA") {
    return invalid("its key type " + kty->dump() +
                   " is not supported: tokens are verified with RSA or EC public keys");
  }
  auto pkey = key.kty_ == "RSA" ? rsaKey(jwk) : ecKey(jwk, key.crv_);
  if (!pkey.ok()) return pkey.status();
  key.key_ = std::move(pkey).value();
  if (!key.alg_.empty())
    if (std::string why = key.unusableFor(key.alg_); !why.empty()) return invalid(why);
  return key;
}

std::string JsonWebKey::unusableFor(std::string_view alg) const {
  const Algorithm* a = algorithmNamed(alg);
  const std::string name = kid_.empty() ? std::string("the key") : "key \"" + kid_ + "\"";
  if (a == nullptr) return "algorithm \"" + std::string(alg) + "\" is not supported";
  if (!alg_.empty() && alg_ != alg)
    return name + " is for " + alg_ + ": it cannot verify " + std::string(alg);
  if (a->family == Family::kEcdsa) {
    if (kty_ != "EC") return name + " is an " + kty_ + " key: it cannot verify " + std::string(alg);
    if (crv_ != a->curve)
      return name + " is on curve " + crv_ + ": " + std::string(alg) + " needs " +
             std::string(a->curve);
  } else if (kty_ != "RSA") {
    return name + " is an " + kty_ + " key: it cannot verify " + std::string(alg);
  }
  return {};
}

bool JsonWebKey::verify(std::string_view alg, std::string_view input,
                        std::string_view signature) const {
  if (!unusableFor(alg).empty()) return false;
  const Algorithm* a = algorithmNamed(alg);
  std::string der;
  if (a->family == Family::kEcdsa) {
    if (signature.size() != 2 * a->coordinate_bytes) return false;
    der = ecdsaDer(signature);
    if (der.empty()) return clearingErrors(false);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md || EVP_DigestVerifyInit_ex(md.get(), &pctx, a->digest, nullptr, nullptr, key_.get(),
                                     nullptr) != 1)
    return clearingErrors(false);
  // RFC 7518 3.5: MGF1 with the same hash, and a salt as long as the hash.
  if (a->family == Family::kRsaPss &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, a->digest, nullptr) != 1))
    return clearingErrors(false);
  const int rc = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(input.data()), input.size());
  return clearingErrors(rc == 1);
}

Result<JsonWebKeySet> parseJsonWebKeySet(std::string_view document) {
  auto doc = decodeDocument(document, "application/json");
  if (!doc.ok()) return invalid("the JWK Set is not JSON: " + doc.status().message());
  auto keys = doc->is_object() ? doc->find("keys") : doc->end();
  if (!doc->is_object() || keys == doc->end() || !keys->is_array())
    return invalid("the JWK Set has no \"keys\" array");
  JsonWebKeySet set;
  for (const json& entry : *keys) {
    auto key = JsonWebKey::fromJson(entry);
    if (key.ok()) {
      set.keys.push_back(std::move(key).value());
      continue;
    }
    const json kid = entry.is_object() ? entry.value("kid", json()) : json();
    set.unusable.emplace_back(kid.is_string() ? kid.get<std::string>() : "",
                              key.status().message());
  }
  return set;
}

}  // namespace skiff
