// A test identity provider's signing side, for the OIDC tests (unit and end-to-end): private
// keys generated with OpenSSL, their public JWKs, and JWTs signed with them. Independent of
// Skiff's own JWT code (auth/jwt.h), so the tests check it against OpenSSL directly.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace skiff::testing {

inline std::string base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = acc << 8 | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[acc >> bits & 63];
    }
  }
  if (bits > 0) out += kAlphabet[acc << (6 - bits) & 63];
  return out;
}

// "<header>.<payload>.<signature>" from its parts (the signature as raw bytes).
inline std::string compactJws(const nlohmann::json& header, const nlohmann::json& payload,
                              std::string_view signature) {
  return base64Url(header.dump()) + "." + base64Url(payload.dump()) + "." + base64Url(signature);
}

// A private signing key of a test issuer.
class TestSigningKey {
 public:
  static TestSigningKey rsa(std::string kid, int bits = 2048) {
    return TestSigningKey(std::move(kid), EVP_RSA_gen(static_cast<unsigned>(bits)), "RSA");
  }
  // `curve`: "P-256" or "P-384".
  static TestSigningKey ec(std::string kid, const std::string& curve = "P-256") {
    return TestSigningKey(std::move(kid), EVP_EC_gen(curve == "P-256" ? "prime256v1" : "secp384r1"),
                          curve);
  }

  const std::string& kid() const { return kid_; }

  // The public key as a JWK. `alg`, when not empty, is written into it.
  nlohmann::json jwk(const std::string& alg = "") const {
    nlohmann::json out = {{"kid", kid_}, {"use", "sig"}};
    if (!alg.empty()) out["alg"] = alg;
    if (type_ == "RSA") {
      out["kty"] = "RSA";
      out["n"] = base64Url(bignum(OSSL_PKEY_PARAM_RSA_N, 0));
      out["e"] = base64Url(bignum(OSSL_PKEY_PARAM_RSA_E, 0));
    } else {
      const size_t size = type_ == "P-256" ? 32 : 48;
      out["kty"] = "EC";
      out["crv"] = type_;
      out["x"] = base64Url(bignum(OSSL_PKEY_PARAM_EC_PUB_X, size));
      out["y"] = base64Url(bignum(OSSL_PKEY_PARAM_EC_PUB_Y, size));
    }
    return out;
  }

  // A JWT of `claims` signed with `alg` (RS*, PS*, ES*), naming this key's kid.
  std::string sign(const nlohmann::json& claims, const std::string& alg) const {
    return signWithHeader({{"alg", alg}, {"typ", "JWT"}, {"kid", kid_}}, claims);
  }
  std::string signWithHeader(const nlohmann::json& header, const nlohmann::json& claims) const {
    const std::string alg = header.at("alg");
    const std::string input = base64Url(header.dump()) + "." + base64Url(claims.dump());
    return input + "." + base64Url(signature(alg, input));
  }

  // The raw JWS signature of `input` with `alg`.
  std::string signature(const std::string& alg, std::string_view input) const {
    const std::string digest = "SHA" + alg.substr(2);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr;
    check(EVP_DigestSignInit_ex(md.get(), &pctx, digest.c_str(), nullptr, nullptr, key_.get(),
                                nullptr) == 1);
    if (alg[0] == 'P') {
      check(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
      check(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
    }
    size_t length = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    check(EVP_DigestSign(md.get(), nullptr, &length, data, input.size()) == 1);
    std::string sig(length, '\0');
    check(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &length, data,
                         input.size()) == 1);
    sig.resize(length);
    if (alg[0] != 'E') return sig;
    // DER to the r || s that JWS uses.
    const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> parsed(
        d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size())), ECDSA_SIG_free);
    check(parsed != nullptr);
    const int size = type_ == "P-256" ? 32 : 48;
    std::string raw(2 * static_cast<size_t>(size), '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    check(BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), out, size) == size);
    check(BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), out + size, size) == size);
    return raw;
  }

 private:
  TestSigningKey(std::string kid, EVP_PKEY* key, std::string type)
      : kid_(std::move(kid)), key_(key, EVP_PKEY_free), type_(std::move(type)) {
    check(key != nullptr);
  }

  static void check(bool ok) {
    if (!ok) throw std::runtime_error("OpenSSL failed in the OIDC test support");
  }

  // A big-endian parameter of the key, left-padded to `size` bytes (0: no padding).
  std::string bignum(const char* param, size_t size) const {
    BIGNUM* bn = nullptr;
    check(EVP_PKEY_get_bn_param(key_.get(), param, &bn) == 1);
    std::unique_ptr<BIGNUM, decltype(&BN_free)> owned(bn, BN_free);
    const size_t length = size ? size : static_cast<size_t>(BN_num_bytes(bn));
    std::string out(length, '\0');
    check(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()),
                       static_cast<int>(length)) == static_cast<int>(length));
    return out;
  }

  std::string kid_;
  std::shared_ptr<EVP_PKEY> key_;
  std::string type_;  // "RSA", "P-256", "P-384"
};

}  // namespace skiff::testing
