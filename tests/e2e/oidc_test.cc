// End-to-end tests of OIDC sign-in: a real issuer (tests/e2e/oidc_issuer.py: discovery and JWK
// Set over HTTPS, with a certificate the test makes and trusts through caFile) and the real
// server started with --oidc-config. Tokens the test signs sign in as the mapped user with the
// mapped groups, RoleBindings to those groups apply, bad tokens get 401 saying why, and the
// server starts and keeps working while the issuer is down, then follows its key rotation.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "net/tls.h"
#include "unit/oidc_test_support.h"

namespace skiff::test {
namespace {

using nlohmann::json;
using skiff::testing::TestSigningKey;

const char* kAudience = "skiff-e2e";

void writeFile(const std::string& path, const std::string& contents) {
  std::ofstream(path + ".tmp") << contents;
  std::filesystem::rename(path + ".tmp", path);
}

class OidcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fingerprint = net::generateSelfSigned(
        {issuer_dir_.path() + "/cert.pem", issuer_dir_.path() + "/key.pem", {}, 1});
    ASSERT_TRUE(fingerprint.ok()) << fingerprint.status().toString();
    publishKeys({key().jwk("RS256")});
  }

  // Key generation takes a while: made once for all tests.
  static const TestSigningKey& key() {
    static const TestSigningKey k = TestSigningKey::rsa("e2e-1");
    return k;
  }
  static const TestSigningKey& rotatedKey() {
    static const TestSigningKey k = TestSigningKey::ec("e2e-2");
    return k;
  }
  // Pretends to be e2e-1.
  static const TestSigningKey& impostorKey() {
    static const TestSigningKey k = TestSigningKey::rsa("e2e-1");
    return k;
  }

  void publishKeys(const std::vector<json>& keys) {
    writeFile(issuer_dir_.path() + "/jwks.json", json{{"keys", keys}}.dump());
  }

  // Starts the issuer on `port` (0: any) and returns its port.
  int startIssuer(int port = 0) {
    const std::string port_file = issuer_dir_.path() + "/port";
    std::filesystem::remove(port_file);
    issuer_.start({"python3", sourceDir() + "/tests/e2e/oidc_issuer.py", "--dir",
                   issuer_dir_.path(), "--port", std::to_string(port)},
                  issuer_dir_.path() + "/issuer.log");
    std::string text;
    const bool up = eventually([&] {
      text = readFile(port_file);
      return !text.empty() && text.back() == '\n';
    });
    EXPECT_TRUE(up) << "the issuer did not start: " << readFile(issuer_dir_.path() + "/issuer.log");
    return up ? std::stoi(text) : 0;
  }

  // Writes the server's OIDC configuration for the issuer on `port`; returns its path.
  std::string writeConfig(int port, const std::string& extra = "") {
    issuer_url_ = "https://127.0.0.1:" + std::to_string(port);
    const std::string path = issuer_dir_.path() + "/oidc.yaml";
    writeFile(path, "issuer: " + issuer_url_ + "\naudiences: [" + kAudience +
                        "]\n"
                        "caFile: cert.pem\n"  // relative to the configuration file
                        "usernamePrefix: sso-\n"
                        "groupMap: {\"Acme Developers\": acme-devs, \"Beta Viewers\": beta}\n" +
                        extra);
    return path;
  }

  json claims(const std::string& sub, std::vector<std::string> groups = {"Acme Developers"}) {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return {{"iss", issuer_url_}, {"aud", kAudience}, {"sub", sub},          {"iat", now},
            {"exp", now + 600},   {"groups", groups}, {"name", "E2E " + sub}};
  }

  HttpResult as(const ServerProcess& server, const std::string& token, const std::string& path) {
    return httpRequest(server.url(), "GET", path, "", "application/json",
                       {{"Authorization", "Bearer " + token}});
  }

  TempDir issuer_dir_;
  TempDir data_dir_;
  ChildProcess issuer_;
  std::string issuer_url_;
};

