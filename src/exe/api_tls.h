// How `skiff server` secures its API. By default over TLS: with the operator's certificate and
// key (--tls-cert/--tls-key), or with a self-signed pair generated on the first start under
// <data-dir>/tls/ and reused afterwards (its fingerprint printed, so that clients can pin it).
// Plain HTTP only when asked for (--insecure-http) and only on a loopback address. Also the
// CLI config written for the platform admin, as k3s writes its kubeconfig.
//
// Called once, from the thread that starts the server.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace skiff {

struct ApiSecurityOptions {
  std::string data_dir;
  std::string listen_host;  // as --listen names it, without IPv6 brackets
  std::string tls_cert;     // with tls_key, or both empty
  std::string tls_key;
  bool insecure_http = false;
};

// Refuses combinations that cannot be served: plain HTTP on an address other hosts can reach,
// a certificate without a key (or the reverse), plain HTTP with a certificate. kInvalid with a
// message for the operator.
Status checkApiSecurityOptions(const ApiSecurityOptions& options);

struct ApiSecurity {
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP
  std::string cert_file;                           // what clients verify the server with
  std::string fingerprint;                         // of the served certificate
  bool generated = false;                          // the certificate was created by this start
  std::string scheme() const { return tls ? "https" : "http"; }
};

// Loads (or, the first time, generates) the certificate and key. Prints the fingerprint of a
// generated certificate on the terminal and logs the served one's.
Result<ApiSecurity> prepareApiSecurity(const ApiSecurityOptions& options);

// The host clients on this machine reach a listen address by: the wildcard addresses become
// loopback ones.
std::string localHostFor(const std::string& listen_host);

// Writes <data-dir>/admin.config.json (mode 0600) for the CLI: the server at `url` and how to
// verify it; no credentials. Only when the file does not exist yet: the admin may have logged
// in with it since. Prints where it is.
void writeAdminCliConfig(const std::string& data_dir, const std::string& url,
                         const ApiSecurity& security);

}  // namespace skiff
