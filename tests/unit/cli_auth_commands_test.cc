// Unit tests of the CLI's authentication: the bearer token on every request, how 401 and 403
// answers read, and the login, logout, can-i, token, passwd and audit commands, all against a
// scripted HTTP server on a loopback port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli/api_client.h"
#include "cli/config.h"
#include "cli/subcommands.h"

namespace skiff::cli {
namespace {

struct RecordedRequest {
  std::string method;
  std::string target;         // path and query
  std::string authorization;  // the header's value, empty when absent
  std::string body;
};

// An HTTP/1.1 server answering each "METHOD /path" (query ignored) with a scripted reply, one
// request per connection (the CLI sends Connection: close). Thread-safe.
class ScriptedServer {
 public:
  ScriptedServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    url_ = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }

  const std::string& url() const { return url_; }
  void answer(const std::string& method_and_path, int status, std::string body) {
    std::lock_guard lock(mu_);
    replies_[method_and_path] = {status, std::move(body)};
  }
  std::vector<RecordedRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      handle(conn);
      ::close(conn);
    }
  }

  void handle(int conn) {
    std::string raw;
    char buf[4096];
    size_t head_end;
    while ((head_end = raw.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return;
      raw.append(buf, static_cast<size_t>(n));
    }
    RecordedRequest r;
    std::istringstream head(raw.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    std::istringstream request_line(line);
    request_line >> r.method >> r.target;
    size_t content_length = 0;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string value = line.substr(line.find_first_not_of(' ', colon + 1));
      if (name == "authorization") r.authorization = value;
      if (name == "content-length") content_length = std::stoul(value);
    }
    r.body = raw.substr(head_end + 4);
    while (r.body.size() < content_length) {
      ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return;
      r.body.append(buf, static_cast<size_t>(n));
    }
    std::pair<int, std::string> reply = {
        404, R"({"kind":"Status","reason":"NotFound","message":"no such route"})"};
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      const std::string path = r.target.substr(0, r.target.find('?'));
      if (auto it = replies_.find(r.method + " " + path); it != replies_.end()) reply = it->second;
    }
    const std::string response = "HTTP/1.1 " + std::to_string(reply.first) +
                                 " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(reply.second.size()) +
                                 "\r\nConnection: close\r\n\r\n" + reply.second;
    ::send(conn, response.data(), response.size(), MSG_NOSIGNAL);
  }

  int fd_ = -1;
  std::string url_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::pair<int, std::string>> replies_;  // guarded by mu_
  std::vector<RecordedRequest> requests_;                       // guarded by mu_
};

std::string errorBody(const std::string& reason, const std::string& message) {
  return json{{"apiVersion", "skiff.dev/v1"},
              {"kind", "Status"},
              {"status", "Failure"},
              {"reason", reason},
              {"message", message}}
      .dump();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class CliAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    settings_.config_path = dir_ + "/skiff/config.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ApiClient client(const std::string& token = "") {
    auto c = ApiClient::connect(server_.url());
    EXPECT_TRUE(c.ok());
    c->setToken(token);
    return std::move(c).value();
  }

  // Runs `command` with `input` on its stdin; its output lands in out_ and err_.
  template <class F>
  int run(ApiClient& c, const std::string& input, F command) {
    std::istringstream in(input);
    out_.str("");
    err_.str("");
    CommandContext ctx{c, in, out_, err_, &settings_};
    return command(ctx);
  }

  CliConfig savedConfig() { return *loadConfig(*settings_.config_path); }

  ScriptedServer server_;
  std::string dir_;
  ClientSettings settings_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CliAuthTest, EveryRequestCarriesTheBearerToken) {
  server_.answer("GET /version", 200, R"({"version":"1"})");
  server_.answer("GET /api/v1/tenants/default/applications/shop/logs", 200, "line\n");
  server_.answer("GET /api/v1/tenants/default/applications", 200, "");
  ApiClient c = client("skf_abc");
  ASSERT_TRUE(c.serverVersion().ok());
  ASSERT_TRUE(c.streamGet("/api/v1/tenants/default/applications/shop/logs", [](std::string_view) {
                 return true;
               }).isOk());
  ListQuery query{findKind("Application"), "default", false, ""};
  ASSERT_TRUE(c.watch(query, std::nullopt, [](const json&) { return true; }).isOk());
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) EXPECT_EQ(r.authorization, "Bearer skf_abc") << r.target;
}

