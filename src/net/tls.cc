#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>

#include "common/files.h"

namespace skiff::net {

namespace ssl = boost::asio::ssl;

namespace {

// The reason OpenSSL queued for the last failure, and clears its queue.
std::string openSslError() {
  unsigned long code = ERR_peek_last_error();
  std::string reason = code == 0                                  ? "unknown error"
                       : ERR_reason_error_string(code) != nullptr ? ERR_reason_error_string(code)
                                                                  : "error " + std::to_string(code);
  ERR_clear_error();
  return reason;
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

bool isIpAddress(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

std::string hex(const unsigned char* bytes, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

std::string bioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

bool addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return added;
}

}  // namespace

std::shared_ptr<ssl::context> makeServerTlsContextWithoutCertificate() {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::single_dh_use);
  return context;
}

Result<std::shared_ptr<ssl::context>> makeServerTlsContext(const std::string& cert_file,
                                                           const std::string& key_file) {
  auto context = makeServerTlsContextWithoutCertificate();
  SSL_CTX* ctx = context->native_handle();
  for (const std::string& file : {cert_file, key_file}) {
    if (::access(file.c_str(), R_OK) != 0)
      return unavailable("cannot read " + file + ": " + std::strerror(errno));
  }
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return Status(StatusCode::kInvalid, "the TLS certificate " + cert_file +
                                            " is not a usable PEM certificate: " + openSslError());
  std::unique_ptr<FILE, FileCloser> file(std::fopen(key_file.c_str(), "r"));
  // No passphrase prompt: a server starts unattended, so an encrypted key is an error.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  PkeyPtr key(file ? PEM_read_PrivateKey(file.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!key)
    return Status(
        StatusCode::kInvalid,
        "the TLS key " + key_file +
            " is not a usable PEM private key (unencrypted, EC or RSA): " + openSslError());
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status(StatusCode::kInvalid,
                  "the TLS key " + key_file + " does not belong to the certificate " + cert_file);
  }
  return context;
}

Result<std::shared_ptr<ssl::context>> makeServerTlsContextFromPem(std::string_view cert_chain_pem,
                                                                  std::string_view key_pem) {
  auto context = makeServerTlsContextWithoutCertificate();
  SSL_CTX* ctx = context->native_handle();
  ERR_clear_error();
  BioPtr certs(BIO_new_mem_buf(cert_chain_pem.data(), static_cast<int>(cert_chain_pem.size())));
  X509Ptr leaf(certs ? PEM_read_bio_X509_AUX(certs.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1)
    return Status(StatusCode::kInvalid,
                  "the certificate is not a usable PEM certificate: " + openSslError());
  // The rest of the chain, intermediates first as servers send them.
  while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return Status(StatusCode::kInvalid,
                    "the certificate chain holds an unusable certificate: " + openSslError());
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  PkeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr)
                      : nullptr);
  if (!key)
    return Status(
        StatusCode::kInvalid,
        "the key is not a usable PEM private key (unencrypted, EC or RSA): " + openSslError());
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status(StatusCode::kInvalid, "the key does not belong to the certificate");
  }
  return context;
}

Result<std::string> generateSelfSigned(const SelfSignedRequest& request) {
  auto failed = [](const std::string& what) {
    return internalError("cannot generate a self-signed certificate: " + what + ": " +
                         openSslError());
  };
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return failed("EC key generation");

  // Names in a stable order, without duplicates: the listen host first.
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::vector<std::string> wanted = request.hosts;
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0 && hostname[0] != '\0')
    wanted.emplace_back(hostname);
  for (const char* n : {"localhost", "127.0.0.1", "::1"}) wanted.emplace_back(n);
  for (std::string name : wanted) {
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']')
      name = name.substr(1, name.size() - 2);
    // A wildcard listen address is no name a client connects to.
    if (name.empty() || name == "0.0.0.0" || name == "::") continue;
    if (seen.insert(name).second) names.push_back(name);
  }
  std::string san;
  for (const std::string& name : names) {
    if (!san.empty()) san += ",";
    san += (isIpAddress(name) ? "IP:" : "DNS:") + name;
  }

  X509Ptr cert(X509_new());
  if (!cert) return failed("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return failed("random serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  // An hour of slack for clocks that lag this one.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(request.valid_days) * 86400);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string common_name = "skiff server " + names.front();
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("skiff"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key.get());
  // No keyUsage: OpenSSL then accepts the certificate as its own trust anchor (--ca, curl
  // --cacert) although it is not a CA.
  if (!addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !addExtension(cert.get(), NID_subject_key_identifier, "hash") ||
      !addExtension(cert.get(), NID_subject_alt_name, san))
    return failed("certificate extensions");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return failed("signing");

  BioPtr key_pem(BIO_new(BIO_s_mem()));
  BioPtr cert_pem(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_pem.get(), cert.get()) != 1)
    return failed("PEM encoding");
  if (Status s = writeFileAtomically(request.key_file, bioContents(key_pem.get()), 0600); !s.isOk())
    return s;
  if (Status s = writeFileAtomically(request.cert_file, bioContents(cert_pem.get()), 0644);
      !s.isOk())
    return s;

  int length = i2d_X509(cert.get(), nullptr);
  std::string der(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &out);
  return fingerprintOfDer(der);
}

std::string fingerprintOfDer(std::string_view der) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(der.data(), der.size(), digest, &n, EVP_sha256(), nullptr);
  return "sha256:" + hex(digest, n);
}

Result<std::string> certificateFingerprint(const std::string& cert_file) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(cert_file.c_str(), "r"));
  if (!file) return unavailable("cannot read " + cert_file + ": " + std::strerror(errno));
  X509Ptr cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
  if (!cert)
    return Status(StatusCode::kInvalid, cert_file + " holds no PEM certificate: " + openSslError());
  int length = i2d_X509(cert.get(), nullptr);
  if (length <= 0) return internalError("cannot encode the certificate in " + cert_file);
  std::string der(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &out);
  return fingerprintOfDer(der);
}

Result<std::string> certificateFingerprintOfPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status(StatusCode::kInvalid, "no PEM certificate: " + openSslError());
  int length = i2d_X509(cert.get(), nullptr);
  if (length <= 0) return internalError("cannot encode the certificate");
  std::string der(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &out);
  return fingerprintOfDer(der);
}

Result<bool> certificateNamesHost(const std::string& cert_file, const std::string& host) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(cert_file.c_str(), "r"));
  if (!file) return unavailable("cannot read " + cert_file + ": " + std::strerror(errno));
  X509Ptr cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
  if (!cert)
    return Status(StatusCode::kInvalid, cert_file + " holds no PEM certificate: " + openSslError());
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (isIpAddress(h)) return X509_check_ip_asc(cert.get(), h.c_str(), 0) == 1;
  return X509_check_host(cert.get(), h.c_str(), h.size(), 0, nullptr) == 1;
}

Result<std::string> normalizeFingerprint(std::string_view text) {
  std::string_view digits = text;
  if (digits.size() >= 7) {
    std::string prefix(digits.substr(0, 7));
    for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (prefix == "sha256:") digits.remove_prefix(7);
  }
  std::string hex_digits;
  for (char c : digits) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      hex_digits.clear();
      break;
    }
    hex_digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex_digits.size() != 64)
    return badRequest("\"" + std::string(text) +
                      "\" is not a certificate fingerprint: expected sha256: and 64 hex digits, "
                      "as skiff server prints it");
  return "sha256:" + hex_digits;
}

bool isLoopbackHost(std::string_view host) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(h, ec);
  return !ec && address.is_loopback();
}

}  // namespace skiff::net
