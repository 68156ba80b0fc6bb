#include "gateway/proxy_worker.h"

#include <utility>  // before Asio's coroutine headers (see STYLE/build notes)

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <random>

#include "gateway/balancer.h"
#include "gateway/http_parser.h"
#include "net/tls.h"

namespace skiff::gateway {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
template <class T>
using awaitable = asio::awaitable<T>;

constexpr size_t kBufferBytes = 16 * 1024;
constexpr size_t kMaxSpareExchanges = 256;
constexpr int kMaxStaleRetries = 3;
// Backends tried after connection failures, past those the exclusion mask covers.
constexpr size_t kMaxConnectRetries = 64;

// A byte buffer with a consumed prefix: [begin, end) holds unread bytes.
struct Buffer {
  std::unique_ptr<char[]> data;
  size_t cap = 0;
  size_t begin = 0;
  size_t end = 0;

  std::string_view view() const { return {data.get() + begin, end - begin}; }
  size_t size() const { return end - begin; }
  void clear() { begin = end = 0; }
  void consume(size_t n) {
    begin += n;
    if (begin == end) clear();
  }
  char* space() { return data.get() + end; }
  size_t spaceSize() const { return cap - end; }
  // Guarantees free space after `end`, moving unread bytes to the front first and growing only
  // when a head is bigger than the default buffer (up to the head limit).
  void makeRoom() {
    if (cap == 0) {
      data.reset(new char[kBufferBytes]);
      cap = kBufferBytes;
    }
    if (end < cap) return;
    if (begin > 0) {
      std::memmove(data.get(), data.get() + begin, end - begin);
      end -= begin;
      begin = 0;
      return;
    }
    size_t new_cap = cap * 2;
    std::unique_ptr<char[]> bigger(new char[new_cap]);
    std::memcpy(bigger.get(), data.get(), end);
    data = std::move(bigger);
    cap = new_cap;
  }
};

bool wouldBlock(const error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// Reads what is available, waiting for readiness only when there is nothing. The read is tried
// first because Asio's epoll reactor is edge-triggered: a wait is only safe after a read has
// drained the socket. On end of stream returns 0 with ec == eof.
//
// `wait_first` skips the first attempt when nothing can be there yet (a backend's response right
// after the request was written): that is safe because the response arrives after the wait is
// queued and so raises a fresh edge, and it saves one failed read per request.
awaitable<size_t> readSome(tcp::socket& socket, char* data, size_t size, error_code& ec,
                           bool wait_first = false) {
  if (wait_first) {
    co_await socket.async_wait(tcp::socket::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return 0;
  }
  for (;;) {
    size_t n = socket.read_some(asio::buffer(data, size), ec);
    if (!wouldBlock(ec)) co_return n;
    co_await socket.async_wait(tcp::socket::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return 0;
  }
}

// Writes `a` then `b` completely (one sendmsg when the socket takes it all).
awaitable<void> writeAll(tcp::socket& socket, std::string_view a, std::string_view b,
                         error_code& ec) {
  ec = {};
  while (!a.empty() || !b.empty()) {
    std::array<asio::const_buffer, 2> buffers{asio::buffer(a.data(), a.size()),
                                              asio::buffer(b.data(), b.size())};
    size_t n = socket.write_some(buffers, ec);
    if (wouldBlock(ec)) {
      co_await socket.async_wait(tcp::socket::wait_write,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      continue;
    }
    if (ec) co_return;
    size_t from_a = std::min(n, a.size());
    a.remove_prefix(from_a);
    b.remove_prefix(n - from_a);
  }
}

// The same over TLS. OpenSSL buffers records of its own, so readiness of the socket says
// nothing about readable data: these go through Asio's TLS engine instead.
awaitable<size_t> readSome(TlsStream& stream, char* data, size_t size, error_code& ec,
                           bool wait_first = false) {
  (void)wait_first;
  size_t n = co_await stream.async_read_some(asio::buffer(data, size),
                                             asio::redirect_error(asio::use_awaitable, ec));
  co_return n;
}

awaitable<void> writeAll(TlsStream& stream, std::string_view a, std::string_view b,
                         error_code& ec) {
  ec = {};
  std::array<asio::const_buffer, 2> buffers{asio::buffer(a.data(), a.size()),
                                            asio::buffer(b.data(), b.size())};
  co_await asio::async_write(stream, buffers, asio::redirect_error(asio::use_awaitable, ec));
}

// The host a request is for: the authority of an absolute-form target ("http://host/path"),
// else its Host header; lowercase, without port.
std::string_view requestHost(std::string_view host_header, std::string_view target, char* buf,
                             size_t cap) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() &&
        equalsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
      std::string_view rest = target.substr(scheme.size());
      host_header = rest.substr(0, rest.find('/'));
      break;
    }
  }
  return normalizeHost(host_header, buf, cap);
}

bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE" || method == "TRACE";
}

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      // Non-ASCII bytes from a request are escaped byte by byte so the body stays valid JSON.
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 413:
      return "Content Too Large";
    case 421:
      return "Misdirected Request";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// Headers the gateway writes itself instead of forwarding.
bool isRewrittenRequestHeader(std::string_view name) {
  switch (name.size()) {
    case 12:
      return equalsIgnoreCase(name, "x-request-id");
    case 15:
      return equalsIgnoreCase(name, "x-forwarded-for");
    case 17:
      return equalsIgnoreCase(name, "x-forwarded-proto");
    default:
      return false;
  }
}

}  // namespace

