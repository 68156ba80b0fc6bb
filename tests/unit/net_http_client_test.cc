// Unit tests of the HTTP(S) client against a small server in the test: plain and TLS exchanges,
// trust by CA file, by pinned fingerprint and by nothing (refused), host name checks, the
// deadline, streaming, and the errors a user reads.
#include "net/http_client.h"

#include <utility>  // before Boost.Asio on Boost 1.74

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "net/tls.h"

namespace skiff::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// What the test server received.
struct Received {
  std::string method;
  std::string target;
  std::string host;
  std::string body;
  std::string custom_header;
};

// A one-connection-at-a-time HTTP server on a thread, plain or TLS, answering up to
// `per_connection` requests on a connection before closing it. Each answer is a list of raw
// pieces written in turn; `before_piece` may hold a piece back (it runs on the server's
// thread).
class TestServer {
 public:
  using Handler = std::function<std::vector<std::string>(const Received&)>;

  TestServer(std::shared_ptr<asio::ssl::context> tls, Handler handler,
             const std::string& host = "127.0.0.1")
      : tls_(std::move(tls)), handler_(std::move(handler)), acceptor_(io_) {
    tcp::endpoint endpoint(asio::ip::make_address(host), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~TestServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // ends the blocked accept()
    thread_.join();
  }

  uint16_t port() const { return port_; }
  int requests() const { return requests_; }
  int connections() const { return connections_; }
  int handshakes_failed() const { return handshakes_failed_; }
  Received last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  std::function<void(size_t index)> before_piece;
  std::atomic<int> per_connection{1};

 private:
  void serve() {
    while (!stopping_) {
      beast::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec) {
        if (stopping_) return;
        continue;
      }
      ++connections_;
      if (tls_) {
        asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
        stream.handshake(asio::ssl::stream_base::server, ec);
        if (ec) {
          ++handshakes_failed_;
          continue;
        }
        for (int i = 0; i < per_connection && exchange(stream); ++i) {
        }
      } else {
        for (int i = 0; i < per_connection && exchange(socket); ++i) {
        }
      }
    }
  }

  // False when the connection ended.
  template <class Stream>
  bool exchange(Stream& stream) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(stream, buffer, req, ec);
    if (ec) return false;
    Received r{std::string(req.method_string()), std::string(req.target()),
               std::string(req[http::field::host]), req.body(), std::string(req["X-Test"])};
    {
      std::lock_guard lock(mu_);
      last_ = r;
    }
    ++requests_;
    std::vector<std::string> pieces = handler_(r);
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (before_piece) before_piece(i);
      asio::write(stream, asio::buffer(pieces[i]), ec);
      if (ec) return false;
    }
    return true;
  }

  std::shared_ptr<asio::ssl::context> tls_;
  Handler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> handshakes_failed_{0};
  std::mutex mu_;
  Received last_;
  std::thread thread_;
};

std::vector<std::string> answer(int status, const std::string& body) {
  return {"HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: text/plain\r\nX-Reply: yes" +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
          body};
}

// An answer that leaves the connection open (HTTP/1.1's default).
std::vector<std::string> keptAnswer(const std::string& body) {
  return {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body};
}

std::vector<std::string> echo(const Received& r) {
  return answer(200, r.method + " " + r.target + " " + r.body);
}

class NetHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-net-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fingerprint_ = makePair("server");
    auto context = makeServerTlsContext(dir_ + "/server.crt", dir_ + "/server.key");
    ASSERT_TRUE(context.ok()) << context.status().toString();
    tls_ = *context;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string makePair(const std::string& name) {
    SelfSignedRequest request;
    request.cert_file = dir_ + "/" + name + ".crt";
    request.key_file = dir_ + "/" + name + ".key";
    auto fingerprint = generateSelfSigned(request);
    EXPECT_TRUE(fingerprint.ok()) << fingerprint.status().toString();
    return fingerprint.ok() ? *fingerprint : std::string();
  }

  static ClientRequest get(const std::string& url) {
    ClientRequest request;
    request.url = url;
    request.timeout = std::chrono::seconds(5);
    return request;
  }

  TlsClientOptions trustingCa() const {
    TlsClientOptions tls;
    tls.ca_file = dir_ + "/server.crt";
    return tls;
  }

  std::string dir_;
  std::string fingerprint_;
  std::shared_ptr<asio::ssl::context> tls_;
};

std::string https(const TestServer& s, const std::string& host = "127.0.0.1") {
  return "https://" + host + ":" + std::to_string(s.port());
}

TEST_F(NetHttpClientTest, PlainHttpExchange) {
  TestServer server(nullptr, echo);
  ClientRequest request = get("http://127.0.0.1:" + std::to_string(server.port()) + "/a/b?c=d");
  request.method = "POST";
  request.body = "payload";
  request.headers = {{"X-Test", "42"}};
  auto response = fetch(request);
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /a/b?c=d payload");
  EXPECT_EQ(response->header("x-reply"), "yes");
  EXPECT_EQ(response->header("nope"), "");
  EXPECT_EQ(server.last().custom_header, "42");
  EXPECT_EQ(server.last().host, "127.0.0.1:" + std::to_string(server.port()));
}

TEST_F(NetHttpClientTest, ErrorAnswersAreResponsesNotFailures) {
  TestServer server(nullptr, [](const Received&) { return answer(404, "no such thing"); });
  auto response = fetch(get("http://127.0.0.1:" + std::to_string(server.port()) + "/x"));
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, "no such thing");
}

TEST_F(NetHttpClientTest, HttpsTrustingTheCaFileByAddressAndByName) {
  TestServer server(tls_, echo);
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto response = fetch(get(https(server, host) + "/hello"), trustingCa());
    ASSERT_TRUE(response.ok()) << host << ": " << response.status().toString();
    EXPECT_EQ(response->body, "GET /hello ");
  }
}

TEST_F(NetHttpClientTest, HttpsOverIpv6Loopback) {
  TestServer server(tls_, echo, "::1");
  auto response =
      fetch(get("https://[::1]:" + std::to_string(server.port()) + "/v6"), trustingCa());
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(response->body, "GET /v6 ");
  EXPECT_EQ(server.last().host, "[::1]:" + std::to_string(server.port()));
}

TEST_F(NetHttpClientTest, SelfSignedCertificateIsNotTrustedByDefault) {
  TestServer server(tls_, echo);
  TlsClientOptions tls;
  tls.trust_advice = "pass --ca or --fingerprint";
  auto response = fetch(get(https(server) + "/hello"), tls);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(),
            "certificate of 127.0.0.1:" + std::to_string(server.port()) +
                " is not trusted: self-signed certificate; pass --ca or --fingerprint");
  EXPECT_EQ(server.requests(), 0);
}

// A CA and a server certificate it signed (for 127.0.0.1), as PEM files ca.crt, leaf.crt and
// leaf.key in `dir`: what an operator's own PKI hands over.
void makeCaSignedPair(const std::string& dir) {
  auto certificate = [](EVP_PKEY* key, const char* cn, long serial) {
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_pubkey(cert, key);
    return cert;
  };
  auto extend = [](X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  };
  auto write = [](const std::string& path, auto&& writer) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    writer(f);
    std::fclose(f);
  };
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  EVP_PKEY* leaf_key = EVP_EC_gen("P-256");
  X509* ca = certificate(ca_key, "test ca", 1);
  X509_set_issuer_name(ca, X509_get_subject_name(ca));
  extend(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
  extend(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
  X509_sign(ca, ca_key, EVP_sha256());
  X509* leaf = certificate(leaf_key, "test server", 2);
  X509_set_issuer_name(leaf, X509_get_subject_name(ca));
  extend(leaf, ca, NID_basic_constraints, "critical,CA:FALSE");
  extend(leaf, ca, NID_subject_alt_name, "IP:127.0.0.1");
  X509_sign(leaf, ca_key, EVP_sha256());
  write(dir + "/ca.crt", [&](FILE* f) { PEM_write_X509(f, ca); });
  write(dir + "/leaf.crt", [&](FILE* f) { PEM_write_X509(f, leaf); });
  write(dir + "/leaf.key",
        [&](FILE* f) { PEM_write_PrivateKey(f, leaf_key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(ca);
  X509_free(leaf);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(leaf_key);
}

TEST_F(NetHttpClientTest, CaSignedCertificateIsTrustedByItsCaOrByItself) {
  ASSERT_NO_FATAL_FAILURE(makeCaSignedPair(dir_));
  auto context = makeServerTlsContext(dir_ + "/leaf.crt", dir_ + "/leaf.key");
  ASSERT_TRUE(context.ok()) << context.status().toString();
  TestServer server(*context, echo);
  for (const char* anchor : {"ca.crt", "leaf.crt"}) {
    TlsClientOptions tls;
    tls.ca_file = dir_ + "/" + anchor;
    auto response = fetch(get(https(server) + "/"), tls);
    EXPECT_TRUE(response.ok()) << anchor << ": " << response.status().toString();
  }
  auto untrusted = fetch(get(https(server) + "/"));
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.status().message().find("is not trusted: unable to get local issuer"),
            std::string::npos)
      << untrusted.status().message();
}

TEST_F(NetHttpClientTest, AnotherCaFileIsNotTrusted) {
  makePair("other");
  TestServer server(tls_, echo);
  TlsClientOptions tls;
  tls.ca_file = dir_ + "/other.crt";
  auto response = fetch(get(https(server) + "/hello"), tls);
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("is not trusted"), std::string::npos)
      << response.status().message();
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(NetHttpClientTest, CertificateForOtherNamesIsRefused) {
  // 127.0.0.2 is loopback on Linux, but not among the certificate's names.
  TestServer server(tls_, echo, "127.0.0.2");
  auto response = fetch(get(https(server, "127.0.0.2") + "/hello"), trustingCa());
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("is not valid for 127.0.0.2 (it names "),
            std::string::npos)
      << response.status().message();
  EXPECT_NE(response.status().message().find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(NetHttpClientTest, PinnedFingerprintIsTrustedWhateverTheName) {
  TestServer server(tls_, echo, "127.0.0.2");
  TlsClientOptions tls;
  tls.pinned_sha256 = fingerprint_;
  auto response = fetch(get(https(server, "127.0.0.2") + "/pinned"), tls);
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(response->body, "GET /pinned ");
}

TEST_F(NetHttpClientTest, WrongPinSendsNothing) {
  const std::string other = makePair("other");
  TestServer server(tls_, echo);
  TlsClientOptions tls;
  tls.pinned_sha256 = other;
  tls.ca_file = dir_ + "/server.crt";  // the pin decides, not the CA
  ClientRequest request = get(https(server) + "/secret");
  request.headers = {{"Authorization", "Bearer secret"}};
  auto response = fetch(request, tls);
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("has fingerprint " + fingerprint_ +
                                             ", not the pinned " + other),
            std::string::npos)
      << response.status().message();
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(NetHttpClientTest, MalformedPinIsABadRequest) {
  TestServer server(tls_, echo);
  TlsClientOptions tls;
  tls.pinned_sha256 = "sha256:1234";
  auto response = fetch(get(https(server) + "/"), tls);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kBadRequest);
}

TEST_F(NetHttpClientTest, MissingCaFileIsNamed) {
  TestServer server(tls_, echo);
  TlsClientOptions tls;
  tls.ca_file = dir_ + "/missing.crt";
  auto response = fetch(get(https(server) + "/"), tls);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(response.status().message().find("cannot read the CA file " + dir_ + "/missing.crt"),
            std::string::npos)
      << response.status().message();
}

TEST_F(NetHttpClientTest, HttpsToAPlainServerSaysSo) {
  TestServer server(nullptr, echo);
  auto response = fetch(get(https(server) + "/"), trustingCa());
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << response.status().message();
  EXPECT_NE(response.status().message().find("http://"), std::string::npos)
      << response.status().message();
}

TEST_F(NetHttpClientTest, PlainHttpToATlsServerSaysSo) {
  TestServer server(tls_, echo);
  auto response = fetch(get("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("https://"), std::string::npos)
      << response.status().message();
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(NetHttpClientTest, RefusedConnectionNamesTheServer) {
  uint16_t port;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  auto response = fetch(get("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(response.status().message().find("cannot connect to 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << response.status().message();
}

TEST_F(NetHttpClientTest, SilentServerHitsTheDeadline) {
  // Listening, never accepting: the connection completes, no answer ever comes.
  asio::io_context io;
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ClientRequest request =
      get("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/");
  request.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto response = fetch(request, trustingCa());
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("no answer within 300ms"), std::string::npos)
      << response.status().message();
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(NetHttpClientTest, LargeAnswerOverTheLimitIsRefused) {
  TestServer server(tls_, [](const Received&) { return answer(200, std::string(5000, 'x')); });
  ClientRequest request = get(https(server) + "/big");
  request.max_response_bytes = 4096;
  auto response = fetch(request, trustingCa());
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.status().message().find("is larger than 4096 bytes"), std::string::npos)
      << response.status().message();
}

TEST_F(NetHttpClientTest, StreamingHandsOverChunksAsTheyArrive) {
  std::mutex mu;
  std::condition_variable cv;
  std::string seen;
  TestServer server(tls_, [](const Received&) {
    return std::vector<std::string>{
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n",
        "6\r\nfirst\n\r\n", "7\r\nsecond\n\r\n0\r\n\r\n"};
  });
  // The last chunk is held back until the client has seen the first one: a client that
  // waited for the whole body would time out here.
  server.before_piece = [&](size_t index) {
    if (index != 2) return;
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return !seen.empty(); });
  };
  ClientRequest request = get(https(server) + "/watch");
  request.timeout = std::chrono::seconds(2);
  auto response = fetchStreaming(
      request,
      [&](std::string_view data) {
        std::lock_guard lock(mu);
        seen.append(data);
        cv.notify_all();
        return true;
      },
      trustingCa());
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(seen, "first\nsecond\n");
}

TEST_F(NetHttpClientTest, StreamingStopsWhenTheCallbackSaysSo) {
  TestServer server(nullptr, [](const Received&) {
    return std::vector<std::string>{
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n"};
  });
  int calls = 0;
  auto response = fetchStreaming(get("http://127.0.0.1:" + std::to_string(server.port()) + "/w"),
                                 [&](std::string_view) { return ++calls < 1; });
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(calls, 1);
}

TEST_F(NetHttpClientTest, StreamingErrorAnswerIsCollected) {
  TestServer server(tls_,
                    [](const Received&) { return answer(403, "{\"reason\":\"Forbidden\"}"); });
  bool called = false;
  auto response = fetchStreaming(
      get(https(server) + "/w"),
      [&](std::string_view) {
        called = true;
        return true;
      },
      trustingCa());
  ASSERT_TRUE(response.ok()) << response.status().toString();
  EXPECT_EQ(response->status, 403);
  EXPECT_EQ(response->body, "{\"reason\":\"Forbidden\"}");
  EXPECT_FALSE(called);
}

TEST_F(NetHttpClientTest, PoolKeepsAConnectionAliveBetweenRequests) {
  TestServer server(tls_, [](const Received& r) { return keptAnswer(r.target); });
  server.per_connection = 100;
  ConnectionPool pool(trustingCa());  // destroyed first: it holds the server's connection
  for (const std::string path : {"/a", "/b", "/c"}) {
    auto response = pool.fetch(get(https(server) + path));
    ASSERT_TRUE(response.ok()) << response.status().toString();
    EXPECT_EQ(response->body, path);
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 1) << "one TLS handshake for three requests";
}

TEST_F(NetHttpClientTest, PoolSendsAgainWhenAKeptConnectionWasClosed) {
  // The server closes each connection after one answer without saying so: the next request
  // finds the kept connection dead before any answer, and goes out on a new one.
  TestServer server(nullptr, [](const Received& r) { return keptAnswer(r.target); });
  ConnectionPool pool({});
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  for (const std::string path : {"/a", "/b", "/c"}) {
    auto response = pool.fetch(get(base + path));
    ASSERT_TRUE(response.ok()) << path << ": " << response.status().toString();
    EXPECT_EQ(response->body, path);
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 3);
}

TEST_F(NetHttpClientTest, PoolDropsConnectionsTheServerCloses) {
  TestServer server(nullptr, echo);  // "Connection: close"
  server.per_connection = 100;
  ConnectionPool pool({});
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  for (int i = 0; i < 2; ++i) {
    auto response = pool.fetch(get(base + "/x"));
    ASSERT_TRUE(response.ok()) << response.status().toString();
  }
  EXPECT_EQ(server.connections(), 2);
}

TEST(NetUrlTest, ParsesSchemesHostsPortsAndTargets) {
  auto a = parseUrl("https://skiff.example.test/api/v1?x=1#frag");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->scheme, "https");
  EXPECT_EQ(a->host, "skiff.example.test");
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->target, "/api/v1?x=1");
  EXPECT_EQ(a->authority(), "skiff.example.test:443");

  auto b = parseUrl("http://127.0.0.1:7480");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 7480);
  EXPECT_EQ(b->target, "/");

  auto c = parseUrl("HTTPS://[::1]:8443?q");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->scheme, "https");
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 8443);
  EXPECT_EQ(c->target, "/?q");
  EXPECT_EQ(c->authority(), "[::1]:8443");
}

TEST(NetUrlTest, RefusesWhatItCannotUse) {
  for (const char* bad : {"127.0.0.1:7480", "ftp://host/", "https://", "https://:80/",
                          "https://host:/", "https://host:99999/", "https://host:0/",
                          "https://host:8x/", "https://user:pw@host/", "https://[::1/"}) {
    auto url = parseUrl(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(url.status().message().find(bad), std::string::npos);
  }
}

}  // namespace
}  // namespace skiff::net