TEST_F(CliAuthTest, NoTokenSendsNoAuthorizationHeader) {
  server_.answer("GET /version", 200, R"({"version":"1"})");
  ApiClient c = client();
  ASSERT_TRUE(c.serverVersion().ok());
  EXPECT_EQ(server_.requests().at(0).authorization, "");
}

TEST_F(CliAuthTest, UnauthorizedSaysToLogIn) {
  server_.answer("GET /api/v1/whoami", 401, errorBody("Unauthorized", "the token has expired"));
  ApiClient c = client("skf_old");
  auto who = c.request("GET", "/api/v1/whoami");
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(who.status().message(), "not logged in to " + server_.url() +
                                        ": run skiff login (server said: the token has expired)");
  c.setToken("skf_env", "the token in SKIFF_TOKEN was refused");
  who = c.request("GET", "/api/v1/whoami");
  EXPECT_TRUE(contains(who.status().message(), "the token in SKIFF_TOKEN was refused"));
}

TEST_F(CliAuthTest, UnauthorizedStreamsSayToLogInToo) {
  server_.answer("GET /api/v1/tenants/default/applications/shop/logs", 401,
                 errorBody("Unauthorized", "no token"));
  ApiClient c = client();
  Status s = c.streamGet("/api/v1/tenants/default/applications/shop/logs",
                         [](std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(contains(s.message(), "run skiff login")) << s.message();
}

TEST_F(CliAuthTest, ForbiddenPrintsTheServersMessage) {
  const std::string denial = "user \"bob\" cannot create applications in tenant \"acme\"";
  server_.answer("POST /api/v1/tenants/acme/applications", 403, errorBody("Forbidden", denial));
  ApiClient c = client("skf_bob");
  auto created = c.create({findKind("Application"), "acme", "shop"}, json::object());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kForbidden);
  EXPECT_EQ(created.status().message(), denial);
}

TEST_F(CliAuthTest, StatusWithoutABodyStillMapsTo401And403) {
  EXPECT_EQ(statusFromErrorReply(401, "").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(statusFromErrorReply(403, "<html>no</html>").code(), StatusCode::kForbidden);
  EXPECT_EQ(statusFromErrorReply(401, R"({"reason":"Unauthorized","message":"m"})").message(), "m");
}

TEST_F(CliAuthTest, LoginSendsNoOldTokenAndSavesThePrivateConfig) {
  server_.answer("POST /api/v1/login", 200,
                 R"({"token":"skf_new","tokenId":"0123456789abcdef","user":"alice",)"
                 R"("expiresAt":"2026-12-02T09:00:00Z"})");
  ApiClient c = client("skf_stale");
  const int rc = run(c, "s3cret pass\n", [](CommandContext& ctx) {
    return runLogin(ctx, {"alice", true});
  });
  EXPECT_EQ(rc, 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "Logged in to " + server_.url() + " as alice (session expires 2026-12-02T09:00:00Z)\n");
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].authorization, "");
  EXPECT_EQ(json::parse(requests[0].body), (json{{"user", "alice"}, {"password", "s3cret pass"}}));
  EXPECT_EQ(savedConfig(), (CliConfig{server_.url(), "skf_new"}));
  struct stat st;
  ASSERT_EQ(::stat(settings_.config_path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CliAuthTest, LoginRevokesTheSessionItReplaces) {
  server_.answer("POST /api/v1/login", 200, R"({"token":"skf_new","user":"alice"})");
  server_.answer("POST /api/v1/logout", 200, "{}");
  settings_.config = {server_.url(), "skf_previous"};
  ApiClient c = client();
  ASSERT_EQ(run(c, "pw\n",
                [](CommandContext& ctx) {
                  return runLogin(ctx, {"alice", true});
                }),
            0)
      << err_.str();
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].target, "/api/v1/logout");
  EXPECT_EQ(requests[1].authorization, "Bearer skf_previous");
}

TEST_F(CliAuthTest, FailedLoginSaysWhyAndSavesNothing) {
  server_.answer("POST /api/v1/login", 401,
                 errorBody("Unauthorized", "invalid user name or password"));
  ApiClient c = client();
  const int rc = run(c, "wrong\n", [](CommandContext& ctx) {
    return runLogin(ctx, {"bob", true});
  });
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(err_.str(), "error: cannot log in to " + server_.url() +
                            " as bob: invalid user name or password\n");
  EXPECT_FALSE(std::filesystem::exists(*settings_.config_path));
}

