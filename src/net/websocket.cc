#include "net/websocket.h"

// Asio's coroutine headers need <utility> first on Boost 1.74.
#include <utility>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>

#include "net/tls_client.h"

namespace skiff::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using beast::error_code;

namespace {

// Bound on what waits in either direction: receive() and send() hold the rest back.
constexpr size_t kMaxQueuedBytes = 4 << 20;
constexpr size_t kMaxMessageBytes = 16 << 20;
// A server that answers no ping for this long is gone.
constexpr auto kIdleTimeout = std::chrono::seconds(60);

}  // namespace

// The state users and the connection's thread share, and the transport-independent half.
class WebSocketClient::Impl {
 public:
  Impl(ssl::context tls_context, std::string authority)
      : tls_context_(std::move(tls_context)), authority_(std::move(authority)) {}
  virtual ~Impl() { shutdown(); }

  bool send(std::string message) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return ended_ || outbox_bytes_ < kMaxQueuedBytes; });
    if (ended_ || close_requested_) return false;
    outbox_bytes_ += message.size();
    lock.unlock();
    asio::post(io_, [this, message = std::move(message)]() mutable { queue(std::move(message)); });
    return true;
  }

  std::optional<std::string> receive() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return ended_ || !inbox_.empty(); });
    if (inbox_.empty()) return std::nullopt;
    std::string message = std::move(inbox_.front());
    inbox_.pop_front();
    inbox_bytes_ -= message.size();
    if (reading_paused_ && inbox_bytes_ < kMaxQueuedBytes / 2) {
      reading_paused_ = false;
      asio::post(io_, [this] { read(); });
    }
    return message;
  }

  void close() {
    {
      std::lock_guard lock(mu_);
      if (ended_ || close_requested_) return;
      close_requested_ = true;
    }
    asio::post(io_, [this] { requestClose(); });
  }

  void abort() {
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      close_requested_ = true;
    }
    asio::post(io_, [this] { dropNow(); });
  }

  Status ending() const {
    std::lock_guard lock(mu_);
    return ending_;
  }

  void start() {
    asio::post(io_, [this] { read(); });
    thread_ = std::thread([this] { io_.run(); });
  }

  // Stops the connection's thread; called by the most derived destructor, before the stream
  // the thread uses goes.
  void shutdown() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

 protected:
  // On the connection's thread.
  virtual void queue(std::string message) = 0;
  virtual void requestClose() = 0;
  virtual void dropNow() = 0;
  virtual void read() = 0;

  // A message arrived (on the connection's thread): whether to read on.
  bool deliver(std::string message) {
    std::lock_guard lock(mu_);
    inbox_bytes_ += message.size();
    inbox_.push_back(std::move(message));
    changed_.notify_all();
    reading_paused_ = inbox_bytes_ >= kMaxQueuedBytes;
    return !reading_paused_;
  }

  void sent(size_t bytes) {
    std::lock_guard lock(mu_);
    outbox_bytes_ -= bytes;
    changed_.notify_all();
  }

  void finish(const error_code& ec) {
    std::lock_guard lock(mu_);
    if (ended_) return;
    ended_ = true;
    if (ec != websocket::error::closed)
      ending_ = unavailable("the connection to " + authority_ + " broke: " + ec.message());
    changed_.notify_all();
  }

  // Constant after construction (the context is the TLS stream's).
  ssl::context tls_context_;
  const std::string authority_;
  asio::io_context io_;

 private:
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> inbox_;  // guarded by mu_
  size_t inbox_bytes_ = 0;         // guarded by mu_
  size_t outbox_bytes_ = 0;        // guarded by mu_: queued by send(), not yet written
  bool reading_paused_ = false;    // guarded by mu_
  bool close_requested_ = false;   // guarded by mu_
  bool ended_ = false;             // guarded by mu_
  Status ending_;                  // guarded by mu_
};

