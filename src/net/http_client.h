// An HTTP/1.1 client for http:// and https:// URLs: one request per connection, with a deadline,
// for the CLI, identity-provider calls (OIDC) and cluster APIs; ConnectionPool keeps
// connections alive between requests. The transport (Boost.Beast, OpenSSL) stays in
// http_client.cc.
//
// For https the server is verified before a byte of the request is sent: either its
// certificate's SHA-256 fingerprint equals a pinned one (exactly that certificate is trusted,
// whatever its names or issuer), or its chain verifies against a CA file (or the system's trust
// store) and the certificate names the host of the URL (DNS or IP address SAN). There is no
// fallback to plain HTTP and no "insecure" switch.
//
// Every failure is a Status saying what failed and where (the URL's host:port): kUnavailable
// for resolving, connecting, the TLS handshake, verification and the deadline; kBadRequest for
// a URL, CA file or pin that cannot be used. An HTTP error answer (4xx, 5xx) is not a failure:
// it is a ClientResponse with that status.
//
// The functions share nothing between calls; they are safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace skiff::net {

struct TlsClientOptions {
  // PEM file of the certificates to trust; empty: the system's trust store.
  std::string ca_file;
  // PEM text of the certificates to trust, as kubeconfigs carry them; used instead of ca_file
  // when set.
  std::string ca_pem;
  // A client certificate (chain) and its key, PEM text, for servers that authenticate clients
  // by certificate (a Kubernetes API server).
  std::string client_certificate_pem;
  std::string client_key_pem;
  // "sha256:<hex>" of the server certificate's DER; when set, exactly that certificate is
  // trusted (ca_file and the system store are not consulted).
  std::string pinned_sha256;
  // Appended to the message when the server's certificate is not trusted, to say what the
  // user can do about it, e.g. "pass --ca or --fingerprint".
  std::string trust_advice;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http://HOST[:PORT][/PATH[?QUERY]], https://...; [::1] for IPv6
  // Sent as given. Host, Content-Length, and (unless given) User-Agent and Connection: close
  // are added.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Bounds the whole exchange for fetch(); for fetchStreaming(), up to the answer's head.
  std::chrono::milliseconds timeout{10000};
  // An answer with a larger body is an error rather than a memory hog.
  uint64_t max_response_bytes = uint64_t{64} << 20;
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;

  // The first header named `name` (case-insensitive); empty when absent.
  std::string header(std::string_view name) const;
};

// Sends `request` and reads the whole answer.
Result<ClientResponse> fetch(const ClientRequest& request, const TlsClientOptions& tls = {});

// For open-ended answers (watches, log follows): a 2xx answer's body is handed to `on_data` as
// it arrives, until `on_data` returns false, the body ends or the server hangs up; there is no
// deadline after the head. The returned response then has an empty body. Any other answer's body is
// read whole into the returned response, as fetch() does.
Result<ClientResponse> fetchStreaming(const ClientRequest& request,
                                      const std::function<bool(std::string_view data)>& on_data,
                                      const TlsClientOptions& tls = {});

struct HttpConnection;

// Kept-alive connections (HTTP/1.1 persistent connections) for a client that sends many
// requests to the same servers, like the Kubernetes API client: a request takes an idle
// connection to its server or opens one, and gives it back once the answer was read whole and
// the server did not ask to close it. A request that fails on a kept connection before any
// answer arrives (the server closed it while it was idle) is sent once more on a new one.
// At most `max_idle` connections are kept. Thread-safe; each request has its connection to
// itself.
class ConnectionPool {
 public:
  explicit ConnectionPool(TlsClientOptions tls, size_t max_idle = 8);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // As net::fetch(), with the pool's TLS options.
  Result<ClientResponse> fetch(const ClientRequest& request);

 private:
  Result<ClientResponse> keep(std::unique_ptr<HttpConnection> connection,
                              Result<ClientResponse> answer);

  const TlsClientOptions tls_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<HttpConnection>> idle_;  // guarded by mu_
};

// The parts of an http(s) URL that a connection needs.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  uint16_t port = 0;   // the scheme's default when the URL names none
  std::string target;  // path and query, "/" at least; the fragment is dropped

  // "host:port", with brackets around an IPv6 host: how errors name the server.
  std::string authority() const;
};

// RFC 3986 percent-encoding of everything but unreserved characters, for a path segment or a
// query value.
std::string percentEncode(std::string_view value);

// kBadRequest naming the URL when it is not an absolute http or https URL.
Result<Url> parseUrl(const std::string& url);

}  // namespace skiff::net
