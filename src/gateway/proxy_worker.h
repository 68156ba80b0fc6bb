// ProxyWorker: one event loop of the gateway's data path, on one thread.
//
// Each worker owns an io_context, its own SO_REUSEPORT listening socket on the shared listen
// address (the kernel spreads new connections across workers), optionally a second one for
// HTTPS whose certificate is picked per connection by SNI, its client connections, a pool
// of idle keep-alive connections per backend, one Balancer per route and its own metrics.
// Nothing on the request path is shared with another thread: no locks, no shared atomics.
//
// Other threads talk to a worker only through the thread-safe methods below, which post work
// to its loop: setTable() hands over a new immutable RouteTable (requests already running keep
// the table they started with, because each holds a reference to it), setCertificates() the
// certificates new TLS handshakes choose from, collectMetrics() copies
// the counters on the worker's thread, drain() stops accepting and lets connections finish.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "gateway/certificate_store.h"
#include "gateway/metrics.h"
#include "gateway/route_table.h"

namespace skiff::gateway {

struct ProxyLimits {
  uint64_t max_request_body_bytes = 1ull << 30;    // 413 beyond this
  size_t max_idle_upstream_per_backend = 128;      // per worker
  std::chrono::seconds client_idle_timeout{60};    // keep-alive connections without a request
  std::chrono::seconds head_timeout{30};           // to receive a whole request head
  std::chrono::seconds upstream_idle_timeout{30};  // pooled connections older than this close
};

class ProxyWorker {
 public:
  ProxyWorker(int index, ProxyLimits limits);
  ~ProxyWorker();
  ProxyWorker(const ProxyWorker&) = delete;
  ProxyWorker& operator=(const ProxyWorker&) = delete;

  // Opens this worker's listening socket (SO_REUSEPORT). Call before start(), from one thread.
  Status listen(const boost::asio::ip::tcp::endpoint& endpoint);
  uint16_t port() const { return port_; }
  // Opens this worker's HTTPS listening socket (SO_REUSEPORT), optional. Connections there
  // complete a TLS handshake with the certificate for the client's server name (SNI; none
  // known: the handshake fails) and then take the same path as plain HTTP. Call before start().
  Status listenTls(const boost::asio::ip::tcp::endpoint& endpoint);
  uint16_t tlsPort() const { return tls_port_; }

  // Starts the loop thread. `table` is served until the first setTable().
  void start(std::shared_ptr<const RouteTable> table);
  // Thread-safe.
  void setTable(std::shared_ptr<const RouteTable> table);
  // Thread-safe. Handshakes from now on choose from `certificates`.
  void setCertificates(std::shared_ptr<const CertificateStore> certificates);
  // Thread-safe. `done` runs on this worker's thread with a copy of its counters; it is never
  // called if the worker has stopped.
  void collectMetrics(std::function<void(MetricsSnapshot)> done);
  // Thread-safe. Stops accepting, closes idle client connections and answers the requests in
  // flight with "Connection: close".
  void drain();
  // Open client connections (thread-safe; for the graceful stop to wait on).
  int64_t connections() const { return connections_.load(std::memory_order_relaxed); }
  // Stops the loop and joins the thread. Connections still open are dropped.
  void stop();

 private:
  struct Session;
  template <class Stream>
  struct ClientSession;
  struct Exchange;
  struct UpstreamConn;
  struct UpstreamPool;
  struct RouteState;
  struct ThreadRoutes;
  class Proxy;

  // --- constant after construction
  const int index_;
  const ProxyLimits limits_;
  // Owned by the loop thread once start() has run. Declared before ioc_ so that coroutines
  // destroyed with ioc_ never outlive the state they refer to.
  std::unique_ptr<Proxy> proxy_;
  boost::asio::io_context ioc_;
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  std::thread thread_;
  std::atomic<int64_t> connections_{0};
  // Owned by the loop thread once start() has run.
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> tls_acceptor_;
};

}  // namespace skiff::gateway