namespace {

// A connection over `Next`: beast::tcp_stream, or a TLS stream over one.
template <class Next>
class Connection final : public WebSocketClient::Impl {
 public:
  static constexpr bool kTls = !std::is_same_v<Next, beast::tcp_stream>;

  Connection(ssl::context tls_context, std::string authority)
      : Impl(std::move(tls_context), std::move(authority)), ws_(makeStream()) {}
  ~Connection() override { shutdown(); }

  const std::string& chosen() const { return chosen_; }

  // Connects, verifies and upgrades, running the connection's io_context on the caller's
  // thread until done.
  Status open(const WebSocketRequest& request, const TlsClientOptions& tls, const Url& url,
              ClientResponse* refusal, bool* upgraded) {
    for (const auto& p : request.subprotocols) offered_ += (offered_.empty() ? "" : ", ") + p;
    Status status;
    asio::co_spawn(io_, handshake(request, tls, url, refusal, upgraded, &status), asio::detached);
    io_.run();
    io_.restart();
    return status;
  }

 private:
  websocket::stream<Next> makeStream() {
    if constexpr (kTls) {
      return websocket::stream<Next>(io_, tls_context_);
    } else {
      return websocket::stream<Next>(io_);
    }
  }

  static Status failure(const std::string& what, const Url& url, const error_code& ec,
                        std::chrono::milliseconds timeout) {
    return unavailable(what + " " + url.authority() + ": " +
                       (ec == beast::error::timeout
                            ? "no answer within " + std::to_string(timeout.count()) + "ms"
                            : ec.message()));
  }

  asio::awaitable<void> handshake(const WebSocketRequest& request, const TlsClientOptions& tls,
                                  const Url& url, ClientResponse* refusal, bool* upgraded,
                                  Status* status) {
    *status = co_await handshakeSteps(request, tls, url, refusal, upgraded);
    // Done, whatever timers the stream still has (a refused handshake's keeps running).
    io_.stop();
  }

  asio::awaitable<Status> handshakeSteps(const WebSocketRequest& request,
                                         const TlsClientOptions& tls, const Url& url,
                                         ClientResponse* refusal, bool* upgraded) {
    error_code ec;
    auto& tcp_stream = beast::get_lowest_layer(ws_);
    tcp::resolver resolver(io_);
    auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return unavailable("cannot resolve " + url.host + ": " + ec.message());
    tcp_stream.expires_after(request.timeout);
    co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failure("cannot connect to", url, ec, request.timeout);
    if constexpr (kTls) {
      // The context was configured before the stream was made from it (open() below).
      ServerVerifier verifier(tls, url);
      SSL* ssl = ws_.next_layer().native_handle();
      verifier.prepare(ssl);
      co_await ws_.next_layer().async_handshake(ssl::stream_base::client,
                                                asio::redirect_error(asio::use_awaitable, ec));
      if (Status s = verifier.check(ssl, ec, request.timeout); !s.isOk()) co_return s;
    }
    tcp_stream.expires_never();  // the WebSocket's own timeouts take over

    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = request.timeout;
    timeouts.idle_timeout = kIdleTimeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [headers = request.headers, protocol = offered_](websocket::request_type& req) {
          req.set(http::field::user_agent, std::string("skiff/") + SKIFF_VERSION);
          if (!protocol.empty()) req.set(http::field::sec_websocket_protocol, protocol);
          for (const auto& [name, value] : headers) req.set(name, value);
        }));
    ws_.read_message_max(kMaxMessageBytes);
    const bool default_port =
        (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    // Named, not a conditional expression in the co_await: GCC 12 destroys such temporaries
    // twice across the suspension.
    if (!default_port) host += ":" + std::to_string(url.port);
    websocket::response_type answer;
    co_await ws_.async_handshake(answer, host, url.target,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec && answer.result_int() != 0 && answer.result() != http::status::switching_protocols) {
      // Refused (unauthenticated, forbidden, not found...): the answer is the caller's to read.
      refusal->status = static_cast<int>(answer.result_int());
      for (const auto& field : answer)
        refusal->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      refusal->body = std::move(answer.body());
      co_return Status::ok();
    }
    if (ec) co_return failure("the WebSocket upgrade failed with", url, ec, request.timeout);
    chosen_ = std::string(answer[http::field::sec_websocket_protocol]);
    if (!request.subprotocols.empty() &&
        std::find(request.subprotocols.begin(), request.subprotocols.end(), chosen_) ==
            request.subprotocols.end())
      co_return unavailable("the server at " + url.authority() +
                            " does not speak the WebSocket subprotocol " + offered_ +
                            " (is it an older version?)");
    ws_.binary(true);
    *upgraded = true;
    co_return Status::ok();
  }

