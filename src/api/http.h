// Plain HTTP request/response values exchanged between the HTTP server and the handlers, so
// that handlers never see Boost.Beast. A response either has a body, an EventStream (sent
// with chunked encoding until the stream closes or the client leaves) or a WebSocketChannel
// (the connection is upgraded to a WebSocket).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/identity.h"

namespace skiff {

class WebSocketChannel;

struct HttpRequest {
  std::string method;                                 // "GET", "POST", ...
  std::string path;                                   // decoded path, no query
  std::map<std::string, std::string> query;           // a repeated parameter: its last value
  std::multimap<std::string, std::string> query_all;  // every value, in order
  std::map<std::string, std::string> headers;         // lowercase names
  std::string body;
  std::string remote_address;
  // Set by the Gatekeeper before a handler sees the request.
  Identity identity;
  std::string request_id;
  // For a list or watch across tenants (or of tenants): the tenants whose objects the caller
  // may see. Absent: the request was authorised as a whole.
  std::optional<TenantSet> visible_tenants;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  const std::string* queryParam(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  }
  // Every value of a parameter that may be repeated (?command=ls&command=/), in order.
  std::vector<std::string> queryParams(const std::string& name) const {
    std::vector<std::string> values;
    for (auto [it, end] = query_all.equal_range(name); it != end; ++it)
      values.push_back(it->second);
    return values;
  }
};

// A stream of chunks produced on any thread and sent by the server. Thread-safe.
class EventStream {
 public:
  // Bound on queued bytes: a client that cannot keep up is disconnected rather than letting
  // the server buffer without limit (it resumes from the last resourceVersion it saw).
  explicit EventStream(size_t max_queued_bytes = 16 << 20) : max_queued_bytes_(max_queued_bytes) {}
  virtual ~EventStream() = default;

  // Queues a chunk; returns false (and closes the stream) when the queue is over its bound.
  bool push(std::string chunk);
  // No more chunks after those queued.
  void close();

  // Server side: takes everything queued; sets *closed when the stream has ended.
  std::vector<std::string> take(bool* closed);
  // Server side: called (once per push/close, from the producing thread) to wake the sender.
  void setWaker(std::function<void()> waker);
  // Server side: a chunk to send after a quiet period, so dead clients are noticed; empty for
  // none.
  virtual std::string heartbeat() { return {}; }

 private:
  std::mutex mu_;
  const size_t max_queued_bytes_;
  std::vector<std::string> queue_;  // guarded by mu_
  size_t queued_bytes_ = 0;         // guarded by mu_
  bool closed_ = false;             // guarded by mu_
  std::function<void()> waker_;     // guarded by mu_
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<EventStream> stream;  // when set, body is ignored
  // When set, the request was a WebSocket upgrade that the handler accepts: the server answers
  // 101 and then carries the channel's messages (api/websocket_channel.h); status and body are
  // ignored. A request that is no upgrade is answered 400 instead, and the channel ended.
  std::shared_ptr<WebSocketChannel> websocket;
  // When set, the server runs it on its blocking pool (off the event loops) and sends what it
  // returns instead: for handlers that wait, such as durable writes.
  std::function<HttpResponse()> deferred;
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

}  // namespace skiff
