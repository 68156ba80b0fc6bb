// skiff-example: a small HTTP/1.1 service that Skiff deploys in its README, its end-to-end
// tests and its benchmarks. It reports who it is (component name, version, instance), can call
// one upstream of its own kind (to show service-to-service traffic), and can be told to fail
// its health check, slow down or crash, so tests can drive a runtime through those cases.
//
// One thread accepts; each connection gets a thread for its lifetime (keep-alive), so there is
// no thread creation per request. Shared state is a few atomics. SIGTERM/SIGINT: stop
// accepting, finish requests in flight, close idle connections, exit 0. See
// docs/example-service.md.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr int kIdlePollMillis = 100;  // how often an idle connection notices shutdown
constexpr auto kDrainLimit = std::chrono::seconds(10);
constexpr int kUpstreamTimeoutMillis = 2000;

struct Options {
  std::string name = "example";
  std::string version = "v1";
  std::string instance;
  std::string host = "0.0.0.0";
  int port = 8080;
  std::string upstream_env;   // the env var that holds the upstream's host:port
  std::string upstream_host;  // Host header for the upstream (e.g. a route host on Skiff's
                              // gateway); default: the address itself
  size_t pad = 0;
  std::string port_file;
  bool access_log = false;  // one stdout line per request
  int error_percent = 0;    // this share of GET / answers 500, spread evenly (a bad release)
};

// Constant after startup.
Options options;
int listen_fd = -1;

std::atomic<bool> stopping{false};
std::atomic<bool> failing{false};
std::atomic<int> slow_ms{0};
std::atomic<uint64_t> root_requests{0};

std::mutex connections_mu;
std::condition_variable connections_done;
int open_connections = 0;  // guarded by connections_mu

void usage() {
  std::fprintf(stderr,
               "usage: skiff-example [--name NAME] [--port N] [--host ADDR] [--version-label V]\n"
               "                     [--upstream-env VAR] [--upstream-host HOST] [--pad BYTES] "
               "[--port-file PATH]\n"
               "                     [--access-log] [--error-percent N]\n"
               "  PORT, APP_VERSION and SKIFF_INSTANCE are read from the environment.\n");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parsePort(const std::string& text, int* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || v < 0 || v > 65535) return false;
  *out = static_cast<int>(v);
  return true;
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Request {
  std::string method;
  std::string target;  // path and query
  std::string path;
  std::string query;
  std::string version;                                       // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string peer;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return std::nullopt;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

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
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Parses a request head (without the final blank line); false if malformed.
bool parseHead(std::string_view head, Request* req) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  req->method = std::string(line.substr(0, sp1));
  req->target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  req->version = std::string(line.substr(sp2 + 1));
  if (req->version != "HTTP/1.1" && req->version != "HTTP/1.0") return false;
  size_t q = req->target.find('?');
  req->path = req->target.substr(0, q);
  req->query = q == std::string::npos ? "" : req->target.substr(q + 1);
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view h = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    if (h.empty()) continue;
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    req->headers.emplace_back(lower(h.substr(0, colon)), trim(h.substr(colon + 1)));
  }
  return true;
}

std::string queryParam(const std::string& query, const std::string& name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? amp : amp - pos);
    if (part.compare(0, name.size() + 1, name + "=") == 0) return part.substr(name.size() + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "";
}

