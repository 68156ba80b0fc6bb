#include "net/tls_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <cerrno>
#include <cstring>

#include "net/tls.h"

namespace skiff::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

namespace {

bool isIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// The DNS names and IP addresses a certificate's subjectAltName lists, for error messages.
std::string namesOf(X509* cert) {
  std::string names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    std::string text;
    if (name->type == GEN_DNS) {
      text.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                  static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_IPADD) {
      const int length = ASN1_STRING_length(name->d.iPAddress);
      const unsigned char* bytes = ASN1_STRING_get0_data(name->d.iPAddress);
      if (length == 4) {
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), bytes, 4);
        text = asio::ip::address_v4(b).to_string();
      } else if (length == 16) {
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), bytes, 16);
        text = asio::ip::address_v6(b).to_string();
      }
    }
    if (text.empty()) continue;
    if (!names.empty()) names += ", ";
    names += text;
  }
  GENERAL_NAMES_free(sans);
  return names;
}

std::string derOf(X509* cert) {
  int length = i2d_X509(cert, nullptr);
  if (length <= 0) return {};
  std::string der(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &out);
  return der;
}

// Where an SSL object keeps its ServerVerifier, for the verify callback.
int verifierIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

Status ServerVerifier::configure(ssl::context& context) const {
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (!tls_.client_certificate_pem.empty() || !tls_.client_key_pem.empty()) {
    context.use_certificate_chain(asio::buffer(tls_.client_certificate_pem), ec);
    if (ec) return badRequest("cannot use the client certificate (PEM expected): " + ec.message());
    context.use_private_key(asio::buffer(tls_.client_key_pem), ssl::context::pem, ec);
    if (ec) return badRequest("cannot use the client key (PEM expected): " + ec.message());
  }
  if (!tls_.pinned_sha256.empty()) {
    auto pin = normalizeFingerprint(tls_.pinned_sha256);
    if (!pin.ok()) return pin.status();
    // The pin alone decides, after the handshake and before anything is sent.
    context.set_verify_mode(ssl::verify_none);
    return Status::ok();
  }
  context.set_verify_mode(ssl::verify_peer);
  if (!tls_.ca_pem.empty()) {
    context.add_certificate_authority(asio::buffer(tls_.ca_pem), ec);
    if (ec) return badRequest("cannot load the CA certificates (PEM expected): " + ec.message());
    return Status::ok();
  }
  if (tls_.ca_file.empty()) {
    context.set_default_verify_paths(ec);
    if (ec) return internalError("cannot load the system's trusted certificates: " + ec.message());
    return Status::ok();
  }
  struct stat st;
  if (::stat(tls_.ca_file.c_str(), &st) != 0)
    return badRequest("cannot read the CA file " + tls_.ca_file + ": " + std::strerror(errno));
  context.load_verify_file(tls_.ca_file, ec);
  if (ec)
    return badRequest("cannot load the CA file " + tls_.ca_file +
                      " (PEM certificates expected): " + ec.message());
  // Every certificate in the file is a trust anchor, also a server's own certificate that a
  // CA signed: "trust this" is what a user means by handing it over.
  X509_STORE_set_flags(SSL_CTX_get_cert_store(context.native_handle()), X509_V_FLAG_PARTIAL_CHAIN);
  return Status::ok();
}

int ServerVerifier::recordPeerNames(int preverified, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = ssl == nullptr ? nullptr
                              : static_cast<ServerVerifier*>(SSL_get_ex_data(ssl, verifierIndex()));
  if (self != nullptr && X509_STORE_CTX_get_error_depth(store) == 0)
    self->peer_names_ = namesOf(X509_STORE_CTX_get_current_cert(store));
  return preverified;
}

void ServerVerifier::prepare(SSL* ssl) {
  if (!isIpLiteral(url_.host)) SSL_set_tlsext_host_name(ssl, url_.host.c_str());
  if (tls_.pinned_sha256.empty()) {
    // Chain verification happens in the handshake; the name check is part of it.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (isIpLiteral(url_.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, url_.host.c_str(), url_.host.size());
    }
  }
  SSL_set_ex_data(ssl, verifierIndex(), this);
  SSL_set_verify(ssl, SSL_get_verify_mode(ssl), &ServerVerifier::recordPeerNames);
}

std::string ServerVerifier::withAdvice(std::string message) const {
  if (!tls_.trust_advice.empty()) message += "; " + tls_.trust_advice;
  return message;
}

Status ServerVerifier::check(SSL* ssl, const boost::system::error_code& ec,
                             std::chrono::milliseconds timeout) const {
  if (!ec) {
    if (tls_.pinned_sha256.empty()) return Status::ok();
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr)
      return unavailable("the server at " + url_.authority() + " sent no certificate");
    const std::string actual = fingerprintOfDer(derOf(cert));
    const std::string expected = *normalizeFingerprint(tls_.pinned_sha256);
    if (actual == expected) return Status::ok();
    return unavailable(withAdvice(
        "certificate of " + url_.authority() + " has fingerprint " + actual + ", not the pinned " +
        expected + " (the server's certificate changed, or this is another server)"));
  }
  const long verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_OK || !tls_.pinned_sha256.empty()) {
    std::string message = "TLS handshake with " + url_.authority() + " failed: " +
                          (ec == boost::beast::error::timeout
                               ? "no answer within " + std::to_string(timeout.count()) + "ms"
                               : ec.message());
    // A plain HTTP server answers the client's hello with an HTTP error, or hangs up.
    const bool plain_answer =
        ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_WRONG_VERSION_NUMBER;
    if (plain_answer || ec == ssl::error::stream_truncated || ec == asio::error::eof)
      message += " (is it a plain HTTP server? then its URL starts with http://)";
    return unavailable(message);
  }
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return unavailable(withAdvice(
        "certificate of " + url_.authority() + " is not valid for " + url_.host + " (it names " +
        (peer_names_.empty() ? std::string("no host") : peer_names_) + ")"));
  }
  return unavailable(withAdvice("certificate of " + url_.authority() +
                                " is not trusted: " + X509_verify_cert_error_string(verify)));
}

}  // namespace skiff::net