// Scratch space for one request/response exchange. Pooled per worker and held by a connection
// only while it has bytes to process, so an idle keep-alive connection holds no buffers.
struct ProxyWorker::Exchange {
  Buffer in;  // from the client: head, body, and pipelined requests after it
  Buffer up;  // from the backend
  RequestHead req;
  ResponseHead resp;
  HeadScanner scanner;
  ChunkedScanner chunked;
  std::string out;  // a head being written
  std::string method;
  std::string request_id;
};

struct ProxyWorker::UpstreamConn {
  explicit UpstreamConn(asio::io_context& ioc) : socket(ioc) {}
  tcp::socket socket;
  Clock::time_point idle_since;
};

struct ProxyWorker::UpstreamPool {
  std::vector<std::unique_ptr<UpstreamConn>> idle;  // oldest first; reuse takes the newest
};

// What a route's state holds, its counters and pools, lives as long as some route state holds
// it; ThreadMetrics and pools_ only find them.
struct ProxyWorker::RouteState {
  Balancer balancer;
  std::shared_ptr<RouteStats> stats;  // in flight, and what the gateway answers before a backend
  std::vector<std::shared_ptr<UpstreamPool>> pools;        // per backend
  std::vector<std::shared_ptr<RouteStats>> backend_stats;  // per backend: by its revision
};

// The route table as one worker serves it: the shared immutable table plus this thread's
// balancers, counters and pools for each route. Requests hold a shared_ptr to it, so a table
// swap leaves running requests on the table they started with. A route that a delta left
// alone keeps its state (shared with the table before), so its balancing goes on where it was.
// The control blocks are only ever touched by this worker's thread, so their reference
// counting never bounces between cores.
struct ProxyWorker::ThreadRoutes {
  std::shared_ptr<const RouteTable> table;
  std::vector<std::shared_ptr<RouteState>> routes;
};

// One client connection, whatever its stream. The watchdog and drain() reach every session
// through this part, which is why it holds the TCP socket under the stream.
struct ProxyWorker::Session {
  explicit Session(bool over_tls) : tls(over_tls) {}
  enum class State { kIdle, kHead, kProxying };
  tcp::socket* socket = nullptr;  // the client's TCP connection (under TLS, the stream's)
  const bool tls;
  // Under TLS: the server name the handshake chose a certificate for. Requests on the
  // connection must be for that host, so that one tenant's certificate never fronts another's.
  std::string tls_name;
  std::string peer;
  uint64_t client_key = 0;  // the peer address hashed, for sticky routes
  State state = State::kIdle;
  Clock::time_point deadline;
  bool timed_out = false;
  UpstreamConn* upstream = nullptr;
  Session* prev = nullptr;
  Session* next = nullptr;
};

// A session with its stream: tcp::socket for HTTP, TlsStream for HTTPS.
template <class Stream>
struct ProxyWorker::ClientSession : ProxyWorker::Session {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  template <class... Args>
  explicit ClientSession(Args&&... args) : Session(kTls), client(std::forward<Args>(args)...) {
    if constexpr (kTls)
      socket = &client.next_layer();
    else
      socket = &client;
  }
  Stream client;
};

class ProxyWorker::Proxy {
 public:
  Proxy(ProxyWorker& worker) : w_(worker), ioc_(worker.ioc_) {
    std::random_device rd;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08x%02x-", rd(), static_cast<unsigned>(worker.index_ & 0xff));
    id_prefix_ = buf;
    no_route_stats_ = metrics_.route(kNoRoute);
  }

  void adopt(std::shared_ptr<const RouteTable> table) {
    auto routes = std::make_shared<ThreadRoutes>();
    const std::vector<RoutePtr>& list = table->routes();
    routes->routes.reserve(list.size());
    const bool from_current = routes_ && routes_->table->serial() == table->baseSerial();
    for (size_t i = 0; i < list.size(); ++i) {
      if (from_current && table->baseIndex()[i] != RouteTable::kNone) {
        routes->routes.push_back(routes_->routes[table->baseIndex()[i]]);
        continue;
      }
      const Route& route = *list[i];
      auto state = std::make_shared<RouteState>(
          RouteState{Balancer(route.balancer, route.backends), metrics_.route(route.id), {}, {}});
      for (const Backend& b : route.backends) {
        std::weak_ptr<UpstreamPool>& slot = pools_[b.address];
        std::shared_ptr<UpstreamPool> pool = slot.lock();
        if (!pool) {
          pool = std::make_shared<UpstreamPool>();
          slot = pool;
        }
        state->pools.push_back(std::move(pool));
        state->backend_stats.push_back(metrics_.route(route.id, b.revision));
      }
      routes->routes.push_back(std::move(state));
    }
    routes->table = std::move(table);
    routes_ = std::move(routes);
  }

  MetricsSnapshot snapshot() const { return metrics_.snapshot(); }