TEST_F(OidcTest, TokensSignInAsTheMappedUserAndGroupBindingsApply) {
  const int port = startIssuer();
  ASSERT_GT(port, 0);
  ServerProcess server(data_dir_.path(), {"--oidc-config", writeConfig(port)});
  server.start();

  const std::string alice = key().sign(claims("alice", {"Acme Developers", "Unmapped"}), "RS256");
  HttpResult who = as(server, alice, "/api/v1/whoami");
  ASSERT_EQ(who.status, 200) << who.body << "\n" << readFile(server.logPath());
  const json identity = json::parse(who.body);
  EXPECT_EQ(identity["user"], "sso-alice");
  EXPECT_EQ(identity["groups"], json({"acme-devs"}));
  // The first sign-in created the user, recorded as an OIDC user.
  HttpResult user = httpRequest(server.url(), "GET", "/api/v1/users/sso-alice");
  ASSERT_EQ(user.status, 200) << user.body;
  EXPECT_EQ(json::parse(user.body)["spec"]["source"], "oidc");

  // Without a binding the group grants nothing; a RoleBinding to it grants its role in that
  // tenant only.
  ASSERT_EQ(httpRequest(server.url(), "POST", "/api/v1/tenants",
                        json{{"metadata", {{"name", "acme"}}}}.dump())
                .status,
            201);
  HttpResult denied = as(server, alice, "/api/v1/tenants/acme/applications");
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_NE(denied.body.find("user \\\"sso-alice\\\" cannot list applications"), std::string::npos)
      << denied.body;
  HttpResult bound = httpRequest(
      server.url(), "POST", "/api/v1/tenants/acme/rolebindings",
      json{{"metadata", {{"name", "acme-devs"}}},
           {"spec",
            {{"role", "developer"}, {"subjects", {{{"kind", "Group"}, {"name", "acme-devs"}}}}}}}
          .dump());
  ASSERT_EQ(bound.status, 201) << bound.body;
  HttpResult allowed = as(server, alice, "/api/v1/tenants/acme/applications");
  EXPECT_EQ(allowed.status, 200) << allowed.body;
  EXPECT_EQ(as(server, alice, "/api/v1/tenants/default/applications").status, 403);
  // Someone of another group is not a member.
  const std::string bob = key().sign(claims("bob", {"Beta Viewers"}), "RS256");
  HttpResult bob_who = as(server, bob, "/api/v1/whoami");
  ASSERT_EQ(bob_who.status, 200) << bob_who.body;
  EXPECT_EQ(json::parse(bob_who.body)["groups"], json({"beta"}));
  EXPECT_EQ(as(server, bob, "/api/v1/tenants/acme/applications").status, 403);

  // Bad tokens: 401 saying what is wrong, never echoing the token.
  auto expectUnauthorized = [&](const std::string& token, const std::string& words) {
    HttpResult r = as(server, token, "/api/v1/whoami");
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_NE(r.body.find(words), std::string::npos) << r.body;
    const size_t payload = token.find('.') + 1;
    EXPECT_EQ(r.body.find(token.substr(payload, token.rfind('.') - payload)), std::string::npos)
        << r.body;
  };
  json expired = claims("alice");
  expired["iat"] = expired["iat"].get<int64_t>() - 7200;
  expired["exp"] = expired["iat"].get<int64_t>() + 600;
  expectUnauthorized(key().sign(expired, "RS256"), "the token expired at");
  json other_audience = claims("alice");
  other_audience["aud"] = "someone-else";
  expectUnauthorized(key().sign(other_audience, "RS256"),
                     "the token is for audience \\\"someone-else\\\", not for this server");
  expectUnauthorized(impostorKey().sign(claims("alice"), "RS256"),
                     "the token's signature does not verify with key \\\"e2e-1\\\"");
  expectUnauthorized(testing::compactJws({{"alg", "none"}}, claims("alice"), ""),
                     "the token is unsigned");
  // A local user's name cannot be taken over.
  ASSERT_EQ(httpRequest(server.url(), "POST", "/api/v1/users",
                        json{{"metadata", {{"name", "sso-carol"}}}}.dump())
                .status,
            201);
  expectUnauthorized(key().sign(claims("carol"), "RS256"), "is not a oidc user");
  // Skiff's own tokens keep working beside OIDC.
  EXPECT_EQ(as(server, server.adminToken(), "/api/v1/whoami").status, 200);
}

TEST_F(OidcTest, TheServerStartsWhileTheIssuerIsDownAndFollowsKeyRotation) {
  // Learn a free port for the issuer, then take it down before the server starts.
  const int port = startIssuer();
  ASSERT_GT(port, 0);
  issuer_.kill();
  ServerProcess server(data_dir_.path(),
                       {"--oidc-config", writeConfig(port, "minKeyRefreshInterval: 1s\n")});
  server.start();

  const std::string token = key().sign(claims("dana"), "RS256");
  HttpResult down = as(server, token, "/api/v1/whoami");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(down.body.find("the keys of OIDC issuer " + issuer_url_ + " are not available"),
            std::string::npos)
      << down.body;

  ASSERT_EQ(startIssuer(port), port);
  HttpResult up;
  EXPECT_TRUE(eventually([&] {
    up = as(server, token, "/api/v1/whoami");
    return up.status == 200;
  })) << up.status
      << " " << up.body << "\n"
      << readFile(server.logPath());
  EXPECT_EQ(json::parse(up.body)["user"], "sso-dana");

  // The issuer rotates to a new (EC) key: the first token naming it fetches the keys again.
  publishKeys({key().jwk("RS256"), rotatedKey().jwk("ES256")});
  const std::string rotated = rotatedKey().sign(claims("dana"), "ES256");
  HttpResult after;
  EXPECT_TRUE(eventually([&] {
    after = as(server, rotated, "/api/v1/whoami");
    return after.status == 200;
  })) << after.status
      << " " << after.body;
  // Tokens of the old key stay valid while the issuer still publishes it.
  EXPECT_EQ(as(server, token, "/api/v1/whoami").status, 200);
}

TEST_F(OidcTest, ABadConfigurationStopsTheServerNamingTheField) {
  const std::string config = issuer_dir_.path() + "/bad.yaml";
  writeFile(config, "issuer: http://login.example.com\naudiences: skiff\n");
  const std::string log = issuer_dir_.path() + "/server.log";
  ChildProcess server;
  server.start({skiffBinary(), "server", "--data-dir", data_dir_.path(), "--listen", "127.0.0.1:0",
                "--gateway-listen", "127.0.0.1:0", "--gateway-admin-listen", "127.0.0.1:0",
                "--oidc-config", config},
               log);
  auto status = server.wait(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value()) << "the server kept running: " << readFile(log);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  const std::string text = readFile(log);
  EXPECT_NE(text.find("--oidc-config"), std::string::npos) << text;
  EXPECT_NE(text.find("issuer: must be an https:// URL"), std::string::npos) << text;
  EXPECT_NE(text.find("audiences: must be a list"), std::string::npos) << text;
}

}  // namespace
}  // namespace skiff::test
