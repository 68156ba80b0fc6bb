// End-to-end: HTTPS on the gateway the server runs. A route names a tls Secret; the gateway
// serves that certificate for the route's host (chosen by SNI), refuses unknown names, follows
// the Secret when it changes or goes away, gets the key back after a kill -9, and never writes
// the key to disk. Traffic reaches a real skiff-example instance; the client is curl (verifying
// the certificate) and an OpenSSL client in the test (reading the certificate served).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "net/tls.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kBase = "/api/v1/tenants/default";

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Certificate {
  std::string cert_file, certificate, key, fingerprint;
};

// The fingerprint of the certificate the gateway serves for `server_name` ("" when the
// handshake fails).
std::string servedFingerprint(uint16_t port, const std::string& server_name) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string fingerprint;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, server_name.c_str());
    if (SSL_connect(ssl) == 1) {
      X509* peer = SSL_get1_peer_certificate(ssl);
      unsigned char* der = nullptr;
      int n = i2d_X509(peer, &der);
      fingerprint = net::fingerprintOfDer({reinterpret_cast<char*>(der), static_cast<size_t>(n)});
      OPENSSL_free(der);
      X509_free(peer);
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  ::close(fd);
  return fingerprint;
}

struct CurlResult {
  int exit_code = -1;
  std::string body;
};

// `curl https://shop.test:PORT/PATH`, resolving shop.test to 127.0.0.1 and trusting only
// `ca_file`.
CurlResult curl(uint16_t port, const std::string& ca_file, const std::string& path) {
  TempDir out;
  const std::string body_file = out.path() + "/body";
  pid_t pid = fork();
  if (pid == 0) {
    const std::string resolve = "shop.test:" + std::to_string(port) + ":127.0.0.1";
    const std::string url = "https://shop.test:" + std::to_string(port) + path;
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    execlp("curl", "curl", "-sS", "--fail", "--max-time", "5", "--resolve", resolve.c_str(),
           "--cacert", ca_file.c_str(), "-o", body_file.c_str(), url.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, readAll(body_file)};
}

class GatewayTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    ASSERT_TRUE(eventually([&] { return tlsPort() != 0; }))
        << "the gateway wrote no \"tls\" address to gateway.addr";
  }

  // The gateway's HTTPS port from its state file (0 while it is starting).
  uint16_t tlsPort() const {
    json addr = json::parse(readAll(dir_.path() + "/gateway/gateway.addr"), nullptr, false);
    if (!addr.is_object() || !addr.contains("tls")) return 0;
    const std::string tls = addr["tls"];
    return static_cast<uint16_t>(std::stoi(tls.substr(tls.rfind(':') + 1)));
  }

  Certificate generate(const std::string& name) {
    net::SelfSignedRequest request;
    request.cert_file = certs_.path() + "/" + name + ".crt";
    request.key_file = certs_.path() + "/" + name + ".key";
    request.hosts = {"shop.test"};
    auto fingerprint = net::generateSelfSigned(request);
    EXPECT_TRUE(fingerprint.ok()) << fingerprint.status().toString();
    return {request.cert_file, readAll(request.cert_file), readAll(request.key_file),
            fingerprint.ok() ? *fingerprint : ""};
  }

  static json secret(const Certificate& c) {
    return {
        {"metadata", {{"name", "shop-tls"}}},
        {"spec", {{"type", "tls"}, {"data", {{"tls.crt", c.certificate}, {"tls.key", c.key}}}}}};
  }

  json tlsCondition() {
    json app = json::parse(httpRequest(server_.url(), "GET", kBase + "/applications/shop").body,
                           nullptr, false);
    if (!app.is_object()) return {};
    for (const json& c : app["status"].value("conditions", json::array()))
      if (c.value("type", "") == "TLSReady") return c;
    return {};
  }

  TempDir dir_;
  TempDir certs_;                      // outside the data dir: the test's copies of the keys
  ServerProcess server_{dir_.path()};  // the harness puts HTTPS on an ephemeral port
};

