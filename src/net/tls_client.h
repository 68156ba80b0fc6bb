// ServerVerifier: how a client verifies the TLS server it connects to, as TlsClientOptions
// (net/http_client.h) say: a pinned certificate fingerprint, or a chain that verifies against a
// CA (file, PEM text or the system's trust store) for a certificate naming the URL's host. The
// same rules and the same error messages for every client that makes its own TLS connection
// (net/websocket.cc), so that none verifies less.
//
// Use: configure() the context, prepare() the SSL object before the handshake, check() after
// it; nothing may be sent before check() succeeds. One verifier per connection; not
// thread-safe (the connection's thread uses it).
#pragma once

#include <chrono>
#include <string>

#include <boost/system/error_code.hpp>

#include "common/status.h"
#include "net/http_client.h"

struct ssl_st;
struct x509_store_ctx_st;

namespace boost::asio::ssl {
class context;
}

namespace skiff::net {

class ServerVerifier {
 public:
  // `tls` and `url` must outlive the verifier.
  ServerVerifier(const TlsClientOptions& tls, const Url& url) : tls_(tls), url_(url) {}
  ServerVerifier(const ServerVerifier&) = delete;
  ServerVerifier& operator=(const ServerVerifier&) = delete;

  // TLS 1.2 and later, the client certificate if any, and what to trust. kBadRequest for a CA
  // file, CA text, client certificate or pin that cannot be used.
  Status configure(boost::asio::ssl::context& context) const;
  // The server name (SNI) and, unless a pin decides, the name the certificate must carry.
  void prepare(ssl_st* ssl);
  // kUnavailable saying why when the handshake failed (`handshake_error`, after `timeout` for
  // a timeout) or the pinned certificate is not the server's; OK otherwise.
  Status check(ssl_st* ssl, const boost::system::error_code& handshake_error,
               std::chrono::milliseconds timeout) const;

 private:
  static int recordPeerNames(int preverified, x509_store_ctx_st* store);
  std::string withAdvice(std::string message) const;

  const TlsClientOptions& tls_;
  const Url& url_;
  std::string peer_names_;  // the server certificate's names, for a mismatch's message
};

}  // namespace skiff::net
