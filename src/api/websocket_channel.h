// WebSocketChannel: the two message queues of one upgraded WebSocket connection (RFC 6455),
// between the handler that asked for the upgrade and the HTTP server that speaks the protocol
// on its event loops, so that handlers never see Boost.Beast (as EventStream does for chunked
// answers). A handler answers a request with HttpResponse::websocket set to a channel; the
// server completes the handshake, offering the channel's subprotocol, then delivers every
// message the peer sends and sends every message the handler queues, as binary messages.
//
// Both directions are bounded: a handler stops producing while canSend() is false, and the
// server stops reading from the peer while the handler has not taken what arrived (TCP then
// pushes back on the peer). The handler's waker is called whenever there is something for it
// to look at again: a message arrived, the outgoing queue drained, or the connection ended.
//
// Thread-safe. Wakers are called with the channel's lock held: they must only signal (write an
// eventfd, post to an executor), never call back into the channel. After setHandlerWaker()
// or setServerWaker() returns, the previous waker is no longer running nor called again.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace skiff {

class WebSocketChannel {
 public:
  explicit WebSocketChannel(std::string subprotocol, size_t max_queued_bytes = 1 << 20)
      : subprotocol_(std::move(subprotocol)), max_queued_bytes_(max_queued_bytes) {}

  // The subprotocol (Sec-WebSocket-Protocol) the server answers the handshake with.
  const std::string& subprotocol() const { return subprotocol_; }

  // --- Handler side.
  // Queues a binary message; false once the connection has ended or is closing.
  bool send(std::string message);
  // Whether less than the bound waits to be sent.
  bool canSend() const;
  // Takes the messages received so far.
  std::vector<std::string> receive();
  // Whether the connection has ended without close(): the peer left, the handshake failed or
  // the server is stopping. Nothing more arrives then, and nothing more is sent.
  bool ended() const;
  // Sends what is queued, then closes the connection normally.
  void close();
  void setHandlerWaker(std::function<void()> waker);

  // --- Server side.
  // Takes what is queued for sending; sets *closing once the handler has closed the channel
  // (after these messages) and *ended once it has ended.
  std::vector<std::string> takeOutgoing(bool* closing, bool* ended);
  // Hands a message from the peer to the handler.
  void deliver(std::string message);
  // Whether the handler has taken enough of what arrived for the server to read on.
  bool acceptsIncoming() const;
  // The connection is gone (or going): the handler stops.
  void end();
  void setServerWaker(std::function<void()> waker);

 private:
  void wakeHandler();  // requires mu_
  void wakeServer();   // requires mu_

  // Constant after construction.
  const std::string subprotocol_;
  const size_t max_queued_bytes_;

  mutable std::mutex mu_;
  std::vector<std::string> outgoing_;    // guarded by mu_
  size_t outgoing_bytes_ = 0;            // guarded by mu_
  std::vector<std::string> incoming_;    // guarded by mu_
  size_t incoming_bytes_ = 0;            // guarded by mu_
  bool closing_ = false;                 // guarded by mu_
  bool ended_ = false;                   // guarded by mu_
  std::function<void()> handler_waker_;  // guarded by mu_
  std::function<void()> server_waker_;   // guarded by mu_
};

}  // namespace skiff
