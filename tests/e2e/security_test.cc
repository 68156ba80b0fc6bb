// End-to-end tests of the API's security against the real server: a matrix of endpoints ×
// built-in roles × own tenant / other tenant / platform asserting allow or deny exactly,
// filtered cross-tenant lists, no secret in any file the server writes, and lockout, expiry
// and revocation taking effect at the next request.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const char* kPassword = "Matrix-Password-2026";

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    for (const char* tenant : {"acme", "beta"}) {
      ASSERT_EQ(post("/api/v1/tenants", {{"metadata", {{"name", tenant}}}}).status, 201);
      ASSERT_EQ(
          post(std::string("/api/v1/tenants/") + tenant + "/applications", app("shop")).status,
          201);
    }
    // padmin holds platform-admin everywhere; the others their role in acme only.
    addUser("padmin");
    ASSERT_EQ(post("/api/v1/platformrolebindings",
                   {{"metadata", {{"name", "padmins"}}},
                    {"spec",
                     {{"role", "platform-admin"},
                      {"subjects", {{{"kind", "User"}, {"name", "padmin"}}}}}}})
                  .status,
              201);
    for (const auto& [user, role] : std::map<std::string, std::string>{
             {"tadmin", "tenant-admin"}, {"dev", "developer"}, {"view", "viewer"}}) {
      addUser(user);
      ASSERT_EQ(
          post("/api/v1/tenants/acme/rolebindings",
               {{"metadata", {{"name", user}}},
                {"spec", {{"role", role}, {"subjects", {{{"kind", "User"}, {"name", user}}}}}}})
              .status,
          201);
    }
    addUser("nobody");
  }

  static json app(const std::string& name) {
    return {
        {"metadata", {{"name", name}}},
        {"spec", {{"components", {{{"name", "web"}, {"run", {{"command", "skiff-example"}}}}}}}}};
  }
  HttpResult post(const std::string& path, const json& body) {
    return httpRequest(server_.url(), "POST", path, body.dump());
  }
  // Creates `user` with kPassword and keeps an API token of theirs in tokens_.
  void addUser(const std::string& user) {
    ASSERT_EQ(post("/api/v1/users", {{"metadata", {{"name", user}}}}).status, 201);
    auto set = httpRequest(server_.url(), "PUT", "/api/v1/users/" + user + "/password",
                           json{{"password", kPassword}}.dump());
    ASSERT_EQ(set.status, 200) << set.body;
    auto token = post("/api/v1/tokens", {{"user", user}, {"description", "matrix"}});
    ASSERT_EQ(token.status, 201) << token.body;
    tokens_[user] = json::parse(token.body)["token"];
  }
  HttpResult as(const std::string& user, const std::string& method, const std::string& path,
                const std::string& body = "") {
    const std::string type =
        method == "PATCH" ? "application/merge-patch+json" : std::string("application/json");
    return httpRequest(server_.url(), method, path, body, type,
                       {{"Authorization", "Bearer " + tokens_.at(user)}});
  }

  TempDir dir_;
  ServerProcess server_{dir_.path()};
  std::map<std::string, std::string> tokens_;
};

// One request of the matrix. `tenant_path` holds "{t}" where the tenant goes; `allowed` are
// the roles (as their users) allowed it in their own tenant, acme. In the other tenant, beta,
// and for platform paths (no "{t}"), only padmin is.
struct Endpoint {
  std::string method;
  std::string path;
  std::string body;
  std::set<std::string> allowed;
};

const std::set<std::string> kAdmins = {"padmin", "tadmin"};
const std::set<std::string> kWriters = {"padmin", "tadmin", "dev"};
const std::set<std::string> kReaders = {"padmin", "tadmin", "dev", "view"};
const std::set<std::string> kPlatform = {"padmin"};

