#include "net/http_client.h"

// Asio's coroutine headers need <utility> first on Boost 1.74.
#include <utility>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>

#include "net/tls.h"
#include "net/tls_client.h"

namespace skiff::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// A connection and the io_context its streams run on: made for one request, or kept alive in
// a ConnectionPool between requests (one at a time).
struct HttpConnection {
  asio::io_context io;
  ssl::context context{ssl::context::tls_client};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  std::string origin;     // "scheme://host:port" it is connected to
  bool reusable = false;  // the last answer was read whole and the server keeps the connection

  bool open() const { return plain.has_value() || secure.has_value(); }
};

namespace {

// One request and its answer, from resolving the host (or taking up a kept-alive connection)
// to the last byte read.
class Exchange {
 public:
  Exchange(const ClientRequest& request, const TlsClientOptions& tls, Url url,
           const std::function<bool(std::string_view)>* on_data, HttpConnection& connection,
           bool keep_alive)
      : request_(request),
        tls_(tls),
        url_(std::move(url)),
        on_data_(on_data),
        connection_(connection),
        keep_alive_(keep_alive),
        deadline_(Clock::now() + request.timeout) {}

  Result<ClientResponse> result() && {
    if (!status_.isOk()) return status_;
    return std::move(response_);
  }
  // Whether the request failed before any answer arrived, on a connection kept from before:
  // the server may have closed it meanwhile, so the request is worth sending on a new one.
  bool staleConnection() const { return reused_ && !status_.isOk() && !answered_; }

  asio::awaitable<void> run() { status_ = co_await runSteps(); }

 private:
  Status failure(const std::string& what, const beast::error_code& ec) const {
    std::string reason = ec == beast::error::timeout
                             ? "no answer within " + std::to_string(request_.timeout.count()) + "ms"
                             : ec.message();
    return unavailable(what + " " + url_.authority() + ": " + reason);
  }

