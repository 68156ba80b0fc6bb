// End-to-end tests of TLS on the API: the self-signed certificate a default start generates
// (its printed fingerprint is the served one's; it is reused), the operator's certificate, plain
// HTTP only when asked for and only on loopback, and the CLI verifying the server (--ca,
// --fingerprint, the environment, what login saved, the admin's config) or refusing to talk.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "net/tls.h"

namespace skiff::test {
namespace {

using nlohmann::json;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string hex(const unsigned char* bytes, unsigned n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

// The fingerprint of the certificate the server at `url` (https://127.0.0.1:PORT) presents,
// read with OpenSSL directly and no verification: what a client sees, whatever it trusts.
std::string servedFingerprint(const std::string& url) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "cannot connect";
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string fingerprint = "no handshake";
  if (SSL_connect(ssl) == 1) {
    X509* cert = SSL_get0_peer_certificate(ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (cert != nullptr && X509_digest(cert, EVP_sha256(), md, &n) == 1)
      fingerprint = "sha256:" + hex(md, n);
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return fingerprint;
}

// Every "fingerprint sha256:..." the server printed.
std::vector<std::string> printedFingerprints(const std::string& log) {
  std::vector<std::string> found;
  static const std::regex kPrinted("\\n\\s+fingerprint (sha256:[0-9a-f]{64})\\n");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kPrinted);
       it != std::sregex_iterator(); ++it)
    found.push_back((*it)[1].str());
  return found;
}

class TlsTest : public ::testing::Test {
 protected:
  // `skiff ARGS` against `url` as a user with no config of their own, without the harness's
  // SKIFF_CA (unless `extra` sets it back) but with the admin's token.
  CommandResult skiff(const std::vector<std::string>& args, const std::string& url,
                      std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env = {{"HOME", home_.path()},
                                              {"XDG_CONFIG_HOME", home_.path() + "/xdg"},
                                              {"SKIFF_CONFIG", ""},
                                              {"SKIFF_CA", ""},
                                              {"SKIFF_FINGERPRINT", ""}};
    for (auto& [k, v] : extra) env[k] = v;
    return runSkiff(args, url, "", env);
  }

  // `skiff server ARGS` that is expected to refuse to start: its exit code and output.
  CommandResult serverRefusing(std::vector<std::string> args) {
    std::vector<std::string> all = {"server",           "--data-dir",  refused_dir_.path(),
                                    "--gateway-listen", "127.0.0.1:0", "--gateway-admin-listen",
                                    "127.0.0.1:0"};
    all.insert(all.end(), args.begin(), args.end());
    return runSkiff(all, "");
  }