std::vector<Endpoint> endpoints() {
  const std::string new_app = R"({"metadata":{"name":"new"},"spec":{"components":[{"name":"web",
      "run":{"command":"skiff-example"}}]}})";
  const std::string binding =
      R"({"metadata":{"name":"b"},"spec":{"role":"viewer","subjects":[{"kind":"User","name":"x"}]}})";
  const std::string instance =
      R"({"metadata":{"name":"i"},"spec":{"application":"shop","component":"web","revision":1,"node":"elsewhere"}})";
  const std::string config = R"({"metadata":{"name":"c"},"spec":{"data":{"k":"v"}}})";
  const std::string secret = R"({"metadata":{"name":"s"},"spec":{"data":{"k":"v"}}})";
  return {
      {"GET", "/api/v1/tenants/{t}", "", kReaders},
      {"PATCH", "/api/v1/tenants/{t}?dryRun=true", R"({"spec":{"displayName":"x"}})", kPlatform},
      {"GET", "/api/v1/tenants/{t}/applications", "", kReaders},
      {"GET", "/api/v1/tenants/{t}/applications/shop", "", kReaders},
      {"POST", "/api/v1/tenants/{t}/applications?dryRun=true", new_app, kWriters},
      {"PATCH", "/api/v1/tenants/{t}/applications/shop?dryRun=true",
       R"({"metadata":{"labels":{"x":"y"}}})", kWriters},
      {"DELETE", "/api/v1/tenants/{t}/applications/ghost", "", kWriters},
      {"PUT", "/api/v1/tenants/{t}/applications/shop/status", R"({"status":{"note":"x"}})",
       kAdmins},
      {"GET", "/api/v1/tenants/{t}/applications/shop/logs", "", kReaders},
      {"GET", "/api/v1/tenants/{t}/revisions", "", kReaders},
      {"GET", "/api/v1/tenants/{t}/instances", "", kReaders},
      {"POST", "/api/v1/tenants/{t}/instances?dryRun=true", instance, kAdmins},
      {"DELETE", "/api/v1/tenants/{t}/instances/ghost", "", kAdmins},
      {"GET", "/api/v1/tenants/{t}/instances/ghost/log", "", kReaders},
      {"GET", "/api/v1/tenants/{t}/rolebindings", "", {"padmin", "tadmin", "view"}},
      {"POST", "/api/v1/tenants/{t}/rolebindings?dryRun=true", binding, kAdmins},
      {"GET", "/api/v1/tenants/{t}/configs", "", kReaders},
      {"POST", "/api/v1/tenants/{t}/configs?dryRun=true", config, kWriters},
      {"GET", "/api/v1/tenants/{t}/secrets", "", kWriters},
      {"GET", "/api/v1/tenants/{t}/secrets/ghost", "", kWriters},
      {"POST", "/api/v1/tenants/{t}/secrets?dryRun=true", secret, kWriters},
      {"GET", "/api/v1/audit?tenant={t}", "", kAdmins},
      {"GET", "/api/v1/users", "", kPlatform},
      {"POST", "/api/v1/users?dryRun=true", R"({"metadata":{"name":"zed"}})", kPlatform},
      {"DELETE", "/api/v1/users/ghost", "", kPlatform},
      {"GET", "/api/v1/roles", "", kPlatform},
      {"GET", "/api/v1/platformrolebindings", "", kPlatform},
      {"POST", "/api/v1/tenants?dryRun=true", R"({"metadata":{"name":"gamma"}})", kPlatform},
      {"DELETE", "/api/v1/tenants/ghost", "", kPlatform},
      {"GET", "/api/v1/audit", "", kPlatform},
      {"GET", "/api/v1/audit/verify", "", kPlatform},
      {"POST", "/api/v1/admin/rotate-key", "", kPlatform},
  };
}

TEST_F(SecurityTest, EveryEndpointAllowsExactlyTheRolesThatHoldItsPermission) {
  const std::vector<std::string> users = {"padmin", "tadmin", "dev", "view", "nobody"};
  int checked = 0;
  for (const Endpoint& e : endpoints()) {
    const bool in_tenant = e.path.find("{t}") != std::string::npos;
    for (const std::string tenant : {"acme", "beta"}) {
      if (!in_tenant && tenant == "beta") continue;
      std::string path = e.path;
      while (path.find("{t}") != std::string::npos) path.replace(path.find("{t}"), 3, tenant);
      for (const std::string& user : users) {
        const bool allowed = tenant == "acme" ? e.allowed.count(user) > 0 : user == "padmin";
        HttpResult r = as(user, e.method, path, e.body);
        const std::string what = user + " " + e.method + " " + path + " -> " +
                                 std::to_string(r.status) + " " + r.body.substr(0, 200);
        ++checked;
        if (allowed) {
          EXPECT_NE(r.status, 403) << what;
          EXPECT_NE(r.status, 401) << what;
          EXPECT_LT(r.status, 500) << what;
        } else {
          EXPECT_EQ(r.status, 403) << what;
          EXPECT_NE(r.body.find("user \\\"" + user + "\\\" cannot"), std::string::npos) << what;
        }
      }
    }
  }
  EXPECT_GT(checked, 200);
}

