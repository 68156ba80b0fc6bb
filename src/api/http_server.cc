#include "api/http_server.h"

// Asio's coroutine headers need <utility> first on Boost 1.74.
#include <utility>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <condition_variable>
#include <set>
#include <thread>

#include "api/errors.h"
#include "api/websocket_channel.h"

namespace skiff {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using net::ip::tcp;
using std::chrono_literals::operator""s;

namespace {

constexpr auto kIdleTimeout = 120s;
constexpr auto kHandshakeTimeout = 30s;
constexpr auto kHeartbeatPeriod = 30s;
// A WebSocket peer that answers no ping for this long is gone.
constexpr auto kWebSocketIdleTimeout = 60s;
constexpr size_t kMaxWebSocketMessage = 1 << 20;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 && hexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void splitTarget(std::string_view target, HttpRequest& r) {
  size_t q = target.find('?');
  r.path = percentDecode(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key = percentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? "" : percentDecode(pair.substr(eq + 1), true);
    if (!key.empty()) {
      r.query[key] = value;
      r.query_all.emplace(std::move(key), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

// A coroutine parameter lives in the coroutine frame, unlike a lambda capture, so the work
// outlives the hop to the blocking pool.
net::awaitable<HttpResponse> runDeferred(std::function<HttpResponse()> work) { co_return work(); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Options options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        blocking_pool_(static_cast<size_t>(std::max(1, options_.blocking_threads))),
        acceptor_(ioc_) {}

  Status start() {
    boost::system::error_code ec;
    auto address = net::ip::make_address(options_.host, ec);
    if (ec) return Status(StatusCode::kInvalid, "invalid listen address \"" + options_.host + "\"");
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                         ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, acceptLoop(), net::detached);
    for (int i = 0; i < std::max(1, options_.threads); ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    return Status::ok();
  }

  void stop() {
    if (threads_.empty()) return;
    stopping_ = true;
    net::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    // Close idle connections and end streams; busy ones close after their response.
    {
      std::lock_guard lock(mu_);
      for (const auto& c : connections_) closeIfIdle(c);
    }
    {
      std::unique_lock lock(mu_);
      drained_.wait_for(lock, 10s, [this] { return connections_.empty(); });
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    blocking_pool_.join();
  }

  uint16_t port() const { return port_; }

 private:
  // Per-connection state shared with stop(); fields are touched on the connection's strand,
  // except `stream`, `websocket` and `busy` (read by stop() under mu_).
  struct Connection {
    virtual ~Connection() = default;
    // The TCP layer under whatever the connection speaks: timeouts, shutdown, raw reads.
    virtual beast::tcp_stream& tcp() = 0;
    std::shared_ptr<EventStream> stream;
    std::shared_ptr<WebSocketChannel> websocket;
    bool busy = false;
  };
  // `Stream` is beast::tcp_stream or a TLS stream over one.
  template <class Stream>
  struct ConnectionOver : Connection {
    template <class... Args>
    explicit ConnectionOver(Args&&... args) : io(std::forward<Args>(args)...) {}
    beast::tcp_stream& tcp() override { return beast::get_lowest_layer(io); }
    Stream io;
  };
  using PlainConnection = ConnectionOver<beast::tcp_stream>;
  using TlsConnection = ConnectionOver<beast::ssl_stream<beast::tcp_stream>>;

  void closeIfIdle(const std::shared_ptr<Connection>& c) {  // requires mu_
    if (c->stream) {
      c->stream->close();
    } else if (c->websocket) {
      c->websocket->end();
    } else if (!c->busy) {
      net::post(c->tcp().get_executor(), [c] {
        boost::system::error_code ec;
        c->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
        c->tcp().socket().close(ec);
      });
    }
  }

  bool addConnection(const std::shared_ptr<Connection>& c) {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    connections_.insert(c);
    return true;
  }

  void removeConnection(const std::shared_ptr<Connection>& c) {
    std::lock_guard lock(mu_);
    connections_.erase(c);
    if (connections_.empty()) drained_.notify_all();
  }

  net::awaitable<void> acceptLoop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(
          net::make_strand(ioc_), net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        continue;  // e.g. EMFILE: keep serving existing connections
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto executor = socket.get_executor();
      net::co_spawn(executor, session(std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> session(tcp::socket socket) {
    boost::system::error_code ec;
    std::string remote = socket.remote_endpoint(ec).address().to_string();
    if (!options_.tls) {
      auto conn = std::make_shared<PlainConnection>(std::move(socket));
      if (!addConnection(conn)) co_return;
      co_await serve(conn, remote);
      removeConnection(conn);
      co_return;
    }
    auto conn = std::make_shared<TlsConnection>(std::move(socket), *options_.tls);
    // Registered before the handshake, so that stop() also ends connections stuck in it.
    if (!addConnection(conn)) co_return;
    conn->tcp().expires_after(kHandshakeTimeout);
    co_await conn->io.async_handshake(net::ssl::stream_base::server,
                                      net::redirect_error(net::use_awaitable, ec));
    // A failed handshake is the client's business (it distrusts the certificate, or speaks
    // plain HTTP): there is no one to answer.
    if (!ec) co_await serve(conn, remote);
    removeConnection(conn);
  }

  // Reads requests from one connection and answers them, until the client leaves, an answer
  // closes the connection, a stream ends, or the server stops.
  template <class Stream>
  net::awaitable<void> serve(std::shared_ptr<ConnectionOver<Stream>> conn_ptr, std::string remote) {
    boost::system::error_code ec;
    Connection& conn = *conn_ptr;
    Stream& stream = conn_ptr->io;
    beast::flat_buffer buffer;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      parser.header_limit(64 * 1024);
      conn.tcp().expires_after(kIdleTimeout);
      co_await http::async_read_header(stream, buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
      // Beast reports a declared Content-Length over the limit here already.
      if (ec && ec != http::error::body_limit) break;
      setBusy(conn, true);
      auto& header = parser.get();
      if (!ec && beast::iequals(header[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, header.version()};
        co_await http::async_write(stream, cont, net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      if (ec) {
        // Refused before reading a byte of the body.
      } else if (!parser.is_done()) {
        co_await http::async_read(stream, buffer, parser,
                                  net::redirect_error(net::use_awaitable, ec));
      }
      HttpResponse response;
      http::request<http::string_body> req;
      bool keep_alive = parser.get().keep_alive();
      const bool too_large = ec == http::error::body_limit;
      if (too_large) {
        response = errorResponse(
            Status(StatusCode::kTooLarge, "request body is larger than the limit of " +
                                              std::to_string(options_.max_body_bytes) + " bytes"));
        keep_alive = false;
      } else if (ec) {
        break;
      } else {
        req = parser.release();
        HttpRequest r;
        r.method = std::string(req.method_string());
        splitTarget(std::string_view(req.target().data(), req.target().size()), r);
        for (const auto& f : req)
          r.headers[lower(std::string_view(f.name_string().data(), f.name_string().size()))] =
              std::string(f.value());
        r.body = std::move(req.body());
        r.remote_address = remote;
        response = handler_(r);
        if (response.deferred) {
          auto work = std::move(response.deferred);
          response = co_await net::co_spawn(blocking_pool_, runDeferred(std::move(work)),
                                            net::use_awaitable);
        }
      }
      if (response.websocket) {
        if (websocket::is_upgrade(req)) {
          {
            std::lock_guard lock(mu_);
            conn.websocket = response.websocket;
            if (stopping_) response.websocket->end();
          }
          co_await serveWebSocket(conn_ptr, std::move(req), response.websocket);
          break;
        }
        response.websocket->end();
        response = errorResponse(
            badRequest("this is a WebSocket endpoint: send a GET with \"Connection: Upgrade\" and "
                       "\"Upgrade: websocket\" (RFC 6455)"));
      }
      if (response.stream) {
        {
          std::lock_guard lock(mu_);
          conn.stream = response.stream;
          if (stopping_) response.stream->close();
        }
        co_await pump(conn_ptr, response);
        break;
      }
      http::response<http::string_body> res{static_cast<http::status>(response.status), 11};
      res.set(http::field::server, "skiff");
      res.set(http::field::content_type, response.content_type);
      for (const auto& [k, v] : response.headers) res.set(k, v);
      res.keep_alive(keep_alive && !stopping_);
      res.body() = std::move(response.body);
      res.prepare_payload();
      co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
      setBusy(conn, false);
      if (too_large && !ec) co_await lingeringClose(conn.tcp());
      if (ec || !res.keep_alive()) break;
    }
    // Over TLS too: the answers are delimited, so no close_notify is needed to trust them.
    conn.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // After refusing a body, read (and drop) what the client is still sending for a moment, so
  // closing does not reset the connection before the client has read our answer. Over TLS the
  // bytes are dropped undecrypted.
  net::awaitable<void> lingeringClose(beast::tcp_stream& stream) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(2));
    std::array<char, 16384> sink;
    size_t drained = 0;
    while (!ec && drained < 64 * options_.max_body_bytes) {
      drained += co_await stream.async_read_some(net::buffer(sink),
                                                 net::redirect_error(net::use_awaitable, ec));
    }
  }

  void setBusy(Connection& c, bool busy) {
    std::lock_guard lock(mu_);
    c.busy = busy;
  }

  // Reads (and drops) whatever the client sends while a stream is sent: the read fails as soon
  // as the client disconnects, which ends the stream then rather than at its next write (a
  // quiet log follow may not write for a long time). It reads the TCP layer, below TLS: what
  // the client says does not matter, only that it left.
  static net::awaitable<void> watchPeer(std::shared_ptr<Connection> conn,
                                        std::shared_ptr<EventStream> events) {
    std::array<char, 512> sink;
    boost::system::error_code ec;
    while (!ec)
      co_await conn->tcp().async_read_some(net::buffer(sink),
                                           net::redirect_error(net::use_awaitable, ec));
    events->close();
  }

  // Sends an EventStream with chunked encoding until it closes or the client goes away.
  template <class Stream>
  net::awaitable<void> pump(std::shared_ptr<ConnectionOver<Stream>> conn, HttpResponse& response) {
    Stream& stream = conn->io;
    boost::system::error_code ec;
    conn->tcp().expires_never();
    std::string head = "HTTP/1.1 " + std::to_string(response.status) +
                       " OK\r\nServer: skiff\r\nContent-Type: " + response.content_type +
                       "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
    for (const auto& [k, v] : response.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    co_await net::async_write(stream, net::buffer(head),
                              net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;

    auto executor = co_await net::this_coro::executor;
    net::co_spawn(executor, watchPeer(conn, response.stream), net::detached);
    auto timer = std::make_shared<net::steady_timer>(executor);
    std::weak_ptr<net::steady_timer> weak = timer;
    response.stream->setWaker([executor, weak] {
      net::post(executor, [weak] {
        if (auto t = weak.lock()) t->cancel();
      });
    });
    std::string out;
    for (;;) {
      bool closed = false;
      std::vector<std::string> chunks = response.stream->take(&closed);
      out.clear();
      for (auto& c : chunks) {
        if (c.empty()) continue;
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", c.size());
        out += size;
        out += c;
        out += "\r\n";
      }
      if (closed) out += "0\r\n\r\n";
      if (!out.empty()) {
        co_await net::async_write(stream, net::buffer(out),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec || closed) break;
        continue;
      }
      timer->expires_after(kHeartbeatPeriod);
      co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
      if (!ec) {
        std::string beat = response.stream->heartbeat();
        if (!beat.empty()) response.stream->push(std::move(beat));
      }
    }
    response.stream->setWaker(nullptr);
    response.stream->close();
    conn->tcp().socket().cancel(ec);  // ends watchPeer's read
  }

  // Completes the WebSocket handshake of `request` and carries messages between the peer and
  // `channel` until either side closes, the peer stops answering pings, or the server stops.
  template <class Stream>
  net::awaitable<void> serveWebSocket(std::shared_ptr<ConnectionOver<Stream>> conn,
                                      http::request<http::string_body> request,
                                      std::shared_ptr<WebSocketChannel> channel) {
    using Socket = websocket::stream<Stream&>;
    boost::system::error_code ec;
    // Beast's own timeouts (and pings) take over from the TCP layer's.
    conn->tcp().expires_never();
    auto ws = std::make_shared<Socket>(conn->io);
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = kHandshakeTimeout;
    timeouts.idle_timeout = kWebSocketIdleTimeout;
    timeouts.keep_alive_pings = true;
    ws->set_option(timeouts);
    ws->set_option(websocket::stream_base::decorator(
        [protocol = channel->subprotocol()](websocket::response_type& res) {
          res.set(http::field::server, "skiff");
          if (!protocol.empty()) res.set(http::field::sec_websocket_protocol, protocol);
        }));
    ws->read_message_max(kMaxWebSocketMessage);
    co_await ws->async_accept(request, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      channel->end();
      co_return;
    }
    ws->binary(true);

    auto executor = co_await net::this_coro::executor;
    auto wake_writer = std::make_shared<net::steady_timer>(executor);
    auto wake_reader = std::make_shared<net::steady_timer>(executor);
    std::weak_ptr<net::steady_timer> weak_writer = wake_writer, weak_reader = wake_reader;
    channel->setServerWaker([executor, weak_writer, weak_reader] {
      net::post(executor, [weak_writer, weak_reader] {
        for (const auto& weak : {weak_writer, weak_reader})
          if (auto t = weak.lock()) t->cancel();
      });
    });
    net::co_spawn(executor, readWebSocket(ws, channel, wake_reader), net::detached);
    for (;;) {
      bool closing = false, ended = false;
      std::vector<std::string> messages = channel->takeOutgoing(&closing, &ended);
      if (ended) {
        // The peer left (then this fails at once), or the server stops.
        if (ws->is_open())
          co_await ws->async_close(websocket::close_code::going_away,
                                   net::redirect_error(net::use_awaitable, ec));
        break;
      }
      for (const auto& m : messages) {
        co_await ws->async_write(net::buffer(m), net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      if (ec) break;
      if (closing) {
        co_await ws->async_close(websocket::close_code::normal,
                                 net::redirect_error(net::use_awaitable, ec));
        break;
      }
      if (!messages.empty()) continue;
      // Woken (cancelled) when there is something to send; the wait's own result is moot.
      boost::system::error_code woken;
      wake_writer->expires_after(kHeartbeatPeriod);
      co_await wake_writer->async_wait(net::redirect_error(net::use_awaitable, woken));
    }
    channel->end();
    channel->setServerWaker(nullptr);
    // Ends the reader's pending read, if the close handshake did not.
    beast::get_lowest_layer(*ws).socket().close(ec);
  }

  // Hands each message the peer sends to `channel`, pausing while the handler has not taken
  // enough of what arrived; ends the channel when the peer leaves.
  template <class Socket>
  static net::awaitable<void> readWebSocket(std::shared_ptr<Socket> ws,
                                            std::shared_ptr<WebSocketChannel> channel,
                                            std::shared_ptr<net::steady_timer> room) {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (!channel->ended()) {
      if (!channel->acceptsIncoming()) {
        room->expires_after(kHeartbeatPeriod);
        co_await room->async_wait(net::redirect_error(net::use_awaitable, ec));
        continue;
      }
      co_await ws->async_read(buffer, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      channel->deliver(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
    }
    channel->end();
  }

  // Constant after construction.
  const Options options_;
  const HttpHandler handler_;

  net::thread_pool blocking_pool_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable drained_;
  std::set<std::shared_ptr<Connection>> connections_;  // guarded by mu_
};

HttpServer::HttpServer(Options options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}
HttpServer::~HttpServer() { impl_->stop(); }
Status HttpServer::start() { return impl_->start(); }
void HttpServer::stop() { impl_->stop(); }
uint16_t HttpServer::port() const { return impl_->port(); }

}  // namespace skiff