// GET / on the upstream at `address` ("host:port"); its JSON body, or an error string.
Json callUpstream(const std::string& address, const std::string& host_header) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "bad upstream address \"" + address + "\": want host:port";
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return "upstream " + address + ": lookup failed: " + gai_strerror(rc);
  }
  int fd = -1;
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv{kUpstreamTimeoutMillis / 1000, (kUpstreamTimeoutMillis % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) return "upstream " + address + ": connect: " + error;

  std::string request = "GET / HTTP/1.1\r\nHost: " + (host_header.empty() ? address : host_header) +
                        "\r\nUser-Agent: skiff-example\r\nConnection: close\r\n\r\n";
  std::string response;
  if (sendAll(fd, request)) {
    char buf[16 * 1024];
    while (true) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) error = std::strerror(errno);
        break;
      }
      response.append(buf, static_cast<size_t>(n));
    }
  } else {
    error = std::strerror(errno);
  }
  ::close(fd);
  size_t body_at = response.find("\r\n\r\n");
  if (body_at == std::string::npos) return "upstream " + address + ": no response: " + error;
  std::string status_line = response.substr(0, response.find("\r\n"));
  std::string body = response.substr(body_at + 4);
  if (status_line.size() < 12 || status_line.compare(9, 3, "200") != 0) {
    return "upstream " + address + ": " +
           status_line.substr(std::min<size_t>(9, status_line.size()));
  }
  Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return body;
  return parsed;
}

Response handle(const Request& req) {
  Response res;
  auto method_is = [&](const char* m) { return req.method == m; };
  if (req.path == "/") {
    if (!method_is("GET")) return {405, "text/plain", "use GET\n"};
    // Request n fails when it carries the count of failures past a whole number: exactly
    // error_percent of every 100 requests, evenly spaced.
    const uint64_t n = ++root_requests;
    if (options.error_percent > 0 &&
        n * options.error_percent / 100 != (n - 1) * options.error_percent / 100)
      return {500, "text/plain", "failing on purpose (--error-percent)\n"};
    Json body = {
        {"service", options.name}, {"version", options.version}, {"instance", options.instance}};
    if (!options.upstream_env.empty()) {
      const char* address = std::getenv(options.upstream_env.c_str());
      body["upstream"] = address == nullptr || *address == '\0'
                             ? Json("$" + options.upstream_env + " is not set")
                             : callUpstream(address, options.upstream_host);
    }
    if (options.pad > 0) body["pad"] = std::string(options.pad, 'x');
    res.body = body.dump() + "\n";
  } else if (req.path == "/healthz") {
    if (!method_is("GET") && !method_is("HEAD")) return {405, "text/plain", "use GET\n"};
    if (failing) return {503, "text/plain", "failing\n"};
    return {200, "text/plain", "ok\n"};
  } else if (req.path == "/fail" || req.path == "/recover") {
    if (!method_is("POST")) return {405, "text/plain", "use POST\n"};
    failing = req.path == "/fail";
    res.body = Json{{"failing", failing.load()}}.dump() + "\n";
  } else if (req.path == "/slow") {
    if (!method_is("POST")) return {405, "text/plain", "use POST\n"};
    int ms = 0;
    std::string value = queryParam(req.query, "ms");
    if (!parsePort(value, &ms) && value != "") {
      return {400, "text/plain", "ms must be a number of milliseconds up to 65535\n"};
    }
    slow_ms = ms;
    res.body = Json{{"slowMs", ms}}.dump() + "\n";
  } else if (req.path == "/work") {
    // Burns cpu for ms milliseconds, so load tests can drive an instance's cpu up.
    if (!method_is("GET")) return {405, "text/plain", "use GET\n"};
    int ms = 0;
    if (!parsePort(queryParam(req.query, "ms"), &ms))
      return {400, "text/plain", "ms must be a number of milliseconds up to 65535\n"};
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
    }
    res.body = Json{{"workedMs", ms}, {"instance", options.instance}}.dump() + "\n";
  } else if (req.path == "/crash") {
    if (!method_is("POST")) return {405, "text/plain", "use POST\n"};
    std::_Exit(2);
  } else if (req.path == "/echo") {
    Json headers = Json::object();
    for (const auto& [name, value] : req.headers) {
      // Repeated headers are joined as a proxy would fold them.
      if (headers.contains(name)) {
        headers[name] = headers[name].get<std::string>() + ", " + value;
      } else {
        headers[name] = value;
      }
    }
    res.body = Json{{"method", req.method},
                    {"path", req.target},
                    {"remote", req.peer},
                    {"headers", headers}}
                   .dump() +
               "\n";
  } else {
    return {404, "text/plain", "no such endpoint: " + req.path + "\n"};
  }
  return res;
}