TEST_F(CliAuthTest, LoginNeedsAUserAndAPassword) {
  ApiClient c = client();
  EXPECT_EQ(run(c, "pw\n", [](CommandContext& ctx) { return runLogin(ctx, {"", true}); }), 1);
  EXPECT_TRUE(contains(err_.str(), "skiff login USER")) << err_.str();
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runLogin(ctx, {"alice", true}); }), 1);
  EXPECT_TRUE(contains(err_.str(), "the password")) << err_.str();
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(CliAuthTest, LogoutRevokesAndForgetsTheSession) {
  server_.answer("POST /api/v1/logout", 200, "{}");
  settings_.config = {server_.url(), "skf_session"};
  ASSERT_TRUE(saveConfig(*settings_.config_path, settings_.config).isOk());
  ApiClient c = client("skf_session");
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runLogout(ctx); }), 0) << err_.str();
  EXPECT_EQ(out_.str(), "Logged out of " + server_.url() + "\n");
  EXPECT_EQ(server_.requests().at(0).authorization, "Bearer skf_session");
  EXPECT_EQ(savedConfig(), (CliConfig{server_.url(), ""}));
}

TEST_F(CliAuthTest, LogoutWorksOfflineAndSaysSo) {
  // A port nothing listens on: bind one, note it, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  const std::string offline = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  settings_.config = {offline, "skf_session"};
  ASSERT_TRUE(saveConfig(*settings_.config_path, settings_.config).isOk());
  auto c = ApiClient::connect(offline);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(run(*c, "", [](CommandContext& ctx) { return runLogout(ctx); }), 0);
  EXPECT_EQ(out_.str(), "Logged out locally\n");
  EXPECT_TRUE(contains(err_.str(), "could not be revoked")) << err_.str();
  EXPECT_EQ(savedConfig().token, "");
}

TEST_F(CliAuthTest, LogoutWithoutASessionForThisServerChangesNothing) {
  settings_.config = {"http://elsewhere:1", "skf_other"};
  ApiClient c = client();
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runLogout(ctx); }), 0);
  EXPECT_TRUE(contains(out_.str(), "Not logged in to " + server_.url())) << out_.str();
  EXPECT_TRUE(server_.requests().empty());
  EXPECT_FALSE(std::filesystem::exists(*settings_.config_path));
}

TEST_F(CliAuthTest, CanIAnswersYesOrNoWithTheReason) {
  ApiClient c = client("skf_bob");
  server_.answer("POST /api/v1/accessreviews", 200, R"({"allowed":true})");
  EXPECT_EQ(run(c, "",
                [](CommandContext& ctx) {
                  return runCanI(ctx, {"create", "apps", "acme"});
                }),
            0);
  EXPECT_EQ(out_.str(), "yes\n");
  EXPECT_EQ(json::parse(server_.requests().at(0).body),
            (json{{"verb", "create"}, {"resource", "applications"}, {"tenant", "acme"}}));

  server_.answer("POST /api/v1/accessreviews", 200,
                 R"({"allowed":false,"reason":"user \"bob\" cannot get applications/logs"})");
  EXPECT_EQ(run(c, "",
                [](CommandContext& ctx) {
                  return runCanI(ctx, {"get", "app/logs", ""});
                }),
            1);
  EXPECT_EQ(out_.str(), "no - user \"bob\" cannot get applications/logs\n");
  EXPECT_EQ(json::parse(server_.requests().at(1).body),
            (json{{"verb", "get"}, {"resource", "applications/logs"}}));
}

TEST_F(CliAuthTest, CanIErrorsExitWith2) {
  ApiClient c = client();
  EXPECT_EQ(run(c, "",
                [](CommandContext& ctx) {
                  return runCanI(ctx, {"destroy", "apps", ""});
                }),
            2);
  EXPECT_TRUE(contains(err_.str(), "unknown verb \"destroy\": use one of get, list")) << err_.str();
  server_.answer("POST /api/v1/accessreviews", 401, errorBody("Unauthorized", "no token"));
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runCanI(ctx, {"get", "apps", ""}); }), 2);
}

