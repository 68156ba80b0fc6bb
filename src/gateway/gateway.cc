#include "gateway/gateway.h"

#include <signal.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway/admin_server.h"
#include "gateway/admin_token.h"
#include "gateway/proxy_worker.h"
#include "gateway/route_store.h"

namespace skiff::gateway {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<tcp::endpoint> parseListen(const std::string& flag, const std::string& value) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos)
    return badRequest(flag + " must be HOST:PORT, got \"" + value + "\"");
  std::string host = value.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return badRequest(flag + ": \"" + host + "\" is not an IP address");
  const std::string port_text = value.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port_text) > 65535)
    return badRequest(flag + ": \"" + port_text + "\" is not a port (0-65535)");
  return tcp::endpoint(address, static_cast<uint16_t>(std::stoul(port_text)));
}

std::string formatEndpoint(const tcp::endpoint& ep, uint16_t port) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

}  // namespace

int runGateway(const GatewayOptions& options) {
  auto listen = parseListen("--listen", options.listen);
  auto admin_listen = parseListen("--admin-listen", options.admin_listen);
  auto tls_listen = options.tls_listen.empty() ? Result<tcp::endpoint>(tcp::endpoint())
                                               : parseListen("--tls-listen", options.tls_listen);
  for (const auto* r : {&listen, &admin_listen, &tls_listen}) {
    if (!r->ok()) {
      spdlog::error("gateway: {}", r->status().toString());
      return 2;
    }
  }
  ::mkdir(options.state_dir.c_str(), 0755);
  RouteStore store(options.state_dir);
  auto loaded = store.load();
  std::shared_ptr<const RouteTable> table;
  if (loaded.ok()) {
    table = std::move(loaded).value();
  } else {
    // Serving nothing beats not starting: the control plane pushes a fresh table anyway.
    spdlog::error("gateway: {}; starting with no routes", loaded.status().toString());
    table = std::make_shared<RouteTable>();
  }
  ::signal(SIGPIPE, SIG_IGN);

  // Signals are caught by this thread's io_context; set it up before any worker thread exists.
  asio::io_context main_ioc(1);
  asio::signal_set signals(main_ioc, SIGTERM, SIGINT);

  int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  std::vector<std::unique_ptr<ProxyWorker>> workers;
  tcp::endpoint endpoint = listen.value();
  tcp::endpoint tls_endpoint = tls_listen.value();
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<ProxyWorker>(i, ProxyLimits{});
    Status st = worker->listen(endpoint);
    if (st.isOk() && !options.tls_listen.empty()) st = worker->listenTls(tls_endpoint);
    if (!st.isOk()) {
      spdlog::error("gateway: {}", st.toString());
      return 1;
    }
    // With port 0 the first worker picks the port; the others share it through SO_REUSEPORT.
    endpoint.port(worker->port());
    tls_endpoint.port(worker->tlsPort());
    workers.push_back(std::move(worker));
  }
  std::vector<ProxyWorker*> worker_ptrs;
  for (auto& w : workers) worker_ptrs.push_back(w.get());
  auto admin_token = ensureAdminToken(options.state_dir);
  if (!admin_token.ok()) {
    spdlog::error("gateway: {}", admin_token.status().toString());
    return 1;
  }
  AdminServer admin(store, table, worker_ptrs, std::move(admin_token).value());
  if (Status st = admin.listen(admin_listen.value()); !st.isOk()) {
    spdlog::error("gateway: {}", st.toString());
    return 1;
  }
  for (auto& w : workers) w->start(table);
  admin.start();

  nlohmann::json addr = {{"listen", formatEndpoint(endpoint, endpoint.port())},
                         {"admin", formatEndpoint(admin_listen.value(), admin.port())}};
  if (!options.tls_listen.empty()) addr["tls"] = formatEndpoint(tls_endpoint, tls_endpoint.port());
  if (Status st = writeFileAtomically(options.state_dir + "/gateway.addr", addr.dump() + "\n");
      !st.isOk())
    spdlog::warn("gateway: {}", st.toString());
  spdlog::info("gateway: serving on {}{} (admin {}), {} threads, route table version {}",
               addr["listen"].get<std::string>(),
               addr.contains("tls") ? ", https " + addr["tls"].get<std::string>() : "",
               addr["admin"].get<std::string>(), threads, table->version());

  int caught = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) caught = sig;
  });
  main_ioc.run();

  spdlog::info("gateway: signal {} received, draining", caught);
  for (auto& w : workers) w->drain();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.drain_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int64_t open = 0;
    for (auto& w : workers) open += w->connections();
    if (open == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  admin.stop();
  for (auto& w : workers) w->stop();
  spdlog::info("gateway: stopped");
  return 0;
}

}  // namespace skiff::gateway