std::string peerOf(const sockaddr_storage& addr) {
  char ip[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  ::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(ip) + "]:" + std::to_string(port);
}

// Serves one connection until the client closes, asks to close, errs, or shutdown finds it
// idle. A request that has started arriving is always answered.
void serveConnection(int fd, std::string peer) {
  std::string buf;
  char chunk[16 * 1024];
  bool keep_alive = true;
  while (keep_alive) {
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeadBytes) {
        sendAll(fd,
                "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        keep_alive = false;
        break;
      }
      if (buf.empty()) {
        // Idle between requests: wait in short slices so shutdown can close us.
        pollfd p{fd, POLLIN, 0};
        int ready = ::poll(&p, 1, kIdlePollMillis);
        if (ready == 0) {
          // A request that arrived before the shutdown began is still served: look once more
          // after seeing `stopping`.
          if (stopping && ::poll(&p, 1, 0) == 0) {
            keep_alive = false;
            break;
          }
          continue;
        }
        if (ready < 0 && errno == EINTR) continue;
      }
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        keep_alive = false;
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    if (!keep_alive) break;

    Request req;
    req.peer = peer;
    if (!parseHead(std::string_view(buf).substr(0, head_end), &req)) {
      sendAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      break;
    }
    buf.erase(0, head_end + 4);
    if (req.header("transfer-encoding")) {
      sendAll(fd, "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      break;
    }
    // The body, if any, is read and ignored: no endpoint takes one.
    size_t body_len = 0;
    if (auto cl = req.header("content-length")) body_len = std::strtoull(cl->c_str(), nullptr, 10);
    while (buf.size() < body_len) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
    }
    if (buf.size() < body_len) break;
    buf.erase(0, body_len);

    auto connection = lower(req.header("connection").value_or(""));
    keep_alive = req.version == "HTTP/1.1" ? connection != "close" : connection == "keep-alive";

    int delay = slow_ms.load(std::memory_order_relaxed);
    Response res = handle(req);
    if (options.access_log) {
      // One call per line, so lines of concurrent connections do not interleave.
      std::printf("%s %s %d\n", req.method.c_str(), req.target.c_str(), res.status);
      std::fflush(stdout);
    }
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    if (stopping) keep_alive = false;

    std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reasonPhrase(res.status) +
                      "\r\nContent-Type: " + res.content_type +
                      "\r\nContent-Length: " + std::to_string(res.body.size()) + "\r\n" +
                      (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
    if (req.method != "HEAD") out += res.body;
    if (!sendAll(fd, out)) break;
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(connections_mu);
  if (--open_connections == 0) connections_done.notify_all();
}

bool parseArgs(int argc, char** argv) {
  if (const char* v = std::getenv("APP_VERSION"); v != nullptr && *v != '\0') options.version = v;
  if (const char* v = std::getenv("PORT"); v != nullptr && *v != '\0') {
    if (!parsePort(v, &options.port)) {
      std::fprintf(stderr, "skiff-example: PORT=%s is not a port number (0..65535)\n", v);
      return false;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "skiff-example: %s needs a value\n", arg.c_str());
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (arg == "--help" || arg == "-h") {
      usage();
      std::exit(0);
    } else if (arg == "--access-log") {
      options.access_log = true;
      continue;
    } else if (arg == "--name" || arg == "--version-label" || arg == "--host" ||
               arg == "--upstream-env" || arg == "--upstream-host" || arg == "--port-file" ||
               arg == "--port" || arg == "--pad" || arg == "--error-percent") {
      if ((v = value()) == nullptr) return false;
    } else {
      std::fprintf(stderr, "skiff-example: unknown argument %s\n", arg.c_str());
      usage();
      return false;
    }
    if (arg == "--name") options.name = v;
    if (arg == "--version-label") options.version = v;
    if (arg == "--host") options.host = v;
    if (arg == "--upstream-env") options.upstream_env = v;
    if (arg == "--upstream-host") options.upstream_host = v;
    if (arg == "--port-file") options.port_file = v;
    if (arg == "--port" && !parsePort(v, &options.port)) {
      std::fprintf(stderr, "skiff-example: --port %s is not a port number (0..65535)\n", v);
      return false;
    }
    if (arg == "--error-percent" &&
        (!parsePort(v, &options.error_percent) || options.error_percent > 100)) {
      std::fprintf(stderr, "skiff-example: --error-percent %s must be 0..100\n", v);
      return false;
    }
    if (arg == "--pad") {
      char* end = nullptr;
      unsigned long long pad = std::strtoull(v, &end, 10);
      if (*v == '\0' || *end != '\0' || pad > (64u << 20)) {
        std::fprintf(stderr, "skiff-example: --pad %s must be a byte count up to 64 MiB\n", v);
        return false;
      }
      options.pad = static_cast<size_t>(pad);
    }
  }
  if (const char* v = std::getenv("SKIFF_INSTANCE"); v != nullptr && *v != '\0') {
    options.instance = v;
  } else {
    char host[256] = "";
    ::gethostname(host, sizeof host - 1);
    options.instance = std::string(host) + "-" + std::to_string(::getpid());
  }
  return true;
}

// Binds and listens; returns the bound port, or -1 after printing why.
int listenOn(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* found = nullptr;
  std::string port_text = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    std::fprintf(stderr, "skiff-example: --host %s: %s (give an IP address)\n", host.c_str(),
                 gai_strerror(rc));
    return -1;
  }
  listen_fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd < 0 || ::bind(listen_fd, found->ai_addr, found->ai_addrlen) != 0 ||
      ::listen(listen_fd, 1024) != 0) {
    std::fprintf(stderr, "skiff-example: cannot listen on %s:%d: %s\n", host.c_str(), port,
                 std::strerror(errno));
    ::freeaddrinfo(found);
    return -1;
  }
  ::freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  return bound.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                    : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
}

bool writePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "%d\n", port);
  bool ok = std::fclose(f) == 0;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!parseArgs(argc, argv)) return 64;

  // SIGTERM and SIGINT are taken by a thread with sigwait(); blocking them first means every
  // thread started later inherits the mask and none is interrupted by them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  int port = listenOn(options.host, options.port);
  if (port < 0) return 1;
  if (!options.port_file.empty() && !writePortFile(options.port_file, port)) {
    std::fprintf(stderr, "skiff-example: cannot write --port-file %s: %s\n",
                 options.port_file.c_str(), std::strerror(errno));
    return 1;
  }
  std::printf("skiff-example %s %s (%s) listening on %s:%d\n", options.name.c_str(),
              options.version.c_str(), options.instance.c_str(), options.host.c_str(), port);
  std::fflush(stdout);

  std::thread signal_thread([signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    stopping = true;
    // Wakes the blocked accept(): on Linux a shut-down listening socket fails accept at once.
    ::shutdown(listen_fd, SHUT_RDWR);
  });

  while (!stopping) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: back off rather than spin; connections in flight will free some.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      std::fprintf(stderr, "skiff-example: accept: %s\n", std::strerror(errno));
      std::exit(1);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    {
      std::lock_guard<std::mutex> lock(connections_mu);
      ++open_connections;
    }
    std::thread(serveConnection, fd, peerOf(peer)).detach();
  }
  ::close(listen_fd);
  signal_thread.join();

  std::unique_lock<std::mutex> lock(connections_mu);
  if (!connections_done.wait_for(lock, kDrainLimit, [] { return open_connections == 0; })) {
    std::fprintf(stderr, "skiff-example: %d connections still busy after %llds; exiting\n",
                 open_connections, static_cast<long long>(kDrainLimit.count()));
    return 1;
  }
  std::printf("skiff-example %s stopped\n", options.name.c_str());
  return 0;
}
