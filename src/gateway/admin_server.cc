#include "gateway/admin_server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "gateway/http_parser.h"

namespace skiff::gateway {
namespace {

// Compares in time independent of where the strings differ.
bool tokensEqual(std::string_view a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr size_t kMaxAdminBody = 16 * 1024 * 1024;

std::string errorBody(const Status& status) {
  nlohmann::json body = {{"reason", reasonOf(status.code())}, {"message", status.message()}};
  if (!status.fields().empty()) {
    body["fields"] = nlohmann::json::array();
    for (const FieldError& f : status.fields())
      body["fields"].push_back({{"path", f.path}, {"message", f.message}});
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

AdminServer::AdminServer(RouteStore store, std::shared_ptr<const RouteTable> initial,
                         std::vector<ProxyWorker*> workers, std::string admin_token)
    : workers_(std::move(workers)),
      admin_token_(std::move(admin_token)),
      store_(std::move(store)),
      table_(std::move(initial)) {}

AdminServer::~AdminServer() { stop(); }

Status AdminServer::listen(const tcp::endpoint& endpoint) {
  error_code ec;
  auto acceptor = std::make_unique<tcp::acceptor>(ioc_);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(128, ec);
  if (ec)
    return unavailable("cannot listen on " + endpoint.address().to_string() + ":" +
                       std::to_string(endpoint.port()) + " (admin): " + ec.message());
  port_ = acceptor->local_endpoint(ec).port();
  acceptor_ = std::move(acceptor);
  return Status::ok();
}

void AdminServer::start() {
  asio::co_spawn(ioc_, acceptLoop(), asio::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  ioc_.stop();
  thread_.join();
}

asio::awaitable<void> AdminServer::acceptLoop() {
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(ioc_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
  std::string buf;
  auto request = std::make_unique<RequestHead>();
  HeadScanner scanner;
  error_code ec;
  for (;;) {
    size_t head_size = 0;
    while ((head_size = scanner.find(buf)) == 0) {
      if (buf.size() > kMaxHeadBytes) co_return;
      char chunk[8192];
      size_t n = co_await socket.async_read_some(asio::buffer(chunk),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      buf.append(chunk, n);
    }
    ParseError perr;
    Response response;
    bool keep = false;
    std::string body;
    if (parseRequestHead(buf, head_size, *request, perr) != ParseStatus::kComplete) {
      response = {perr.http_status, "application/json", errorBody(badRequest(perr.message))};
    } else if (request->facts.body == BodyKind::kChunked) {
      response = {411, "application/json",
                  errorBody(badRequest("send the body with Content-Length"))};
    } else if (request->facts.content_length > kMaxAdminBody) {
      response = {413, "application/json",
                  errorBody(Status(StatusCode::kTooLarge, "body over 16 MiB"))};
    } else {
      keep = request->facts.keep_alive;
      size_t need = head_size + static_cast<size_t>(request->facts.content_length);
      std::string method(request->method);
      std::string target(request->target);
      while (buf.size() < need) {
        char chunk[65536];
        size_t n = co_await socket.async_read_some(asio::buffer(chunk),
                                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        buf.append(chunk, n);
      }
      body = buf.substr(head_size, need - head_size);
      buf.erase(0, need);
      scanner.reset();
      std::string_view path(target);
      path = path.substr(0, path.find('?'));
      bool authorized = false;
      for (size_t i = 0; i < request->header_count; ++i) {
        const HttpHeader& h = request->headers[i];
        if (equalsIgnoreCase(h.name, "authorization"))
          authorized = tokensEqual(h.value, "Bearer " + admin_token_);
      }
      response = co_await handle(method, path, body, authorized);
    }
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      reasonPhrase(response.status) + "\r\nContent-Type: " + response.content_type +
                      "\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\n" +
                      (keep ? "" : "Connection: close\r\n") + "\r\n" + response.body;
    co_await asio::async_write(socket, asio::buffer(out),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep) co_return;
  }
}

asio::awaitable<AdminServer::Response> AdminServer::handle(std::string_view method,
                                                           std::string_view path,
                                                           std::string_view body, bool authorized) {
  if (path == "/healthz") co_return Response{200, "text/plain", "ok\n"};
  if (path == "/routes") {
    if (!authorized)
      co_return Response{401, "application/json",
                         errorBody(Status(StatusCode::kUnauthenticated,
                                          "the route table needs \"Authorization: Bearer "
                                          "<token>\" with the token in the gateway's "
                                          "state directory (admin-token)"))};
    if (method == "GET") co_return Response{200, "application/json", table_->json() + "\n"};
    if (method == "PUT") co_return putRoutes(body);
    if (method == "PATCH") co_return patchRoutes(body);
    co_return Response{405, "application/json",
                       errorBody(Status(StatusCode::kMethodNotAllowed, "use GET, PUT or PATCH"))};
  }
  if (path == "/certificates") {
    if (!authorized)
      co_return Response{401, "application/json",
                         errorBody(Status(StatusCode::kUnauthenticated,
                                          "the certificate list needs \"Authorization: Bearer "
                                          "<token>\" with the token in the gateway's "
                                          "state directory (admin-token)"))};
    if (method == "GET") co_return Response{200, "application/json", certificates_->json() + "\n"};
    co_return Response{405, "application/json",
                       errorBody(Status(StatusCode::kMethodNotAllowed,
                                        "use GET; certificates are installed with PUT /routes"))};
  }
  if (path == "/metrics" && method == "GET") co_return co_await metrics();
  co_return Response{404, "application/json",
                     errorBody(notFound("no admin endpoint " + std::string(path)))};
}

AdminServer::Response AdminServer::putRoutes(std::string_view body) {
  // Certificates travel with the table but are split off the parsed document: the table is
  // persisted as accepted, and keys must never reach the disk. The body is parsed only once,
  // since a large table's parse is most of what accepting it costs.
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return {400, "application/json", errorBody(badRequest("route table is not valid JSON"))};
  std::shared_ptr<const CertificateStore> certificates = std::make_shared<CertificateStore>();
  if (doc.is_object() && doc.contains("certificates")) {
    auto parsed_certificates = parseCertificates(doc["certificates"]);
    if (!parsed_certificates.ok())
      return {400, "application/json", errorBody(parsed_certificates.status())};
    certificates = std::move(parsed_certificates).value();
    doc.erase("certificates");
  }
  auto parsed = parseRouteTable(doc);
  if (!parsed.ok()) return {400, "application/json", errorBody(parsed.status())};
  std::shared_ptr<const RouteTable> table = std::move(parsed).value();
  if (table->version() < table_->version()) {
    return {409, "application/json",
            errorBody(conflict("route table version " + std::to_string(table->version()) +
                               " is older than the installed version " +
                               std::to_string(table_->version())))};
  }
  // Persist first: a table the gateway serves is one it will still serve after a restart.
  if (Status saved = store_.save(*table); !saved.isOk())
    return {503, "application/json", errorBody(saved)};
  certificates_ = certificates;
  for (ProxyWorker* w : workers_) w->setCertificates(certificates);
  install(std::move(table));
  nlohmann::json ok = {{"version", table_->version()},
                       {"routes", table_->routes().size()},
                       {"certificates", certificates_->certificates().size()}};
  return {200, "application/json", ok.dump() + "\n"};
}

AdminServer::Response AdminServer::patchRoutes(std::string_view body) {
  nlohmann::json delta = nlohmann::json::parse(body, nullptr, false);
  if (delta.is_discarded())
    return {400, "application/json", errorBody(badRequest("route delta is not valid JSON"))};
  auto applied = applyRouteDelta(*table_, delta);
  if (!applied.ok())
    return {applied.status().code() == StatusCode::kConflict ? 409 : 400, "application/json",
            errorBody(applied.status())};
  std::shared_ptr<const RouteTable> table = std::move(applied).value();
  // One line in the journal, whatever the layout it came in.
  if (Status saved = store_.append(
          delta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), *table);
      !saved.isOk())
    return {503, "application/json", errorBody(saved)};
  install(std::move(table));
  nlohmann::json ok = {{"version", table_->version()}, {"routes", table_->routes().size()}};
  return {200, "application/json", ok.dump() + "\n"};
}

void AdminServer::install(std::shared_ptr<const RouteTable> table) {
  table_ = std::move(table);
  for (ProxyWorker* w : workers_) w->setTable(table_);
  spdlog::info("gateway: installed route table version {} ({} routes, {} certificates)",
               table_->version(), table_->routes().size(), certificates_->certificates().size());
}

asio::awaitable<AdminServer::Response> AdminServer::metrics() {
  // Each worker copies its counters on its own thread and posts the copy back here; the
  // timer is the wake-up (cancelled by the last copy, or expiring if a worker is gone).
  struct Gather {
    explicit Gather(asio::io_context& ioc, size_t n) : done(ioc), pending(n) {}
    asio::steady_timer done;
    size_t pending;
    MetricsSnapshot total;
  };
  auto gather = std::make_shared<Gather>(ioc_, workers_.size());
  gather->done.expires_after(std::chrono::seconds(2));
  for (ProxyWorker* w : workers_) {
    w->collectMetrics([this, gather](MetricsSnapshot snap) {
      asio::post(ioc_, [gather, snap = std::move(snap)] {
        gather->total.merge(snap);
        if (--gather->pending == 0) gather->done.cancel();
      });
    });
  }
  error_code ec;
  if (gather->pending > 0)
    co_await gather->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::string text = gather->total.renderPrometheus();
  text += "# HELP skiff_gateway_route_table_version Version of the installed route table.\n";
  text += "# TYPE skiff_gateway_route_table_version gauge\n";
  text += "skiff_gateway_route_table_version " + std::to_string(table_->version()) + "\n";
  co_return Response{200, "text/plain; version=0.0.4", std::move(text)};
}

}  // namespace skiff::gateway