  void drain() {
    draining_ = true;
    error_code ec;
    if (w_.acceptor_) w_.acceptor_->close(ec);
    if (w_.tls_acceptor_) w_.tls_acceptor_->close(ec);
    for (Session* s = sessions_; s != nullptr; s = s->next)
      if (s->state == Session::State::kIdle) s->socket->cancel(ec);
  }

  void closePools() {
    for (auto& [address, slot] : pools_)
      if (auto pool = slot.lock()) pool->idle.clear();
    pools_.clear();
  }

  // HTTPS: a context without a certificate whose SNI callback switches each handshake to the
  // context of the certificate for the requested name.
  void enableTls() {
    tls_context_ = net::makeServerTlsContextWithoutCertificate();
    SSL_CTX* ctx = tls_context_->native_handle();
    SSL_CTX_set_tlsext_servername_callback(ctx, &Proxy::selectCertificate);
    SSL_CTX_set_tlsext_servername_arg(ctx, this);
  }

  void setCertificates(std::shared_ptr<const CertificateStore> certificates) {
    certificates_ = std::move(certificates);
  }

  template <bool kTls>
  awaitable<void> acceptLoop(tcp::acceptor& acceptor) {
    for (;;) {
      error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (draining_ || ec == asio::error::operation_aborted) co_return;
        // EMFILE and friends: back off instead of spinning on the listening socket.
        spdlog::warn("gateway: accept failed: {}", ec.message());
        asio::steady_timer pause(ioc_, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if constexpr (kTls)
        asio::co_spawn(ioc_, serve<TlsStream>(std::move(socket), *tls_context_), asio::detached);
      else
        asio::co_spawn(ioc_, serve<tcp::socket>(std::move(socket)), asio::detached);
    }
  }

  // Enforces deadlines (idle, head, request timeouts) and ages out pooled connections. A coarse
  // 100 ms tick scanning this thread's sessions is far cheaper than a timer per request.
  awaitable<void> watchdog() {
    asio::steady_timer timer(ioc_);
    for (uint64_t tick = 0;; ++tick) {
      timer.expires_after(std::chrono::milliseconds(100));
      error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      Clock::time_point now = Clock::now();
      for (Session* s = sessions_; s != nullptr; s = s->next) {
        if (now < s->deadline) continue;
        if (s->state == Session::State::kProxying) {
          if (s->timed_out) continue;
          s->timed_out = true;
          if (s->upstream != nullptr) s->upstream->socket.cancel(ec);
        }
        s->socket->cancel(ec);
      }
      if (tick % 10 == 0) prunePools(now);
    }
  }

 private:
  // Runs inside the handshake, on this worker's thread. A name without a certificate (or no
  // name at all) ends the handshake with an alert: a default certificate would tell the client
  // some other tenant's host.
  static int selectCertificate(SSL* ssl, int* alert, void* arg) {
    const Proxy& self = *static_cast<const Proxy*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const Certificate* cert =
        name != nullptr && self.certificates_ ? self.certificates_->find(name) : nullptr;
    if (cert == nullptr) {
      *alert = SSL_AD_UNRECOGNIZED_NAME;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    SSL_set_SSL_CTX(ssl, cert->context->native_handle());
    return SSL_TLSEXT_ERR_OK;
  }

  void link(Session& s) {
    s.next = sessions_;
    if (sessions_ != nullptr) sessions_->prev = &s;
    sessions_ = &s;
  }
  void unlink(Session& s) {
    if (s.prev != nullptr)
      s.prev->next = s.next;
    else
      sessions_ = s.next;
    if (s.next != nullptr) s.next->prev = s.prev;
  }

  std::unique_ptr<Exchange> acquireExchange() {
    if (spare_exchanges_.empty()) return std::make_unique<Exchange>();
    auto ex = std::move(spare_exchanges_.back());
    spare_exchanges_.pop_back();
    return ex;
  }
  void releaseExchange(std::unique_ptr<Exchange>& ex) {
    if (!ex) return;
    ex->in.clear();
    ex->up.clear();
    ex->scanner.reset();
    if (spare_exchanges_.size() < kMaxSpareExchanges && ex->in.cap <= kBufferBytes &&
        ex->up.cap <= kBufferBytes)
      spare_exchanges_.push_back(std::move(ex));
    ex.reset();
  }

  std::unique_ptr<UpstreamConn> takeIdle(UpstreamPool& pool) {
    if (pool.idle.empty()) return nullptr;
    auto conn = std::move(pool.idle.back());
    pool.idle.pop_back();
    return conn;
  }
  void putIdle(UpstreamPool& pool, std::unique_ptr<UpstreamConn> conn) {
    if (pool.idle.size() >= w_.limits_.max_idle_upstream_per_backend || draining_) return;
    conn->idle_since = Clock::now();
    pool.idle.push_back(std::move(conn));
  }
  // Closes pooled connections idle for too long, and forgets the pools and counters of backends
  // and routes that are gone (from the table, and from every request still running).
  void prunePools(Clock::time_point now) {
    std::erase_if(pools_, [](const auto& entry) { return entry.second.expired(); });
    metrics_.prune();
    for (auto& [address, slot] : pools_) {
      std::shared_ptr<UpstreamPool> pool = slot.lock();
      size_t stale = 0;
      while (stale < pool->idle.size() &&
             now - pool->idle[stale]->idle_since > w_.limits_.upstream_idle_timeout)
        ++stale;
      pool->idle.erase(pool->idle.begin(), pool->idle.begin() + static_cast<std::ptrdiff_t>(stale));
    }
  }

  void newRequestId(std::string& out) {
    out.assign(id_prefix_);
    char buf[20];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ++id_counter_, 16);
    out.append(buf, end);
  }

  template <class Stream, class... StreamArgs>
  awaitable<void> serve(tcp::socket socket, StreamArgs&... stream_args) {
    ClientSession<Stream> s(std::move(socket), stream_args...);
    w_.connections_.fetch_add(1, std::memory_order_relaxed);
    error_code ec;
    s.socket->set_option(tcp::no_delay(true), ec);
    s.socket->non_blocking(true, ec);
    tcp::endpoint peer = s.socket->remote_endpoint(ec);
    if (!ec) s.peer = peer.address().to_string();
    s.client_key = std::hash<std::string>{}(s.peer);
    link(s);
    if constexpr (ClientSession<Stream>::kTls) {
      // The handshake has the head's deadline (the watchdog cancels a client that stalls).
      s.state = Session::State::kHead;
      s.deadline = Clock::now() + w_.limits_.head_timeout;
      co_await s.client.async_handshake(asio::ssl::stream_base::server,
                                        asio::redirect_error(asio::use_awaitable, ec));
      const char* name = SSL_get_servername(s.client.native_handle(), TLSEXT_NAMETYPE_host_name);
      if (ec || name == nullptr) {
        ++metrics_.tls_handshake_failures;
        unlink(s);
        s.socket->close(ec);
        w_.connections_.fetch_sub(1, std::memory_order_relaxed);
        co_return;
      }
      char buf[256];
      s.tls_name = normalizeHost(name, buf, sizeof buf);
    }
    std::unique_ptr<Exchange> ex;
    bool open = true;
    while (open) {
      s.state = Session::State::kIdle;
      s.deadline = Clock::now() + w_.limits_.client_idle_timeout;
      size_t head_size = 0;
      // Read until a whole head is buffered.
      while (open) {
        if (ex && ex->in.size() > 0) {
          head_size = ex->scanner.find(ex->in.view());
          if (head_size > 0) break;
          if (ex->in.size() > kMaxHeadBytes) {
            co_await respondBadRequest(s, *ex, 431, "request head too large (limit 32 KiB)");
            open = false;
            break;
          }
        } else if (draining_) {
          open = false;
          break;
        }
        if (!ex) ex = acquireExchange();
        ex->in.makeRoom();
        size_t n = 0;
        if constexpr (ClientSession<Stream>::kTls) {
          // TLS reads wait inside the engine, holding the buffer (OpenSSL may have buffered
          // records the socket's readiness does not show).
          n = co_await readSome(s.client, ex->in.space(), ex->in.spaceSize(), ec);
        } else {
          n = s.client.read_some(asio::buffer(ex->in.space(), ex->in.spaceSize()), ec);
          if (wouldBlock(ec)) {
            // Nothing yet: give the scratch space back while waiting, unless a partial head is
            // in it.
            if (ex->in.size() == 0) releaseExchange(ex);
            co_await s.client.async_wait(tcp::socket::wait_read,
                                         asio::redirect_error(asio::use_awaitable, ec));
            if (ec) open = false;
            continue;
          }
        }
        if (ec || n == 0) {
          open = false;
          break;
        }
        ex->in.end += n;
        if (s.state == Session::State::kIdle) {
          s.state = Session::State::kHead;
          s.deadline = Clock::now() + w_.limits_.head_timeout;
        }
      }
      if (!open) break;
      if (head_size > kMaxHeadBytes) {
        co_await respondBadRequest(s, *ex, 431, "request head too large (limit 32 KiB)");
        break;
      }
      ParseError error;
      if (parseRequestHead(ex->in.view(), head_size, ex->req, error) != ParseStatus::kComplete) {
        co_await respondBadRequest(s, *ex, error.http_status, error.message);
        break;
      }
      open = co_await exchange(s, *ex, head_size);
      ex->scanner.reset();
      if (ex->in.size() == 0) releaseExchange(ex);
    }
    releaseExchange(ex);
    if constexpr (ClientSession<Stream>::kTls) {
      // close_notify, so that a response delimited by the close is known to be complete; a
      // client that neither answers nor closes is cut off by the watchdog.
      s.state = Session::State::kHead;
      s.deadline = Clock::now() + std::chrono::seconds(1);
      co_await s.client.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    }
    unlink(s);
    s.socket->close(ec);
    w_.connections_.fetch_sub(1, std::memory_order_relaxed);
  }

  // A malformed request: answer and close (the framing of what follows is unknown).
  template <class Stream>
  awaitable<void> respondBadRequest(ClientSession<Stream>& s, Exchange& ex, int status,
                                    const char* message) {
    newRequestId(ex.request_id);
    no_route_stats_->recordResponse(status, 0);
    co_await writeError(s, ex, status, status == 431 ? "HeaderTooLarge" : "BadRequest", message,
                        false);
  }

  template <class Stream>
  awaitable<void> writeError(ClientSession<Stream>& s, Exchange& ex, int status,
                             std::string_view reason, std::string_view message, bool keep) {
    std::string body = "{\"reason\":";
    appendJsonString(body, reason);
    body += ",\"message\":";
    appendJsonString(body, message);
    body += ",\"requestId\":";
    appendJsonString(body, ex.request_id);
    body += "}\n";
    ex.out.clear();
    ex.out +=
        "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nX-Request-Id: " + ex.request_id + "\r\n";
    if (!keep) ex.out += "Connection: close\r\n";
    ex.out += "\r\n";
    error_code ec;
    co_await writeAll(s.client, ex.out, body, ec);
  }

  void buildUpstreamHead(const Session& s, Exchange& ex, const Route& route) {
    const RequestHead& req = ex.req;
    std::string& out = ex.out;
    out.clear();
    out.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
    std::string_view tokens = req.facts.connection_tokens;
    for (size_t i = 0; i < req.header_count; ++i) {
      std::string_view name = req.headers[i].name;
      if (isHopByHop(name) || isRewrittenRequestHeader(name)) continue;
      if (!tokens.empty() && listContainsToken(tokens, name)) continue;
      out.append(name).append(": ").append(req.headers[i].value).append("\r\n");
    }
    if (req.facts.host.empty())
      out.append("Host: ").append(route.host == "*" ? "localhost" : route.host).append("\r\n");
    out.append("X-Forwarded-For: ");
    if (!req.facts.forwarded_for.empty()) out.append(req.facts.forwarded_for).append(", ");
    out.append(s.peer)
        .append(s.tls ? "\r\nX-Forwarded-Proto: https\r\nX-Request-Id: "
                      : "\r\nX-Forwarded-Proto: http\r\nX-Request-Id: ")
        .append(ex.request_id)
        .append("\r\n\r\n");
  }

  // Proxies one request whose head is parsed in ex.req. Returns whether the client connection
  // stays open for another request.
  template <class Stream>
  awaitable<bool> exchange(ClientSession<Stream>& s, Exchange& ex, size_t head_size) {
    const Clock::time_point start = Clock::now();
    const RequestHead& req = ex.req;
    const HeadFacts& facts = req.facts;
    std::shared_ptr<ThreadRoutes> routes = routes_;  // this request's table, whatever happens next
    ex.method.assign(req.method);
    if (!facts.request_id.empty() && facts.request_id.size() <= 200)
      ex.request_id.assign(facts.request_id);
    else
      newRequestId(ex.request_id);
    const bool client_http10 = req.version_minor == 0;
    bool client_keep = facts.keep_alive && !draining_;

    // How much of the body is already buffered, and is that all of it?
    std::string_view after_head = ex.in.view().substr(head_size);
    size_t body_part = 0;
    bool body_done = true;
    if (facts.body == BodyKind::kLength) {
      body_part = static_cast<size_t>(std::min<uint64_t>(after_head.size(), facts.content_length));
      body_done = body_part == facts.content_length;
    } else if (facts.body == BodyKind::kChunked) {
      ex.chunked.reset();
      body_part = ex.chunked.feed(after_head);
      if (ex.chunked.error()) {
        no_route_stats_->recordResponse(400, 0);
        co_await writeError(s, ex, 400, "BadRequest", "malformed chunked request body", false);
        co_return false;
      }
      body_done = ex.chunked.done();
    }
    const std::string_view body_view = after_head.substr(0, body_part);
    // Once the whole request is buffered it is consumed; its bytes stay in memory (and the views
    // into them valid) until the next read into ex.in, which only happens for the next request.
    if (body_done) ex.in.consume(head_size + body_part);

    if (s.tls) {
      char buf[256];
      std::string_view host = requestHost(facts.host, req.target, buf, sizeof buf);
      if (host != s.tls_name) {
        std::string message = "this TLS connection is for \"" + s.tls_name +
                              "\"; send requests for \"" + std::string(host) +
                              "\" on a connection to that name";
        no_route_stats_->recordResponse(421, secondsSince(start));
        co_await writeError(s, ex, 421, "MisdirectedRequest", message, false);
        co_return false;
      }
    }
    size_t route_index = 0;
    const Route* route =
        routes->table->match(facts.host, req.target, req.headers, req.header_count, &route_index);
    if (route == nullptr) {
      std::string message = "no route for host \"" + std::string(facts.host) + "\" and path \"" +
                            std::string(req.target.substr(0, req.target.find('?'))) + "\"";
      no_route_stats_->recordResponse(404, secondsSince(start));
      co_await writeError(s, ex, 404, "NoRoute", message, client_keep && body_done);
      co_return client_keep&& body_done;
    }
    RouteState& rs = *routes->routes[route_index];
    RouteStats& stats = *rs.stats;
    if (facts.body == BodyKind::kLength &&
        facts.content_length > w_.limits_.max_request_body_bytes) {
      stats.recordResponse(413, secondsSince(start));
      co_await writeError(s, ex, 413, "BodyTooLarge", "request body exceeds the gateway's limit",
                          false);
      co_return false;
    }
    if (route->backends.empty()) {
      std::string message = "route " + route->host + route->path_prefix + " has no ready instance";
      stats.recordResponse(503, secondsSince(start));
      co_await writeError(s, ex, 503, "NoReadyInstance", message, client_keep && body_done);
      co_return client_keep&& body_done;
    }

    ++stats.in_flight;
    ++stats.proxied;
    s.state = Session::State::kProxying;
    s.timed_out = false;
    s.deadline = start + std::chrono::milliseconds(route->timeout_ms);
    buildUpstreamHead(s, ex, *route);
    const bool idempotent = isIdempotent(ex.method);

    int status = 0;
    bool keep = false;
    std::unique_ptr<UpstreamConn> conn;
    int backend = -1;
    RouteStats* answered = &stats;  // the last backend tried, by its revision
    uint64_t excluded = 0;
    uint32_t retries_left = route->retries;
    int stale_retries_left = kMaxStaleRetries;
    size_t connect_retries_left = std::min(route->backends.size(), kMaxConnectRetries);
    error_code ec;
    std::string failure;  // why the backend could not answer, when status is 502/504
    bool response_started = false;
    bool client_gone = false;
    bool upstream_reusable = false;
    HeadScanner up_scanner;
    size_t resp_head_size = 0;

    for (;;) {  // one attempt per backend connection
      if (backend >= 0) rs.balancer.onRequestEnd(backend);
      backend =
          route->sticky ? rs.balancer.pickFor(s.client_key, excluded) : rs.balancer.pick(excluded);
      if (backend < 0) {
        status = 502;
        break;
      }
      rs.balancer.onRequestStart(backend);
      answered = rs.backend_stats[static_cast<size_t>(backend)].get();
      const Backend& target = route->backends[static_cast<size_t>(backend)];
      conn = takeIdle(*rs.pools[static_cast<size_t>(backend)]);
      const bool reused = conn != nullptr;
      if (!reused) {
        conn = std::make_unique<UpstreamConn>(ioc_);
        s.upstream = conn.get();
        co_await conn->socket.async_connect(target.endpoint,
                                            asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          ++answered->connect_errors;
          failure = "could not connect to backend " + target.address + ": " + ec.message();
          if (backend < 64) excluded |= uint64_t{1} << backend;
          s.upstream = nullptr;
          conn.reset();
          // Nothing reached the backend, so any request can go to another one, whatever its
          // method (as nginx's proxy_next_upstream does). A refusing backend is usually an
          // instance that has just stopped, in a table the gateway has not replaced yet.
          if (!s.timed_out && connect_retries_left > 0) {
            --connect_retries_left;
            continue;
          }
          status = s.timed_out ? 504 : 502;
          break;
        }
        conn->socket.set_option(tcp::no_delay(true), ec);
        conn->socket.non_blocking(true, ec);
      }
      s.upstream = conn.get();
      co_await writeAll(conn->socket, ex.out, body_view, ec);
      // The rest of the body, streamed from the client as it arrives.
      if (!ec && !body_done) {
        uint64_t remaining = facts.body == BodyKind::kLength ? facts.content_length - body_part : 0;
        while (!body_done) {
          ex.in.clear();
          ex.in.makeRoom();
          size_t n = co_await readSome(s.client, ex.in.space(), ex.in.spaceSize(), ec);
          if (ec) {
            client_gone = !s.timed_out;
            break;
          }
          ex.in.end = n;
          size_t take = n;
          if (facts.body == BodyKind::kLength) {
            take = static_cast<size_t>(std::min<uint64_t>(n, remaining));
            remaining -= take;
            body_done = remaining == 0;
          } else {
            take = ex.chunked.feed(ex.in.view());
            if (ex.chunked.error()) {
              status = 400;
              break;
            }
            body_done = ex.chunked.done();
            if (ex.chunked.bodyBytes() > w_.limits_.max_request_body_bytes) {
              status = 413;
              break;
            }
          }
          co_await writeAll(conn->socket, ex.in.view().substr(0, take), {}, ec);
          if (ec) break;
          ex.in.consume(take);  // pipelined bytes after the body stay for the next request
        }
        if (client_gone || status != 0) break;
        // A backend failure while streaming cannot be retried: the body is gone.
        stale_retries_left = 0;
        retries_left = 0;
      }
      // The response head (1xx interim responses are forwarded and skipped).
      if (!ec) {
        ex.up.clear();
        up_scanner.reset();
        for (;;) {
          resp_head_size = ex.up.size() > 0 ? up_scanner.find(ex.up.view()) : 0;
          if (resp_head_size > 0) {
            ParseError perr;
            if (resp_head_size > kMaxHeadBytes ||
                parseResponseHead(ex.up.view(), resp_head_size, ex.method, ex.resp, perr) !=
                    ParseStatus::kComplete) {
              failure = "backend sent a malformed response head";
              ec = asio::error::invalid_argument;
              break;
            }
            if (ex.resp.status >= 200) break;
            if (ex.resp.status == 101) {  // the gateway never asks for an upgrade
              failure = "backend switched protocols unasked";
              ec = asio::error::invalid_argument;
              break;
            }
            if (!client_http10) {
              co_await writeAll(s.client, ex.up.view().substr(0, resp_head_size), {}, ec);
              if (ec) {
                client_gone = true;
                break;
              }
            }
            ex.up.consume(resp_head_size);
            up_scanner.reset();
            continue;
          }
          if (ex.up.size() > kMaxHeadBytes) {
            failure = "backend response head too large";
            ec = asio::error::message_size;
            break;
          }
          ex.up.makeRoom();
          size_t n = co_await readSome(conn->socket, ex.up.space(), ex.up.spaceSize(), ec,
                                       ex.up.size() == 0);
          if (ec) break;
          ex.up.end += n;
        }
        if (client_gone) break;
        if (ec && ec != asio::error::invalid_argument && ec != asio::error::message_size) {
          // Nothing usable came back. A pooled connection the backend had already closed is
          // the usual cause; the request never reached it, so send it on a fresh connection.
          if (reused && body_done && ex.up.size() == 0 && !s.timed_out && stale_retries_left > 0) {
            --stale_retries_left;
            conn.reset();
            s.upstream = nullptr;
            continue;
          }
          // The backend took the request and answered nothing: an idempotent one may go to
          // another backend, as many times as the route allows.
          if (idempotent && body_done && ex.up.size() == 0 && !s.timed_out && retries_left > 0) {
            --retries_left;
            if (backend < 64) excluded |= uint64_t{1} << backend;
            conn.reset();
            s.upstream = nullptr;
            continue;
          }
          failure = "backend " + target.address + " closed the connection: " + ec.message();
        }
      }
      if (ec) {
        status = s.timed_out ? 504 : 502;
        if (failure.empty()) failure = "backend " + target.address + " failed: " + ec.message();
        break;
      }
      // Relay the response.
      const ResponseHead& resp = ex.resp;
      status = resp.status;
      keep = client_keep && !draining_ && resp.facts.body != BodyKind::kUntilClose &&
             !(client_http10 && resp.facts.body == BodyKind::kChunked);
      std::string_view after = ex.up.view().substr(resp_head_size);
      size_t part = 0;
      bool resp_done = true;
      uint64_t remaining = 0;
      if (resp.facts.body == BodyKind::kLength) {
        part = static_cast<size_t>(std::min<uint64_t>(after.size(), resp.facts.content_length));
        remaining = resp.facts.content_length - part;
        resp_done = remaining == 0;
      } else if (resp.facts.body == BodyKind::kChunked) {
        ex.chunked.reset();
        part = ex.chunked.feed(after);
        if (ex.chunked.error()) {
          status = 502;
          failure = "backend sent a malformed chunked body";
          break;
        }
        resp_done = ex.chunked.done();
      } else if (resp.facts.body == BodyKind::kUntilClose) {
        part = after.size();
        resp_done = false;
      }
      bool leftover = part < after.size();
      ex.out.clear();
      ex.out.append(client_http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
      char code[4] = {static_cast<char>('0' + status / 100),
                      static_cast<char>('0' + status / 10 % 10),
                      static_cast<char>('0' + status % 10), ' '};
      ex.out.append(code, 4).append(resp.reason).append("\r\n");
      std::string_view tokens = resp.facts.connection_tokens;
      for (size_t i = 0; i < resp.header_count; ++i) {
        std::string_view name = resp.headers[i].name;
        if (isHopByHop(name)) continue;
        if (!tokens.empty() && listContainsToken(tokens, name)) continue;
        ex.out.append(name).append(": ").append(resp.headers[i].value).append("\r\n");
      }
      if (!keep)
        ex.out.append("Connection: close\r\n");
      else if (client_http10)
        ex.out.append("Connection: keep-alive\r\n");
      ex.out.append("\r\n");
      response_started = true;
      co_await writeAll(s.client, ex.out, after.substr(0, part), ec);
      if (ec) {
        client_gone = true;
        break;
      }
      while (!resp_done) {
        ex.up.clear();
        ex.up.makeRoom();
        size_t n = co_await readSome(conn->socket, ex.up.space(), ex.up.spaceSize(), ec);
        if (ec) {
          if (resp.facts.body == BodyKind::kUntilClose && ec == asio::error::eof) resp_done = true;
          break;
        }
        ex.up.end = n;
        size_t take = n;
        if (resp.facts.body == BodyKind::kLength) {
          take = static_cast<size_t>(std::min<uint64_t>(n, remaining));
          remaining -= take;
          resp_done = remaining == 0;
        } else if (resp.facts.body == BodyKind::kChunked) {
          take = ex.chunked.feed(ex.up.view());
          if (ex.chunked.error()) break;
          resp_done = ex.chunked.done();
        }
        if (take < n) leftover = true;
        co_await writeAll(s.client, ex.up.view().substr(0, take), {}, ec);
        if (ec) {
          client_gone = true;
          break;
        }
      }
      if (!resp_done) keep = false;  // truncated: the client must not wait for more
      upstream_reusable = resp_done && resp.facts.keep_alive &&
                          resp.facts.body != BodyKind::kUntilClose && !leftover && !s.timed_out;
      break;
    }

    if (backend >= 0) rs.balancer.onRequestEnd(backend);
    s.upstream = nullptr;
    if (conn && upstream_reusable && body_done)
      putIdle(*rs.pools[static_cast<size_t>(backend)], std::move(conn));
    conn.reset();
    --stats.in_flight;
    s.state = Session::State::kIdle;

    if (client_gone) {
      answered->recordResponse(499, secondsSince(start));  // nginx's "client closed request"
      co_return false;
    }
    if (!response_started) {
      // The gateway answers for the backend.
      const bool keep_after_error = client_keep && body_done && !s.timed_out;
      if (status == 400) {
        answered->recordResponse(400, secondsSince(start));
        co_await writeError(s, ex, 400, "BadRequest", "malformed chunked request body", false);
        co_return false;
      }
      if (status == 413) {
        answered->recordResponse(413, secondsSince(start));
        co_await writeError(s, ex, 413, "BodyTooLarge", "request body exceeds the gateway's limit",
                            false);
        co_return false;
      }
      if (s.timed_out || status == 504) {
        answered->recordResponse(504, secondsSince(start));
        co_await writeError(
            s, ex, 504, "UpstreamTimeout",
            "route " + route->id + " timed out after " + std::to_string(route->timeout_ms) + " ms",
            false);
        co_return false;
      }
      answered->recordResponse(502, secondsSince(start));
      if (failure.empty()) failure = "no backend of route " + route->id + " could be reached";
      co_await writeError(s, ex, 502, "BadGateway", failure, keep_after_error);
      co_return keep_after_error;
    }
    answered->recordResponse(status, secondsSince(start));
    co_return keep&& body_done;
  }

  static double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  ProxyWorker& w_;
  asio::io_context& ioc_;
  std::shared_ptr<ThreadRoutes> routes_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // set when listening for HTTPS
  std::shared_ptr<const CertificateStore> certificates_;
  std::unordered_map<std::string, std::weak_ptr<UpstreamPool>> pools_;  // by backend address
  ThreadMetrics metrics_;
  std::shared_ptr<RouteStats> no_route_stats_;
  std::vector<std::unique_ptr<Exchange>> spare_exchanges_;
  Session* sessions_ = nullptr;
  bool draining_ = false;
  std::string id_prefix_;
  uint64_t id_counter_ = 0;
};

ProxyWorker::ProxyWorker(int index, ProxyLimits limits)
    : index_(index), limits_(limits), ioc_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO) {
  proxy_ = std::make_unique<Proxy>(*this);
}

ProxyWorker::~ProxyWorker() { stop(); }

namespace {

// A listening socket that shares its address with the other workers' (SO_REUSEPORT).
Result<std::unique_ptr<tcp::acceptor>> openReusePortAcceptor(asio::io_context& ioc,
                                                             const tcp::endpoint& endpoint,
                                                             const char* what) {
  error_code ec;
  auto acceptor = std::make_unique<tcp::acceptor>(ioc);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) {
    int one = 1;
    if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      ec = error_code(errno, boost::system::system_category());
  }
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(4096, ec);
  if (ec)
    return unavailable("cannot listen on " + endpoint.address().to_string() + ":" +
                       std::to_string(endpoint.port()) + " (" + what + "): " + ec.message());
  return acceptor;
}

}  // namespace

