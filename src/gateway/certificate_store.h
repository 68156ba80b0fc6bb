// CertificateStore: the gateway's TLS certificates by host, for choosing one per connection
// from the server name the client asks for (SNI).
//
// The control plane sends certificates and keys with each route table (PUT /routes,
// docs/gateway.md). They live in memory only: never in routes.json or any other file, so a
// restarted gateway serves no HTTPS until the control plane publishes again.
//
// A store is built once by parseCertificates() and never changes; it is shared read-only
// between threads through std::shared_ptr<const CertificateStore>, and find() is safe to call
// from any number of threads at once. Each certificate's SSL context is itself shared by the
// workers' connections (OpenSSL contexts are thread-safe once set up).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace skiff::gateway {

struct Certificate {
  std::string host;         // lowercase DNS name, or "*.example.com" for a wildcard
  std::string fingerprint;  // "sha256:<hex>" of the leaf certificate
  std::shared_ptr<boost::asio::ssl::context> context;
};

class CertificateStore {
 public:
  CertificateStore() = default;
  explicit CertificateStore(std::vector<Certificate> certificates);

  // The certificate for a client's server name (any case, a trailing dot ignored): the one for
  // exactly that host, else a wildcard one covering it ("*.example.com" covers
  // "shop.example.com", not "example.com" nor "a.shop.example.com"); nullptr when none does.
  const Certificate* find(std::string_view server_name) const;

  const std::vector<Certificate>& certificates() const { return certificates_; }
  // [{"host": ..., "fingerprint": ...}] (no keys), as GET /certificates returns it.
  std::string json() const;

 private:
  std::vector<Certificate> certificates_;
  std::map<std::string, size_t, std::less<>> by_host_;
};

// Builds a store from the "certificates" member of a route table document:
//   [{"host": "shop.example.com", "certificate": "<PEM chain>", "key": "<PEM key>"}, ...]
// Errors are kInvalid with one FieldError per bad entry ("certificates[1].key"), naming what
// is wrong without quoting the PEM text. A host given twice is an error.
Result<std::shared_ptr<const CertificateStore>> parseCertificates(
    const nlohmann::json& certificates);

}  // namespace skiff::gateway
