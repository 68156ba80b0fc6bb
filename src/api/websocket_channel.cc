#include "api/websocket_channel.h"

namespace skiff {

void WebSocketChannel::wakeHandler() {
  if (handler_waker_) handler_waker_();
}

void WebSocketChannel::wakeServer() {
  if (server_waker_) server_waker_();
}

bool WebSocketChannel::send(std::string message) {
  std::lock_guard lock(mu_);
  if (closing_ || ended_) return false;
  outgoing_bytes_ += message.size();
  outgoing_.push_back(std::move(message));
  wakeServer();
  return true;
}

bool WebSocketChannel::canSend() const {
  std::lock_guard lock(mu_);
  return outgoing_bytes_ < max_queued_bytes_;
}

std::vector<std::string> WebSocketChannel::receive() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.swap(incoming_);
  // The server may have paused reading for room.
  if (incoming_bytes_ >= max_queued_bytes_) wakeServer();
  incoming_bytes_ = 0;
  return out;
}

bool WebSocketChannel::ended() const {
  std::lock_guard lock(mu_);
  return ended_;
}

void WebSocketChannel::close() {
  std::lock_guard lock(mu_);
  if (closing_ || ended_) return;
  closing_ = true;
  wakeServer();
}

void WebSocketChannel::setHandlerWaker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  handler_waker_ = std::move(waker);
}

std::vector<std::string> WebSocketChannel::takeOutgoing(bool* closing, bool* ended) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.swap(outgoing_);
  if (outgoing_bytes_ >= max_queued_bytes_) wakeHandler();
  outgoing_bytes_ = 0;
  *closing = closing_;
  *ended = ended_;
  return out;
}

void WebSocketChannel::deliver(std::string message) {
  std::lock_guard lock(mu_);
  if (ended_) return;
  incoming_bytes_ += message.size();
  incoming_.push_back(std::move(message));
  wakeHandler();
}

bool WebSocketChannel::acceptsIncoming() const {
  std::lock_guard lock(mu_);
  return incoming_bytes_ < max_queued_bytes_ && !ended_;
}

void WebSocketChannel::end() {
  std::lock_guard lock(mu_);
  if (ended_) return;
  ended_ = true;
  wakeHandler();
  wakeServer();
}

void WebSocketChannel::setServerWaker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  server_waker_ = std::move(waker);
}

}  // namespace skiff