TEST_F(GatewayTlsTest, RouteServesItsSecretsCertificateBySni) {
  const Certificate first = generate("first");
  ASSERT_EQ(httpRequest(server_.url(), "POST", kBase + "/secrets", secret(first).dump()).status,
            201);
  json app = {
      {"metadata", {{"name", "shop"}}},
      {"spec",
       {{"components",
         {{{"name", "web"},
           {"run", {{"command", "skiff-example"}, {"args", {"--name", "web"}}}},
           {"replicas", 1},
           {"ports", {{{"name", "http"}, {"port", 8080}}}},
           {"health",
            {{"readiness",
              {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}}}}},
           {"routes",
            {{{"host", "shop.test"}, {"port", "http"}, {"tls", {{"secret", "shop-tls"}}}}}}}}}}}};
  HttpResult created = httpRequest(server_.url(), "POST", kBase + "/applications", app.dump());
  ASSERT_EQ(created.status, 201) << created.body;

  // The response comes from the instance, over HTTPS verified against the secret's certificate.
  CurlResult r;
  ASSERT_TRUE(eventually(
      [&] {
        r = curl(tlsPort(), first.cert_file, "/");
        return r.exit_code == 0;
      },
      std::chrono::seconds(30)))
      << "curl exit " << r.exit_code
      << "; gateway log: " << readAll(dir_.path() + "/gateway/gateway.log");
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("service", ""), "web") << r.body;
  CurlResult echo = curl(tlsPort(), first.cert_file, "/echo");
  ASSERT_EQ(echo.exit_code, 0);
  EXPECT_EQ(json::parse(echo.body)["headers"].value("x-forwarded-proto", ""), "https") << echo.body;
  EXPECT_EQ(servedFingerprint(tlsPort(), "shop.test"), first.fingerprint);
  EXPECT_EQ(servedFingerprint(tlsPort(), "other.test"), "") << "an unknown name fails";
  ASSERT_TRUE(eventually([&] { return tlsCondition().value("status", "") == "True"; }))
      << tlsCondition().dump();
  EXPECT_NE(tlsCondition().value("message", "").find(first.fingerprint), std::string::npos);

  // Plain HTTP still routes the host.
  HttpResult plain = httpRequest(server_.gatewayUrl(), "GET", "/echo", "", "application/json",
                                 {{"Host", "shop.test"}});
  EXPECT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(json::parse(plain.body)["headers"].value("x-forwarded-proto", ""), "http");

  // A new certificate in the secret: new connections get it.
  const Certificate second = generate("second");
  json current = json::parse(httpRequest(server_.url(), "GET", kBase + "/secrets/shop-tls").body);
  json replaced = secret(second);
  replaced["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"];
  HttpResult updated =
      httpRequest(server_.url(), "PUT", kBase + "/secrets/shop-tls", replaced.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  ASSERT_TRUE(eventually([&] {
    return servedFingerprint(tlsPort(), "shop.test") == second.fingerprint;
  })) << "the gateway still serves "
      << servedFingerprint(tlsPort(), "shop.test");
  EXPECT_EQ(curl(tlsPort(), second.cert_file, "/").exit_code, 0);
  EXPECT_NE(curl(tlsPort(), first.cert_file, "/").exit_code, 0) << "the old one is gone";

  // kill -9 of the gateway: the restarted one holds no keys on disk, the server sends them.
  const pid_t gateway = server_.gatewayPid();
  ASSERT_GT(gateway, 0);
  ASSERT_EQ(::kill(gateway, SIGKILL), 0);
  ASSERT_TRUE(eventually(
      [&] {
        return server_.gatewayPid() != gateway && tlsPort() != 0 &&
               servedFingerprint(tlsPort(), "shop.test") == second.fingerprint;
      },
      std::chrono::seconds(10)))
      << "the restarted gateway serves no certificate for shop.test";

  // The key never reaches the data dir in plaintext (database, routes.json, logs included).
  for (const Certificate* c : {&first, &second}) {
    const size_t begin = c->key.find('\n') + 1;
    const std::string body_line = c->key.substr(begin, c->key.find('\n', begin) - begin);
    ASSERT_GT(body_line.size(), 40u);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             dir_.path(), std::filesystem::directory_options::skip_permission_denied)) {
      if (!entry.is_regular_file()) continue;
      EXPECT_EQ(readAll(entry.path().string()).find(body_line), std::string::npos)
          << entry.path() << " holds the private key";
    }
  }

  // The secret deleted: HTTPS for the host is refused and the application says why.
  ASSERT_EQ(httpRequest(server_.url(), "DELETE", kBase + "/secrets/shop-tls").status, 200);
  ASSERT_TRUE(eventually([&] { return servedFingerprint(tlsPort(), "shop.test").empty(); }));
  ASSERT_TRUE(eventually([&] { return tlsCondition().value("status", "") == "False"; }))
      << tlsCondition().dump();
  EXPECT_NE(tlsCondition().value("message", "").find("secret \"shop-tls\" does not exist"),
            std::string::npos)
      << tlsCondition().dump();
  EXPECT_EQ(
      httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json", {{"Host", "shop.test"}})
          .status,
      200)
      << "plain HTTP is unaffected";
}

}  // namespace
}  // namespace skiff::test
