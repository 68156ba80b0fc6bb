// Unit tests of the HTTP server over TLS: answers and chunked streams reach a verifying client,
// plain HTTP still works, a client that gives up on the handshake does not hold up stop(), and
// stop() ends open streams.
#include <utility>  // before Boost.Asio on Boost 1.74

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "net/http_client.h"
#include "net/tls.h"

namespace skiff {
namespace {

class HttpServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-https-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    net::SelfSignedRequest request;
    request.cert_file = dir_ + "/server.crt";
    request.key_file = dir_ + "/server.key";
    auto fingerprint = net::generateSelfSigned(request);
    ASSERT_TRUE(fingerprint.ok()) << fingerprint.status().toString();
    fingerprint_ = *fingerprint;
    auto context = net::makeServerTlsContext(request.cert_file, request.key_file);
    ASSERT_TRUE(context.ok()) << context.status().toString();
    tls_ = *context;
    trust_.ca_file = request.cert_file;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<HttpServer> start(HttpHandler handler, bool tls = true) {
    HttpServer::Options options;
    options.tls = tls ? tls_ : nullptr;
    auto server = std::make_unique<HttpServer>(options, std::move(handler));
    Status started = server->start();
    EXPECT_TRUE(started.isOk()) << started.toString();
    return server;
  }

  static net::ClientRequest get(const std::string& url) {
    net::ClientRequest request;
    request.url = url;
    request.timeout = std::chrono::seconds(5);
    return request;
  }

  std::string dir_;
  std::string fingerprint_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  net::TlsClientOptions trust_;
};

std::string url(const char* scheme, const HttpServer& server, const std::string& path) {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(server.port()) + path;
}

HttpResponse echo(HttpRequest& r) {
  HttpResponse response;
  response.content_type = "text/plain";
  response.body = r.method + " " + r.path + " " + r.body;
  return response;
}

TEST_F(HttpServerTlsTest, AnswersOverTlsAndKeepsThePlainPath) {
  auto secure = start(echo);
  net::ClientRequest request = get(url("https", *secure, "/hello"));
  request.method = "POST";
  request.body = "over tls";
  auto response = net::fetch(request, trust_);
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /hello over tls");

  net::TlsClientOptions pinned;
  pinned.pinned_sha256 = fingerprint_;
  EXPECT_TRUE(net::fetch(get(url("https", *secure, "/pinned")), pinned).ok());

  // Plain HTTP to the TLS port is refused by the handshake, not served.
  auto plain_to_tls = net::fetch(get(url("http", *secure, "/")));
  EXPECT_FALSE(plain_to_tls.ok());

  auto plain = start(echo, false);
  auto answer = net::fetch(get(url("http", *plain, "/plain")));
  ASSERT_TRUE(answer.ok()) << answer.status().toString();
  EXPECT_EQ(answer->body, "GET /plain ");
}

TEST_F(HttpServerTlsTest, StreamsChunksAndStopEndsTheStream) {
  auto events = std::make_shared<EventStream>();
  auto server = start([events](HttpRequest&) {
    HttpResponse response;
    response.content_type = "application/json";
    response.stream = events;
    return response;
  });
  events->push("{\"n\":1}\n");
  std::mutex mu;
  std::string seen;
  std::atomic<bool> finished{false};
  Result<net::ClientResponse> result = Status(StatusCode::kInternal, "not run");
  std::thread client([&] {
    result = net::fetchStreaming(
        get(url("https", *server, "/watch")),
        [&](std::string_view data) {
          std::lock_guard lock(mu);
          seen.append(data);
          return true;
        },
        trust_);
    finished = true;
  });
  auto seenNow = [&] {
    std::lock_guard lock(mu);
    return seen;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (seenNow() != "{\"n\":1}\n" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(seenNow(), "{\"n\":1}\n");
  events->push("{\"n\":2}\n");
  while (seenNow().size() < 16 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(seenNow(), "{\"n\":1}\n{\"n\":2}\n");
  EXPECT_FALSE(finished);

  server->stop();  // ends the stream with its last chunk
  client.join();
  ASSERT_TRUE(result.ok()) << result.status().toString();
  EXPECT_EQ(result->status, 200);
}

TEST_F(HttpServerTlsTest, StalledHandshakeDoesNotHoldUpStop) {
  auto server = start(echo);
  // A client that connects and never says hello.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto begin = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
  ::close(fd);
}

}  // namespace
}  // namespace skiff