  TempDir dir_;
  TempDir home_;
  TempDir refused_dir_;
  ServerProcess server_{dir_.path()};
};

TEST_F(TlsTest, DefaultStartServesAGeneratedCertificateWhosePrintedFingerprintIsServed) {
  ASSERT_NO_FATAL_FAILURE(server_.start());
  ASSERT_EQ(server_.url().rfind("https://127.0.0.1:", 0), 0u) << server_.url();
  EXPECT_EQ(readFile(dir_.path() + "/api.addr"), server_.url() + "\n");
  const std::string cert = dir_.path() + "/tls/server.crt";
  EXPECT_EQ(server_.caFile(), cert);
  EXPECT_EQ(modeOf(dir_.path() + "/tls/server.key"), 0600u);
  EXPECT_EQ(modeOf(dir_.path() + "/tls"), 0700u);

  const std::string served = servedFingerprint(server_.url());
  EXPECT_EQ(served, *net::certificateFingerprint(cert));
  const auto printed = printedFingerprints(readFile(server_.logPath()));
  ASSERT_EQ(printed.size(), 1u) << readFile(server_.logPath());
  EXPECT_EQ(printed[0], served);

  // A restart serves the same certificate, and does not announce a new one.
  EXPECT_EQ(server_.stop(), 0);
  ASSERT_NO_FATAL_FAILURE(server_.start());
  EXPECT_EQ(servedFingerprint(server_.url()), served);
  EXPECT_EQ(printedFingerprints(readFile(server_.logPath())).size(), 1u);
}

TEST_F(TlsTest, CliVerifiesTheServerWithCaOrFingerprintAndRefusesOtherwise) {
  ASSERT_NO_FATAL_FAILURE(server_.start());
  const std::string fingerprint = servedFingerprint(server_.url());

  auto with_ca = skiff({"get", "tenants", "--ca", server_.caFile()}, server_.url());
  EXPECT_EQ(with_ca.exit_code, 0) << with_ca.err;
  EXPECT_TRUE(contains(with_ca.out, "default")) << with_ca.out;

  auto with_env_ca = skiff({"get", "tenants"}, server_.url(), {{"SKIFF_CA", server_.caFile()}});
  EXPECT_EQ(with_env_ca.exit_code, 0) << with_env_ca.err;

  auto pinned = skiff({"get", "tenants", "--fingerprint", fingerprint}, server_.url());
  EXPECT_EQ(pinned.exit_code, 0) << pinned.err;
  auto pinned_env = skiff({"get", "tenants"}, server_.url(), {{"SKIFF_FINGERPRINT", fingerprint}});
  EXPECT_EQ(pinned_env.exit_code, 0) << pinned_env.err;

  // Pinned, the certificate decides, not the CA file.
  const std::string wrong =
      "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  auto wrong_pin =
      skiff({"get", "tenants", "--fingerprint", wrong, "--ca", server_.caFile()}, server_.url());
  EXPECT_EQ(wrong_pin.exit_code, 1);
  EXPECT_TRUE(
      contains(wrong_pin.err, "has fingerprint " + fingerprint + ", not the pinned " + wrong))
      << wrong_pin.err;
  EXPECT_TRUE(wrong_pin.out.empty());

  auto neither = skiff({"get", "tenants"}, server_.url());
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_TRUE(contains(neither.err, "certificate of 127.0.0.1:" +
                                        server_.url().substr(server_.url().rfind(':') + 1) +
                                        " is not trusted: self-signed certificate; pass --ca"))
      << neither.err;
  EXPECT_TRUE(contains(neither.err, "--fingerprint")) << neither.err;

  auto garbled = skiff({"get", "tenants", "--fingerprint", "sha256:abc"}, server_.url());
  EXPECT_EQ(garbled.exit_code, 1);
  EXPECT_TRUE(contains(garbled.err, "64 hex digits")) << garbled.err;

  // Plain HTTP to the HTTPS port is an error that says so, not a way around verification.
  const std::string plain = "http://" + server_.url().substr(std::string("https://").size());
  auto downgraded = skiff({"get", "tenants", "--server", plain}, server_.url());
  EXPECT_EQ(downgraded.exit_code, 1);
  EXPECT_TRUE(contains(downgraded.err, "https://")) << downgraded.err;
}

TEST_F(TlsTest, LoginRemembersHowToVerifyTheServer) {
  ASSERT_NO_FATAL_FAILURE(server_.start());
  const std::string fingerprint = servedFingerprint(server_.url());
  const std::string password = readFile(dir_.path() + "/admin-password");
  auto login = runSkiff({"login", "admin", "--password-stdin", "--fingerprint", fingerprint},
                        server_.url(), password,
                        {{"HOME", home_.path()},
                         {"XDG_CONFIG_HOME", home_.path() + "/xdg"},
                         {"SKIFF_CONFIG", ""},
                         {"SKIFF_CA", ""},
                         {"SKIFF_TOKEN", ""}});
  ASSERT_EQ(login.exit_code, 0) << login.err;
  const json config = json::parse(readFile(home_.path() + "/xdg/skiff/config.json"));
  EXPECT_EQ(config["trust"][server_.url()]["fingerprint"], fingerprint) << config.dump();

  // Later commands need neither flags nor environment: the saved server, token and trust.
  auto whoami = skiff({"whoami"}, server_.url(), {{"SKIFF_SERVER", ""}, {"SKIFF_TOKEN", ""}});
  EXPECT_EQ(whoami.exit_code, 0) << whoami.err;
  EXPECT_TRUE(contains(whoami.out, "admin")) << whoami.out;

  // A flag still overrides what was saved.
  auto overridden = skiff({"whoami", "--fingerprint", "sha256:" + std::string(64, 'a')},
                          server_.url(), {{"SKIFF_SERVER", ""}, {"SKIFF_TOKEN", ""}});
  EXPECT_EQ(overridden.exit_code, 1);
  EXPECT_TRUE(contains(overridden.err, "not the pinned")) << overridden.err;

  // Logging out keeps the trust: it is no secret.
  auto logout = skiff({"logout"}, server_.url(), {{"SKIFF_SERVER", ""}, {"SKIFF_TOKEN", ""}});
  EXPECT_EQ(logout.exit_code, 0) << logout.err;
  const json after = json::parse(readFile(home_.path() + "/xdg/skiff/config.json"));
  EXPECT_FALSE(after.contains("token"));
  EXPECT_EQ(after["trust"][server_.url()]["fingerprint"], fingerprint);
}

TEST_F(TlsTest, AdminCliConfigSignsInWithoutFlags) {
  ASSERT_NO_FATAL_FAILURE(server_.start());
  const std::string path = dir_.path() + "/admin.config.json";
  EXPECT_EQ(modeOf(path), 0600u);
  const json config = json::parse(readFile(path));
  EXPECT_EQ(config.value("server", ""), server_.url());
  EXPECT_EQ(config["trust"][server_.url()]["ca"], server_.caFile());
  EXPECT_FALSE(config.contains("token"));
  EXPECT_TRUE(contains(readFile(server_.logPath()), path)) << "the server did not say where it is";

  const std::string password = readFile(dir_.path() + "/admin-password");
  const std::map<std::string, std::string> env = {
      {"SKIFF_CONFIG", path}, {"SKIFF_SERVER", ""}, {"SKIFF_CA", ""}, {"SKIFF_TOKEN", ""}};
  auto login = runSkiff({"login", "admin", "--password-stdin"}, server_.url(), password, env);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_TRUE(contains(login.out, "Logged in to " + server_.url() + " as admin")) << login.out;
  auto tenants = runSkiff({"get", "tenants"}, server_.url(), "", env);
  EXPECT_EQ(tenants.exit_code, 0) << tenants.err;

  // Written once: a restart leaves the admin's session in it alone.
  EXPECT_EQ(server_.stop(), 0);
  ASSERT_NO_FATAL_FAILURE(server_.start());
  EXPECT_TRUE(json::parse(readFile(path)).contains("token"));
}

TEST_F(TlsTest, OperatorCertificateIsServed) {
  TempDir certs;
  net::SelfSignedRequest request;
  request.cert_file = certs.path() + "/api.crt";
  request.key_file = certs.path() + "/api.key";
  request.hosts = {"127.0.0.1"};
  auto fingerprint = net::generateSelfSigned(request);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status().toString();

  ServerProcess server(dir_.path(),
                       {"--tls-cert", request.cert_file, "--tls-key", request.key_file});
  ASSERT_NO_FATAL_FAILURE(server.start());
  EXPECT_EQ(servedFingerprint(server.url()), *fingerprint);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/tls"));
  EXPECT_TRUE(printedFingerprints(readFile(server.logPath())).empty());
  auto with_ca = skiff({"get", "tenants", "--ca", request.cert_file}, server.url());
  EXPECT_EQ(with_ca.exit_code, 0) << with_ca.err;
  auto unverified =
      skiff({"get", "tenants", "--ca", dir_.path() + "/admin-password"}, server.url());
  EXPECT_EQ(unverified.exit_code, 1);
  EXPECT_TRUE(contains(unverified.err, "cannot load the CA file")) << unverified.err;
}

TEST_F(TlsTest, BrokenOrMismatchedTlsFilesStopTheStart) {
  TempDir certs;
  for (const char* name : {"a", "b"}) {
    net::SelfSignedRequest request;
    request.cert_file = certs.path() + "/" + name + ".crt";
    request.key_file = certs.path() + "/" + name + ".key";
    ASSERT_TRUE(net::generateSelfSigned(request).ok());
  }
  auto mismatched = serverRefusing({"--listen", "127.0.0.1:0", "--tls-cert",
                                    certs.path() + "/a.crt", "--tls-key", certs.path() + "/b.key"});
  EXPECT_EQ(mismatched.exit_code, 1);
  EXPECT_TRUE(contains(mismatched.out + mismatched.err,
                       certs.path() + "/b.key does not belong to the certificate"))
      << mismatched.out << mismatched.err;

  auto lone = serverRefusing({"--listen", "127.0.0.1:0", "--tls-cert", certs.path() + "/a.crt"});
  EXPECT_EQ(lone.exit_code, 2);
  EXPECT_TRUE(contains(lone.out + lone.err, "--tls-cert and --tls-key go together"))
      << lone.out << lone.err;
  EXPECT_FALSE(std::filesystem::exists(refused_dir_.path() + "/api.addr"));
}

TEST_F(TlsTest, InsecureHttpIsRefusedOffLoopback) {
  for (const char* listen : {"0.0.0.0:0", "[::]:0"}) {
    auto refused = serverRefusing({"--listen", listen, "--insecure-http"});
    EXPECT_EQ(refused.exit_code, 2) << listen;
    EXPECT_TRUE(contains(refused.out + refused.err, "--insecure-http is refused on"))
        << refused.out << refused.err;
    EXPECT_FALSE(std::filesystem::exists(refused_dir_.path() + "/api.addr"));
  }
}

TEST_F(TlsTest, InsecureHttpOnLoopbackServesPlainHttp) {
  ServerProcess server(dir_.path(), {"--insecure-http"});
  ASSERT_NO_FATAL_FAILURE(server.start());
  ASSERT_EQ(server.url().rfind("http://127.0.0.1:", 0), 0u) << server.url();
  EXPECT_TRUE(server.caFile().empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/tls"));
  auto tenants = skiff({"get", "tenants"}, server.url());
  EXPECT_EQ(tenants.exit_code, 0) << tenants.err;
  // An https:// URL to it fails; the CLI does not quietly use HTTP instead.
  const std::string secure = "https://" + server.url().substr(std::string("http://").size());
  auto upgraded = skiff({"get", "tenants", "--server", secure}, server.url());
  EXPECT_EQ(upgraded.exit_code, 1);
  EXPECT_TRUE(contains(upgraded.err, "TLS handshake with 127.0.0.1:")) << upgraded.err;
}

}  // namespace
}  // namespace skiff::test