  asio::awaitable<Status> runSteps() {
    if (connection_.open()) {
      reused_ = true;
      if (connection_.secure) co_return co_await talk(*connection_.secure);
      co_return co_await talk(*connection_.plain);
    }
    auto executor = co_await asio::this_coro::executor;
    beast::error_code ec;
    tcp::resolver resolver(executor);
    auto endpoints = co_await resolver.async_resolve(url_.host, std::to_string(url_.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return unavailable("cannot resolve " + url_.host + ": " + ec.message());

    beast::tcp_stream tcp_stream(executor);
    tcp_stream.expires_at(deadline_);
    co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failure("cannot connect to", ec);

    if (url_.scheme == "http") {
      connection_.plain.emplace(std::move(tcp_stream));
      co_return co_await talk(*connection_.plain);
    }

    ServerVerifier verifier(tls_, url_);
    if (Status s = verifier.configure(connection_.context); !s.isOk()) co_return s;
    auto& tls_stream = connection_.secure.emplace(std::move(tcp_stream), connection_.context);
    verifier.prepare(tls_stream.native_handle());
    co_await tls_stream.async_handshake(ssl::stream_base::client,
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (Status s = verifier.check(tls_stream.native_handle(), ec, request_.timeout); !s.isOk())
      co_return s;
    co_return co_await talk(tls_stream);
  }

  http::request<http::string_body> makeRequest() const {
    http::request<http::string_body> req;
    req.version(11);
    http::verb verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown) {
      req.method_string(request_.method);
    } else {
      req.method(verb);
    }
    req.target(url_.target);
    const bool default_port =
        (url_.scheme == "http" && url_.port == 80) || (url_.scheme == "https" && url_.port == 443);
    const std::string host =
        url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    req.set(http::field::host, default_port ? host : host + ":" + std::to_string(url_.port));
    bool user_agent = false;
    bool connection = false;
    for (const auto& [name, value] : request_.headers) {
      const std::string key = lower(name);
      user_agent = user_agent || key == "user-agent";
      connection = connection || key == "connection";
      req.insert(name, value);
    }
    if (!user_agent) req.set(http::field::user_agent, std::string("skiff/") + SKIFF_VERSION);
    if (!connection && !keep_alive_) req.set(http::field::connection, "close");
    req.body() = request_.body;
    if (!request_.body.empty() || verb == http::verb::post || verb == http::verb::put ||
        verb == http::verb::patch)
      req.prepare_payload();
    return req;
  }

  static void copyHeaders(const http::response_header<>& head, ClientResponse& out) {
    out.status = static_cast<int>(head.result_int());
    for (const auto& field : head)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }

  Status readFailure(const beast::error_code& ec) const {
    if (ec == http::error::body_limit)
      return unavailable("the answer of " + url_.authority() + " to " + request_.method + " " +
                         url_.target + " is larger than " +
                         std::to_string(request_.max_response_bytes) + " bytes");
    Status s = failure("cannot read the answer of", ec);
    if (url_.scheme == "http" && ec == http::error::end_of_stream)
      return unavailable(s.message() +
                         " (is it an HTTPS server? then its URL starts with https://)");
    return s;
  }

  template <class Stream>
  asio::awaitable<Status> talk(Stream& stream) {
    beast::error_code ec;
    auto req = makeRequest();
    beast::get_lowest_layer(stream).expires_at(deadline_);
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failure("cannot send the request to", ec);

    beast::flat_buffer buffer;
    if (on_data_ == nullptr) {
      http::response_parser<http::string_body> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(request_.max_response_bytes);
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return readFailure(ec);
      answered_ = true;
      // Boost 1.74's parser lets a declared Content-Length past the body limit through.
      if (auto length = parser.content_length(); length && *length > request_.max_response_bytes)
        co_return readFailure(http::error::body_limit);
      if (!parser.is_done())
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return readFailure(ec);
      copyHeaders(parser.get().base(), response_);
      response_.body = std::move(parser.get().body());
      connection_.reusable = keep_alive_ && parser.keep_alive();
      co_return Status::ok();
    }

    http::response_parser<http::buffer_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    // Open-ended; Boost 1.74 refuses every Content-Length with boost::none here, hence max().
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return readFailure(ec);
    copyHeaders(parser.get().base(), response_);
    const bool streaming = response_.status >= 200 && response_.status < 300;
    if (streaming) beast::get_lowest_layer(stream).expires_never();
    char chunk[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      co_await http::async_read_some(stream, buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      // A server that hangs up ends an open-ended stream; its reader resumes if it cares.
      if (streaming && (ec == http::error::end_of_stream || ec == asio::error::eof ||
                        ec == ssl::error::stream_truncated))
        break;
      if (ec) co_return streaming ? failure("the stream broke from", ec) : readFailure(ec);
      const std::string_view data(chunk, sizeof chunk - parser.get().body().size);
      if (!streaming) {
        if (response_.body.size() + data.size() > request_.max_response_bytes)
          co_return readFailure(http::error::body_limit);
        response_.body.append(data);
      } else if (!data.empty() && !(*on_data_)(data)) {
        break;
      }
    }
    co_return Status::ok();
  }

  const ClientRequest& request_;
  const TlsClientOptions& tls_;
  const Url url_;
  const std::function<bool(std::string_view)>* on_data_;
  HttpConnection& connection_;
  const bool keep_alive_;
  const Clock::time_point deadline_;
  bool reused_ = false;
  bool answered_ = false;  // the head of the answer arrived
  Status status_;
  ClientResponse response_;
};

// Runs one exchange on `connection` (its io_context on the calling thread).
Result<ClientResponse> perform(const ClientRequest& request, const TlsClientOptions& tls,
                               const std::function<bool(std::string_view)>* on_data,
                               HttpConnection& connection, bool keep_alive, bool* stale = nullptr) {
  auto url = parseUrl(request.url);
  if (!url.ok()) return url.status();
  connection.reusable = false;
  Exchange exchange(request, tls, std::move(*url), on_data, connection, keep_alive);
  connection.io.restart();
  asio::co_spawn(connection.io, exchange.run(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // from on_data: the caller's to handle
  });
  connection.io.run();
  if (stale != nullptr) *stale = exchange.staleConnection();
  return std::move(exchange).result();
}

Result<ClientResponse> perform(const ClientRequest& request, const TlsClientOptions& tls,
                               const std::function<bool(std::string_view)>* on_data) {
  HttpConnection connection;
  return perform(request, tls, on_data, connection, false);
}

}  // namespace

std::string ClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (beast::iequals(key, beast::string_view(name.data(), name.size()))) return value;
  return {};
}

Result<ClientResponse> fetch(const ClientRequest& request, const TlsClientOptions& tls) {
  return perform(request, tls, nullptr);
}

Result<ClientResponse> fetchStreaming(const ClientRequest& request,
                                      const std::function<bool(std::string_view data)>& on_data,
                                      const TlsClientOptions& tls) {
  return perform(request, tls, &on_data);
}

ConnectionPool::ConnectionPool(TlsClientOptions tls, size_t max_idle)
    : tls_(std::move(tls)), max_idle_(max_idle) {}

ConnectionPool::~ConnectionPool() = default;

Result<ClientResponse> ConnectionPool::fetch(const ClientRequest& request) {
  auto url = parseUrl(request.url);
  if (!url.ok()) return url.status();
  const std::string origin = url->scheme + "://" + url->authority();
  std::unique_ptr<HttpConnection> connection;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->origin != origin) continue;
      connection = std::move(*it);
      idle_.erase(it);
      break;
    }
  }
  bool stale = false;
  if (connection) {
    auto answer = perform(request, tls_, nullptr, *connection, true, &stale);
    if (!stale) return keep(std::move(connection), std::move(answer));
  }
  connection = std::make_unique<HttpConnection>();
  connection->origin = origin;
  auto answer = perform(request, tls_, nullptr, *connection, true);
  return keep(std::move(connection), std::move(answer));
}