TEST_F(SecurityTest, ListsAcrossTenantsShowOnlyWhatTheCallerMaySee) {
  auto tenantsOf = [&](const std::string& user, const std::string& path, const char* field) {
    HttpResult r = as(user, "GET", path);
    EXPECT_EQ(r.status, 200) << user << " " << path << ": " << r.body;
    std::set<std::string> seen;
    const json list = json::parse(r.body);
    for (const auto& item : list["items"]) seen.insert(item["metadata"][field].get<std::string>());
    return seen;
  };
  EXPECT_EQ(tenantsOf("padmin", "/api/v1/applications", "tenant"),
            (std::set<std::string>{"acme", "beta"}));
  EXPECT_EQ(tenantsOf("padmin", "/api/v1/tenants", "name"),
            (std::set<std::string>{"acme", "beta", "default"}));
  for (const char* user : {"tadmin", "dev", "view"}) {
    EXPECT_EQ(tenantsOf(user, "/api/v1/applications", "tenant"), std::set<std::string>{"acme"});
    EXPECT_EQ(tenantsOf(user, "/api/v1/tenants", "name"), std::set<std::string>{"acme"});
  }
  EXPECT_EQ(as("nobody", "GET", "/api/v1/applications").status, 403);
  EXPECT_EQ(as("nobody", "GET", "/api/v1/tenants").status, 403);
  // A watch across tenants delivers only the visible tenants' events.
  rememberToken(server_.url(), tokens_.at("view"));
  WatchStream viewer(server_.url(), "/api/v1/applications?watch=true");
  rememberToken(server_.url(), server_.adminToken());
  ASSERT_EQ(viewer.status(), 200);
  for (const char* tenant : {"beta", "acme"})
    ASSERT_EQ(post(std::string("/api/v1/tenants/") + tenant + "/applications", app("later")).status,
              201);
  std::set<std::string> seen;
  std::set<std::string> names;
  while (auto line = viewer.next(std::chrono::seconds(1))) {
    json event = json::parse(*line);
    if (event["type"] == "BOOKMARK") continue;
    seen.insert(event["object"]["metadata"]["tenant"]);
    names.insert(event["object"]["metadata"]["name"]);
  }
  EXPECT_EQ(seen, std::set<std::string>{"acme"});
  EXPECT_EQ(names, (std::set<std::string>{"shop", "later"}));
}

TEST_F(SecurityTest, NoSecretReachesTheDatabaseTheAuditTrailOrTheLog) {
  // A token the server handed out and the password set above, in every file it wrote.
  const std::string token = tokens_.at("dev");
  ASSERT_EQ(as("dev", "GET", "/api/v1/tenants/acme/applications").status, 200);
  ASSERT_EQ(httpRequest(server_.url(), "POST", "/api/v1/login",
                        json{{"user", "dev"}, {"password", kPassword}}.dump())
                .status,
            200);
  ASSERT_EQ(httpRequest(server_.url(), "POST", "/api/v1/login",
                        json{{"user", "dev"}, {"password", std::string(kPassword) + "x"}}.dump())
                .status,
            401);
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(server_.dataDir())) {
    if (!entry.is_regular_file() || entry.path().filename() == "admin-password") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    ++files;
    EXPECT_EQ(content.str().find(kPassword), std::string::npos) << entry.path();
    EXPECT_EQ(content.str().find(token.substr(21)), std::string::npos) << entry.path();
  }
  EXPECT_GT(files, 3);
}

TEST_F(SecurityTest, LockoutExpiryAndRevocationTakeEffectAtTheNextRequest) {
  auto login = [&](const std::string& password) {
    return httpRequest(server_.url(), "POST", "/api/v1/login",
                       json{{"user", "view"}, {"password", password}}.dump())
        .status;
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login("Wrong-Password-123"), 401);
  EXPECT_EQ(login(kPassword), 401) << "locked: even the right password is refused";

  // Revoked: the very next request is refused.
  ASSERT_EQ(as("dev", "GET", "/api/v1/whoami").status, 200);
  const std::string id = tokens_.at("dev").substr(4, 16);
  ASSERT_EQ(httpRequest(server_.url(), "DELETE", "/api/v1/tokens/" + id).status, 200);
  EXPECT_EQ(as("dev", "GET", "/api/v1/whoami").status, 401);

  // Expired: a one-second token stops working once its second is over.
  auto created = httpRequest(server_.url(), "POST", "/api/v1/tokens",
                             json{{"user", "tadmin"}, {"ttl", "1s"}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  tokens_["short"] = json::parse(created.body)["token"];
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  HttpResult expired = as("short", "GET", "/api/v1/whoami");
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
}

}  // namespace
}  // namespace skiff::test
