// WebSocketClient: a client WebSocket connection (RFC 6455) to an http:// or https:// URL (the
// ws:// and wss:// of the same server), for interactive sessions such as `skiff exec -it`.
// Over https the server is verified exactly as fetch() verifies it (net/tls_client.h) before
// the upgrade request is sent. Messages are binary; control frames (ping, pong, close) are
// answered by the connection itself, and it pings a quiet server to notice one that is gone.
//
// open() connects and asks for the upgrade. A server that answers anything but 101 is not a
// failure: its answer comes back instead of a connection, as an HTTP error answer does from
// fetch(). Failures to resolve, connect, verify or complete the handshake are kUnavailable
// naming the server; a URL, CA file or pin that cannot be used is kBadRequest.
//
// The connection runs on a thread of its own, joined by the destructor (which drops a
// connection still open without a close handshake). Thread-safe: send() and close() from any
// thread, receive() from one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "net/http_client.h"

namespace skiff::net {

struct WebSocketRequest {
  std::string url;  // http://HOST[:PORT]/PATH?QUERY or https://...
  // Sent with the upgrade request, e.g. Authorization. Host, Upgrade, Connection and the
  // Sec-WebSocket-* fields are added.
  std::vector<std::pair<std::string, std::string>> headers;
  // Offered in Sec-WebSocket-Protocol, in order of preference; when any are, the server must
  // choose one of them (WebSocketClient::subprotocol() says which).
  std::vector<std::string> subprotocols;
  // Bounds connecting, the TLS handshake and the upgrade.
  std::chrono::milliseconds timeout{30000};
};

class WebSocketClient {
 public:
  struct Opened {
    std::unique_ptr<WebSocketClient> client;  // null when the server refused the upgrade
    ClientResponse refusal;                   // the server's answer then
  };
  static Result<Opened> open(const WebSocketRequest& request, const TlsClientOptions& tls = {});

  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Queues a binary message, waiting while much is queued already (the server reads slowly);
  // false once the connection has ended.
  bool send(std::string message);
  // The next message, waiting for it; nullopt once the connection has ended, after which
  // ending() says how.
  std::optional<std::string> receive();
  // Sends what is queued, then closes the connection (a close handshake).
  void close();
  // Drops the connection at once, without a close handshake: receive() returns nullopt.
  void abort();
  // OK when the connection ended with a close handshake; kUnavailable saying what broke
  // otherwise. Meaningful once receive() has returned nullopt.
  Status ending() const;
  // The subprotocol the server chose; empty when none was offered.
  const std::string& subprotocol() const { return subprotocol_; }

  class Impl;

 private:
  WebSocketClient(std::unique_ptr<Impl> impl, std::string subprotocol);
  std::unique_ptr<Impl> impl_;
  const std::string subprotocol_;
};

}  // namespace skiff::net