Result<ClientResponse> ConnectionPool::keep(std::unique_ptr<HttpConnection> connection,
                                            Result<ClientResponse> answer) {
  if (!answer.ok() || !connection->reusable) return answer;
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
  return answer;
}

std::string Url::authority() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

Result<Url> parseUrl(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return badRequest("\"" + text + "\" is not a usable URL: " + why +
                      " (expected http://HOST[:PORT][/PATH] or https://...)");
  };
  Url url;
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string::npos) return bad("no scheme");
  url.scheme = lower(std::string_view(text).substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https")
    return bad("the scheme is \"" + url.scheme + "\"");
  std::string rest = text.substr(scheme_end + 3);
  if (size_t hash = rest.find('#'); hash != std::string::npos) rest.resize(hash);
  const size_t path_start = rest.find_first_of("/?");
  std::string authority = rest.substr(0, path_start);
  url.target = path_start == std::string::npos ? "/" : rest.substr(path_start);
  if (url.target.front() == '?') url.target.insert(0, "/");
  if (authority.find('@') != std::string::npos) return bad("credentials in URLs are not supported");
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return bad("an IPv6 address without its closing ]");
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("unexpected text after the IPv6 address");
      port = authority.substr(close + 2);
      if (port.empty()) return bad("an empty port");
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    url.host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return bad("an empty port");
  } else {
    url.host = authority;
  }
  if (url.host.empty()) return bad("no host");
  if (port.empty()) {
    url.port = url.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) > 65535 || std::stoi(port) == 0)
      return bad("the port \"" + port + "\" is not a number from 1 to 65535");
    url.port = static_cast<uint16_t>(std::stoi(port));
  }
  return url;
}

std::string percentEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace skiff::net
