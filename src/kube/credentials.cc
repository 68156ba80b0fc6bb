#include "kube/credentials.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "auth/jwt.h"

namespace skiff::kube {
namespace {

std::optional<std::chrono::system_clock::time_point> certificateNotAfter(const std::string& pem) {
  if (pem.empty()) return std::nullopt;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return std::nullopt;
  struct tm t = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&t));
}

std::optional<std::chrono::system_clock::time_point> tokenExpiry(const std::string& token) {
  if (!looksLikeCompactJws(token)) return std::nullopt;
  auto jws = parseCompactJws(token);
  if (!jws.ok() || !jws->payload.contains("exp") || !jws->payload["exp"].is_number())
    return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::seconds(jws->payload["exp"].get<int64_t>()));
}

}  // namespace

std::optional<CredentialExpiry> credentialExpiry(const std::string& certificate_pem,
                                                 const std::string& token) {
  std::optional<CredentialExpiry> out;
  if (auto at = certificateNotAfter(certificate_pem))
    out = CredentialExpiry{*at, "client certificate"};
  if (auto at = tokenExpiry(token); at && (!out || *at < out->at))
    out = CredentialExpiry{*at, "token"};
  return out;
}

}  // namespace skiff::kube