Status ProxyWorker::listen(const tcp::endpoint& endpoint) {
  auto acceptor = openReusePortAcceptor(ioc_, endpoint, "HTTP");
  if (!acceptor.ok()) return acceptor.status();
  error_code ec;
  port_ = (*acceptor)->local_endpoint(ec).port();
  acceptor_ = std::move(acceptor).value();
  return Status::ok();
}

Status ProxyWorker::listenTls(const tcp::endpoint& endpoint) {
  auto acceptor = openReusePortAcceptor(ioc_, endpoint, "HTTPS");
  if (!acceptor.ok()) return acceptor.status();
  error_code ec;
  tls_port_ = (*acceptor)->local_endpoint(ec).port();
  tls_acceptor_ = std::move(acceptor).value();
  proxy_->enableTls();
  return Status::ok();
}

void ProxyWorker::start(std::shared_ptr<const RouteTable> table) {
  proxy_->adopt(std::move(table));
  asio::co_spawn(ioc_, proxy_->acceptLoop<false>(*acceptor_), asio::detached);
  if (tls_acceptor_) asio::co_spawn(ioc_, proxy_->acceptLoop<true>(*tls_acceptor_), asio::detached);
  asio::co_spawn(ioc_, proxy_->watchdog(), asio::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

void ProxyWorker::setTable(std::shared_ptr<const RouteTable> table) {
  asio::post(ioc_, [this, table = std::move(table)]() mutable { proxy_->adopt(std::move(table)); });
}

void ProxyWorker::setCertificates(std::shared_ptr<const CertificateStore> certificates) {
  asio::post(ioc_, [this, certificates = std::move(certificates)]() mutable {
    proxy_->setCertificates(std::move(certificates));
  });
}

void ProxyWorker::collectMetrics(std::function<void(MetricsSnapshot)> done) {
  asio::post(ioc_, [this, done = std::move(done)] { done(proxy_->snapshot()); });
}

void ProxyWorker::drain() {
  asio::post(ioc_, [this] { proxy_->drain(); });
}

void ProxyWorker::stop() {
  if (!thread_.joinable()) return;
  ioc_.stop();
  thread_.join();
  // The loop is gone; pooled sockets close now, while their io_context still exists. Coroutines
  // still suspended are destroyed with ioc_ (declared after proxy_, so destroyed before it).
  proxy_->closePools();
  acceptor_.reset();
  tls_acceptor_.reset();
}

}  // namespace skiff::gateway
