// HttpServer: an HTTP/1.1 server (Boost.Beast, C++20 coroutines) that hands each request to an
// HttpHandler, over TLS when given a context (net/tls.h makes one) or plain TCP. Keep-alive, a
// request body limit, chunked streaming of EventStreams, WebSocket upgrades that a handler
// accepts (carried as a WebSocketChannel, with pings to notice a peer that is gone), and a
// graceful stop that finishes in-flight requests and ends streams and WebSockets.
//
// Handlers run on the server's threads and must not block for long. start()/stop() are called
// from one owning thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/http.h"
#include "common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace skiff {

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 0;          // 0: pick a free port (see port())
    int threads = 2;            // event loops
    int blocking_threads = 32;  // for deferred handlers, which may wait
    size_t max_body_bytes = 1 << 20;
    // When set, every connection is TLS with this context; null: plain HTTP.
    std::shared_ptr<boost::asio::ssl::context> tls;
  };

  HttpServer(Options options, HttpHandler handler);
  ~HttpServer();

  // Binds and starts serving on background threads.
  Status start();
  // Stops accepting, ends streams, waits for in-flight requests, joins the threads.
  void stop();
  uint16_t port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff
