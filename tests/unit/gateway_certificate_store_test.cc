// Unit tests of the gateway's TLS certificates: building the store from what the control plane
// sends (and its errors, which never quote a key), choosing a certificate by server name, and a
// real ProxyWorker's HTTPS listener picking it by SNI during the handshake.
#include "gateway/certificate_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/proxy_worker.h"
#include "net/tls.h"

namespace skiff::gateway {
namespace {

using nlohmann::json;

struct Pem {
  std::string certificate, key, fingerprint;
};

class CertificateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-certs-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // A self-signed certificate for `host`, as PEM text.
  Pem generate(const std::string& host) {
    net::SelfSignedRequest request;
    request.cert_file = dir_ + "/" + std::to_string(++n_) + ".crt";
    request.key_file = dir_ + "/" + std::to_string(n_) + ".key";
    request.hosts = {host};
    auto fingerprint = net::generateSelfSigned(request);
    EXPECT_TRUE(fingerprint.ok()) << fingerprint.status().toString();
    return {read(request.cert_file), read(request.key_file), fingerprint.ok() ? *fingerprint : ""};
  }

  static json entry(const std::string& host, const Pem& pem) {
    return {{"host", host}, {"certificate", pem.certificate}, {"key", pem.key}};
  }

  std::string dir_;
  int n_ = 0;
};

TEST_F(CertificateStoreTest, FindsExactHostThenWildcard) {
  Pem shop = generate("shop.test"), any = generate("*.example.test"),
      www = generate("www.example.test");
  auto store = parseCertificates(json::array(
      {entry("Shop.Test", shop), entry("*.example.test", any), entry("www.example.test", www)}));
  ASSERT_TRUE(store.ok()) << store.status().toString();
  const CertificateStore& certs = **store;

  ASSERT_NE(certs.find("shop.test"), nullptr);
  EXPECT_EQ(certs.find("shop.test")->fingerprint, shop.fingerprint);
  EXPECT_EQ(certs.find("SHOP.test.")->fingerprint, shop.fingerprint) << "case and a final dot";
  EXPECT_EQ(certs.find("www.example.test")->fingerprint, www.fingerprint) << "exact beats wildcard";
  ASSERT_NE(certs.find("api.example.test"), nullptr);
  EXPECT_EQ(certs.find("api.example.test")->fingerprint, any.fingerprint);
  EXPECT_EQ(certs.find("example.test"), nullptr) << "a wildcard covers one label, not none";
  EXPECT_EQ(certs.find("a.api.example.test"), nullptr) << "nor two";
  EXPECT_EQ(certs.find("other.test"), nullptr);
  EXPECT_EQ(certs.find(""), nullptr);
  EXPECT_EQ(CertificateStore().find("shop.test"), nullptr);

  json listed = json::parse(certs.json());
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0], json({{"host", "shop.test"}, {"fingerprint", shop.fingerprint}}));
  EXPECT_EQ(certs.json().find("PRIVATE KEY"), std::string::npos);
}

TEST_F(CertificateStoreTest, ErrorsNameTheEntryAndNeverQuoteTheKey) {
  Pem a = generate("a.test"), b = generate("b.test");
  json bad = json::array({entry("a.test", a),
                          {{"host", "b.test"}, {"certificate", b.certificate}, {"key", a.key}},
                          entry("a.test", a),
                          {{"host", "c.test"}, {"certificate", "not pem"}, {"key", b.key}},
                          {{"host", "d.test"}, {"certificate", a.certificate}},
                          entry("bad host!", a)});
  auto store = parseCertificates(bad);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalid);
  std::map<std::string, std::string> fields;
  for (const FieldError& f : store.status().fields()) fields[f.path] = f.message;
  EXPECT_EQ(fields.size(), 5u) << store.status().toString();
  EXPECT_NE(fields["certificates[1].key"].find("does not belong to the certificate"),
            std::string::npos);
  EXPECT_NE(fields["certificates[2].host"].find("certificates[0]"), std::string::npos);
  EXPECT_NE(fields["certificates[3].certificate"].find("not a usable PEM certificate"),
            std::string::npos);
  EXPECT_NE(fields["certificates[4].key"].find("required"), std::string::npos);
  EXPECT_TRUE(fields.contains("certificates[5].host"));
  const std::string all = store.status().toString();
  EXPECT_EQ(all.find("PRIVATE KEY"), std::string::npos) << all;
  EXPECT_EQ(all.find(a.key.substr(40, 40)), std::string::npos) << "key material in: " << all;

  EXPECT_FALSE(parseCertificates(json::object()).ok());
}

// One TLS client connection; what the handshake and the request gave.
struct Probe {
  bool handshake = false;
  std::string fingerprint;
  std::string response;
};

Probe probe(uint16_t port, const char* server_name, const std::string& request) {
  Probe result;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return result;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (server_name != nullptr) SSL_set_tlsext_host_name(ssl, server_name);
  if (SSL_connect(ssl) == 1) {
    result.handshake = true;
    X509* peer = SSL_get1_peer_certificate(ssl);
    unsigned char* der = nullptr;
    int n = i2d_X509(peer, &der);
    result.fingerprint = net::fingerprintOfDer({reinterpret_cast<char*>(der), size_t(n)});
    OPENSSL_free(der);
    X509_free(peer);
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buf[4096];
    int got;
    while ((got = SSL_read(ssl, buf, sizeof buf)) > 0) result.response.append(buf, size_t(got));
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return result;
}

TEST_F(CertificateStoreTest, HttpsListenerPicksTheCertificateBySni) {
  Pem a = generate("a.test"), b = generate("b.test");
  ProxyWorker worker(0, ProxyLimits{});
  boost::asio::ip::tcp::endpoint loopback(boost::asio::ip::address_v4::loopback(), 0);
  ASSERT_TRUE(worker.listen(loopback).isOk());
  ASSERT_TRUE(worker.listenTls(loopback).isOk());
  ASSERT_NE(worker.tlsPort(), 0);
  ASSERT_NE(worker.tlsPort(), worker.port());
  worker.start(std::make_shared<RouteTable>());
  auto store = parseCertificates(json::array({entry("a.test", a), entry("b.test", b)}));
  ASSERT_TRUE(store.ok()) << store.status().toString();

  const std::string get_a = "GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
  EXPECT_FALSE(probe(worker.tlsPort(), "a.test", get_a).handshake)
      << "no certificates yet: every handshake fails";
  worker.setCertificates(*store);
  Probe first;
  for (int i = 0; i < 100 && !first.handshake; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    first = probe(worker.tlsPort(), "a.test", get_a);
  }
  ASSERT_TRUE(first.handshake);
  EXPECT_EQ(first.fingerprint, a.fingerprint);
  // After the handshake the request takes the ordinary path: no route in an empty table.
  EXPECT_EQ(first.response.rfind("HTTP/1.1 404", 0), 0u) << first.response;
  EXPECT_NE(first.response.find("NoRoute"), std::string::npos);

  Probe second = probe(worker.tlsPort(), "B.test",
                       "GET / HTTP/1.1\r\nHost: b.test:443\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(second.handshake);
  EXPECT_EQ(second.fingerprint, b.fingerprint);
  EXPECT_EQ(second.response.rfind("HTTP/1.1 404", 0), 0u) << second.response;

  auto handshakeFailures = [&] {
    std::promise<MetricsSnapshot> metrics;
    worker.collectMetrics([&](MetricsSnapshot snap) { metrics.set_value(std::move(snap)); });
    return metrics.get_future().get().tls_handshake_failures;
  };
  const uint64_t failures_before = handshakeFailures();
  EXPECT_GE(failures_before, 1u);
  EXPECT_FALSE(probe(worker.tlsPort(), "c.test", get_a).handshake) << "an unknown name";
  EXPECT_FALSE(probe(worker.tlsPort(), nullptr, get_a).handshake) << "no name at all";

  // A connection for a.test carries only requests for a.test.
  Probe misdirected = probe(worker.tlsPort(), "a.test",
                            "GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(misdirected.handshake);
  EXPECT_EQ(misdirected.response.rfind("HTTP/1.1 421", 0), 0u) << misdirected.response;
  Probe absolute =
      probe(worker.tlsPort(), "a.test",
            "GET http://b.test/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(absolute.response.rfind("HTTP/1.1 421", 0), 0u) << absolute.response;

  EXPECT_EQ(handshakeFailures(), failures_before + 2) << "failed handshakes are counted";
  worker.stop();
}

}  // namespace
}  // namespace skiff::gateway
