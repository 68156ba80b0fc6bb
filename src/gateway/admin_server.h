// AdminServer: the gateway's control port. `PUT /routes` validates, persists and installs a new
// route table on every worker, with the TLS certificates of its hosts (kept in memory only, never
// persisted: see CertificateStore); `PATCH /routes` does the same with a delta to the current
// table (applyRouteDelta), keeping its certificates; `GET /routes` returns the current table; `GET
// /certificates` the hosts with certificates and their fingerprints (never keys); `GET /metrics`
// sums the workers' counters into Prometheus text; `GET /healthz` answers 200.
//
// It runs its own io_context on its own thread, off the data path. The current table and the
// RouteStore are owned by that thread. start()/stop() are called from one owning thread.
#pragma once

#include <utility>  // before Asio's coroutine headers

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "gateway/proxy_worker.h"
#include "gateway/route_store.h"

namespace skiff::gateway {

class AdminServer {
 public:
  // `workers` must outlive this server. /routes requires "Authorization: Bearer
  // <admin_token>" (gateway/admin_token.h).
  AdminServer(RouteStore store, std::shared_ptr<const RouteTable> initial,
              std::vector<ProxyWorker*> workers, std::string admin_token);
  ~AdminServer();

  Status listen(const boost::asio::ip::tcp::endpoint& endpoint);
  uint16_t port() const { return port_; }
  void start();
  void stop();

 private:
  struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
  };

  boost::asio::awaitable<void> acceptLoop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<Response> handle(std::string_view method, std::string_view path,
                                          std::string_view body, bool authorized);
  Response putRoutes(std::string_view body);
  Response patchRoutes(std::string_view body);
  // Makes `table` the one every worker serves.
  void install(std::shared_ptr<const RouteTable> table);
  boost::asio::awaitable<Response> metrics();

  // --- constant after construction
  std::vector<ProxyWorker*> workers_;
  const std::string admin_token_;
  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;

  // --- owned by the admin thread
  RouteStore store_;
  std::shared_ptr<const RouteTable> table_;
  std::shared_ptr<const CertificateStore> certificates_ = std::make_shared<CertificateStore>();
};

}  // namespace skiff::gateway