TEST_F(CliAuthTest, TokenCreatePrintsOnlyTheTokenOnStdout) {
  server_.answer(
      "POST /api/v1/tokens", 201,
      R"({"token":"skf_0123456789abcdef_s","object":{"metadata":{"name":)"
      R"("0123456789abcdef"},"spec":{"user":"ci","expiresAt":"2027-01-01T00:00:00Z"}}})");
  ApiClient c = client("skf_admin");
  TokenCreateOptions options;
  options.user = "ci";
  options.roles = {"developer"};
  options.tenants = {"acme", "beta"};
  options.ttl = "720h";
  options.description = "deploys";
  EXPECT_EQ(run(c, "", [&](CommandContext& ctx) { return runTokenCreate(ctx, options); }), 0)
      << err_.str();
  EXPECT_EQ(out_.str(), "skf_0123456789abcdef_s\n");
  EXPECT_TRUE(contains(err_.str(), "cannot be shown again")) << err_.str();
  EXPECT_EQ(json::parse(server_.requests().at(0).body), (json{{"user", "ci"},
                                                              {"roles", {"developer"}},
                                                              {"tenants", {"acme", "beta"}},
                                                              {"ttl", "720h"},
                                                              {"description", "deploys"}}));
}

TEST_F(CliAuthTest, TokenCreateRefusesABadTtlNamingTheFlag) {
  ApiClient c = client();
  for (const std::string ttl : {"30d", "-1h", "9000h"}) {
    TokenCreateOptions options;
    options.ttl = ttl;
    EXPECT_EQ(run(c, "", [&](CommandContext& ctx) { return runTokenCreate(ctx, options); }), 1);
    EXPECT_TRUE(contains(err_.str(), "--ttl")) << err_.str();
    EXPECT_TRUE(contains(err_.str(), "\"" + ttl + "\"")) << err_.str();
  }
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(CliAuthTest, TokenListIsATable) {
  server_.answer("GET /api/v1/tokens", 200,
                 R"({"items":[{"metadata":{"name":"0123456789abcdef"},"spec":{"user":"alice",)"
                 R"("type":"api","roles":["viewer"],"tenants":["acme"],)"
                 R"("expiresAt":"2027-01-01T00:00:00Z","description":"ci"}},)"
                 R"({"metadata":{"name":"fedcba9876543210"},"spec":{"user":"alice",)"
                 R"("type":"session","expiresAt":"2026-12-02T09:00:00Z"}}]})");
  ApiClient c = client("skf_alice");
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runTokenList(ctx, {}); }), 0);
  EXPECT_EQ(out_.str(),
            "ID                 USER    TYPE      ROLES    TENANTS   EXPIRES                "
            "DESCRIPTION\n"
            "0123456789abcdef   alice   api       viewer   acme      2027-01-01T00:00:00Z   ci\n"
            "fedcba9876543210   alice   session   <all>    <all>     2026-12-02T09:00:00Z   -\n");
}

TEST_F(CliAuthTest, TokenRevokeTakesAnIdOrAWholeToken) {
  server_.answer("DELETE /api/v1/tokens/0123456789abcdef", 200, "{}");
  ApiClient c = client("skf_alice");
  EXPECT_EQ(run(c, "",
                [](CommandContext& ctx) {
                  return runTokenRevoke(ctx, "skf_0123456789abcdef_secretpart");
                }),
            0);
  EXPECT_EQ(out_.str(), "token 0123456789abcdef revoked\n");
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runTokenRevoke(ctx, "../users"); }), 1);
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(CliAuthTest, PasswdOfOnesOwnSendsTheCurrentPassword) {
  server_.answer("GET /api/v1/whoami", 200, R"({"user":"alice","groups":[]})");
  server_.answer("PUT /api/v1/users/alice/password", 200, "{}");
  server_.answer("PUT /api/v1/users/bob/password", 200, "{}");
  ApiClient c = client("skf_alice");
  EXPECT_EQ(run(c, "old one\nnew one\n",
                [](CommandContext& ctx) {
                  return runPasswd(ctx, {"alice", true});
                }),
            0)
      << err_.str();
  EXPECT_EQ(out_.str(), "Password changed for alice\n");
  EXPECT_EQ(json::parse(server_.requests().at(1).body),
            (json{{"currentPassword", "old one"}, {"password", "new one"}}));

  EXPECT_EQ(run(c, "for bob\n",
                [](CommandContext& ctx) {
                  return runPasswd(ctx, {"bob", true});
                }),
            0)
      << err_.str();
  EXPECT_EQ(json::parse(server_.requests().at(3).body), (json{{"password", "for bob"}}));
}