  void queue(std::string message) override {
    outbox_.push_back(std::move(message));
    if (!writing_) writeNext();
  }

  void writeNext() {
    if (outbox_.empty()) {
      writing_ = false;
      if (closing_) closeNow();
      return;
    }
    writing_ = true;
    ws_.async_write(asio::buffer(outbox_.front()), [this](const error_code& ec, size_t) {
      sent(outbox_.front().size());
      outbox_.pop_front();
      if (ec) return finish(ec);
      writeNext();
    });
  }

  void requestClose() override {
    closing_ = true;
    if (!writing_) closeNow();
  }

  void dropNow() override {
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    finish(websocket::error::closed);
  }

  void closeNow() {
    // The pending read ends with error::closed once the server answers the close.
    ws_.async_close(websocket::close_code::normal, [this](const error_code& ec) {
      if (ec) finish(ec);
    });
  }

  void read() override {
    ws_.async_read(buffer_, [this](const error_code& ec, size_t) {
      if (ec) return finish(ec);
      std::string message = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      if (deliver(std::move(message))) read();
    });
  }

  websocket::stream<Next> ws_;
  std::string offered_;  // the subprotocols, as the request header lists them
  std::string chosen_;   // the one the server chose
  // On the connection's thread only.
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closing_ = false;
};

}  // namespace

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl, std::string subprotocol)
    : impl_(std::move(impl)), subprotocol_(std::move(subprotocol)) {}
WebSocketClient::~WebSocketClient() = default;

Result<WebSocketClient::Opened> WebSocketClient::open(const WebSocketRequest& request,
                                                      const TlsClientOptions& tls) {
  auto url = parseUrl(request.url);
  if (!url.ok()) return url.status();
  ssl::context context(ssl::context::tls_client);
  Opened opened;
  bool upgraded = false;
  Status status;
  std::string chosen;
  std::unique_ptr<Impl> impl;
  if (url->scheme == "https") {
    // Configured before the TLS stream is made: an SSL object takes its settings then.
    ServerVerifier verifier(tls, *url);
    if (Status s = verifier.configure(context); !s.isOk()) return s;
    auto connection = std::make_unique<Connection<beast::ssl_stream<beast::tcp_stream>>>(
        std::move(context), url->authority());
    status = connection->open(request, tls, *url, &opened.refusal, &upgraded);
    chosen = connection->chosen();
    impl = std::move(connection);
  } else {
    auto connection =
        std::make_unique<Connection<beast::tcp_stream>>(std::move(context), url->authority());
    status = connection->open(request, tls, *url, &opened.refusal, &upgraded);
    chosen = connection->chosen();
    impl = std::move(connection);
  }
  if (!status.isOk()) return status;
  if (!upgraded) return opened;
  impl->start();
  opened.client =
      std::unique_ptr<WebSocketClient>(new WebSocketClient(std::move(impl), std::move(chosen)));
  return opened;
}

bool WebSocketClient::send(std::string message) { return impl_->send(std::move(message)); }
std::optional<std::string> WebSocketClient::receive() { return impl_->receive(); }
void WebSocketClient::close() { impl_->close(); }
void WebSocketClient::abort() { impl_->abort(); }
Status WebSocketClient::ending() const { return impl_->ending(); }

}  // namespace skiff::net
