// TLS material for Skiff's servers: server contexts from PEM files or PEM text, self-signed
// certificates for a server that was given none, and certificate fingerprints ("sha256:<hex>" of
// the DER, what clients pin).
//
// Plain functions over files and strings; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace skiff::net {

// A TLS server context (TLS 1.2 and later) serving the certificate chain in `cert_file` with
// the private key in `key_file` (both PEM). Errors name the file and what is wrong with it,
// including a key that does not belong to the certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> makeServerTlsContext(
    const std::string& cert_file, const std::string& key_file);

// The same from PEM text held in memory (a certificate chain, leaf first, and an unencrypted EC
// or RSA private key), for keys that must never touch the disk. Errors are kInvalid and say
// what is wrong without quoting either text.
Result<std::shared_ptr<boost::asio::ssl::context>> makeServerTlsContextFromPem(
    std::string_view cert_chain_pem, std::string_view key_pem);

// A TLS server context (TLS 1.2 and later) with no certificate, for a listener that picks one
// per connection from the client's server name (SNI) and switches to its context.
std::shared_ptr<boost::asio::ssl::context> makeServerTlsContextWithoutCertificate();

struct SelfSignedRequest {
  std::string cert_file;  // written with mode 0644
  std::string key_file;   // written with mode 0600
  // Names the certificate is valid for: each a DNS name or an IP address literal. localhost,
  // 127.0.0.1 and ::1 are always added; so is the host name of this machine.
  std::vector<std::string> hosts;
  int valid_days = 365;
};

// Generates an EC P-256 key and a self-signed certificate for `request.hosts` and writes both.
// Returns the certificate's fingerprint.
Result<std::string> generateSelfSigned(const SelfSignedRequest& request);

// "sha256:<lowercase hex>" of DER bytes.
std::string fingerprintOfDer(std::string_view der);

// The fingerprint of the first certificate in a PEM file.
Result<std::string> certificateFingerprint(const std::string& cert_file);

// The fingerprint of the first certificate in PEM text.
Result<std::string> certificateFingerprintOfPem(std::string_view pem);

// Whether the first certificate in a PEM file is valid for `host` (a DNS name or an address
// literal), as a client verifying it by name would decide.
Result<bool> certificateNamesHost(const std::string& cert_file, const std::string& host);

// A fingerprint as users may write it ("sha256:AB:CD:...", "SHA256:abcd...", or bare hex as
// `openssl x509 -fingerprint -sha256` prints it) in the canonical "sha256:<lowercase hex>";
// kBadRequest saying what is expected otherwise.
Result<std::string> normalizeFingerprint(std::string_view text);

// Whether `host` (a name or an address literal, IPv6 with or without brackets) is a loopback
// address: "localhost", 127.0.0.0/8, ::1.
bool isLoopbackHost(std::string_view host);

}  // namespace skiff::net