TEST_F(CliAuthTest, AuditSendsTheFiltersAndPrintsATable) {
  server_.answer("GET /api/v1/audit", 200,
                 R"({"items":[{"seq":1,"time":"2026-12-01T10:00:00Z","user":"alice",)"
                 R"("tenant":"acme","verb":"create","resource":"applications","name":"shop",)"
                 R"("status":201,"source":"127.0.0.1"},{"seq":2,"time":"2026-12-01T10:00:01Z",)"
                 R"("user":"bob","verb":"list","resource":"users","status":403,)"
                 R"("source":"127.0.0.1"}]})");
  ApiClient c = client("skf_admin");
  AuditOptions options;
  options.user = "alice smith";
  options.tenant = "acme";
  options.since = "1h";
  options.limit = 50;
  EXPECT_EQ(run(c, "", [&](CommandContext& ctx) { return runAudit(ctx, options); }), 0)
      << err_.str();
  const std::string target = server_.requests().at(0).target;
  EXPECT_EQ(target.rfind("/api/v1/audit?user=alice%20smith&tenant=acme&since=20", 0), 0u) << target;
  EXPECT_TRUE(contains(target, "Z&limit=50")) << target;
  EXPECT_EQ(out_.str(),
            "TIME                   USER    TENANT   VERB     RESOURCE       NAME   STATUS   "
            "SOURCE\n"
            "2026-12-01T10:00:00Z   alice   acme     create   applications   shop   201      "
            "127.0.0.1\n"
            "2026-12-01T10:00:01Z   bob     -        list     users          -      403      "
            "127.0.0.1\n");
}

TEST_F(CliAuthTest, AuditRefusesBadFlagsNamingThem) {
  ApiClient c = client();
  AuditOptions options;
  options.since = "yesterday";
  EXPECT_EQ(run(c, "", [&](CommandContext& ctx) { return runAudit(ctx, options); }), 1);
  EXPECT_TRUE(contains(err_.str(), "--since must be")) << err_.str();
  options = {};
  options.limit = 0;
  EXPECT_EQ(run(c, "", [&](CommandContext& ctx) { return runAudit(ctx, options); }), 1);
  EXPECT_TRUE(contains(err_.str(), "--limit must be 1 or more entries, got 0")) << err_.str();
  options = {};
  options.output = "yaml";
  EXPECT_EQ(run(c, "", [&](CommandContext& ctx) { return runAudit(ctx, options); }), 1);
  EXPECT_TRUE(contains(err_.str(), "\"yaml\" for -o/--output")) << err_.str();
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(CliAuthTest, AuditVerifyExitCodes) {
  ApiClient c = client("skf_admin");
  server_.answer("GET /api/v1/audit/verify", 200,
                 R"({"intact":true,"entries":12,"headHash":"ab12","brokenAtLine":0,"problem":""})");
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runAuditVerify(ctx); }), 0);
  EXPECT_EQ(out_.str(), "audit trail intact: 12 entries, head ab12\n");
  server_.answer("GET /api/v1/audit/verify", 200,
                 R"({"intact":false,"entries":7,"headHash":"","brokenAtLine":5,)"
                 R"("problem":"the hash of entry 5 does not match"})");
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runAuditVerify(ctx); }), 1);
  EXPECT_EQ(out_.str(), "audit trail broken at line 5: the hash of entry 5 does not match\n");
  server_.answer("GET /api/v1/audit/verify", 403, errorBody("Forbidden", "not allowed"));
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runAuditVerify(ctx); }), 2);
  EXPECT_EQ(err_.str(), "error: not allowed\n");
}

TEST_F(CliAuthTest, WhoamiShowsTheScopeOfAScopedToken) {
  server_.answer("GET /api/v1/whoami", 200,
                 R"({"user":"alice","groups":["dev","ops"],"tokenId":"0123456789abcdef",)"
                 R"("scope":{"roles":["viewer"],"tenants":["acme"]}})");
  ApiClient c = client("skf_alice");
  EXPECT_EQ(run(c, "", [](CommandContext& ctx) { return runWhoami(ctx, {}); }), 0);
  EXPECT_EQ(out_.str(),
            "User:    alice\nGroups:  dev, ops\nToken:   0123456789abcdef\n"
            "Roles:   viewer\nTenants: acme\nServer:  " +
                server_.url() + "\n");
}

}  // namespace
}  // namespace skiff::cli
