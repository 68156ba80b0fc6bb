// End-to-end tests of signing in with the `skiff` CLI: login, the saved session, whoami,
// logout, auth can-i, API tokens, passwords and the audit trail, the real binary against a real
// server. Every command runs with HOME and XDG_CONFIG_HOME in a temporary directory and
// without the harness's SKIFF_TOKEN, so the CLI's own credentials are what is tested.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr const char* kBobPassword = "Bob-Passw0rd-2026";

class CliAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    const std::string password = readFile(dir_.path() + "/admin-password");
    admin_password_ = password.substr(0, password.find('\n'));
    ASSERT_FALSE(admin_password_.empty()) << "no admin-password in the data directory";
  }

  // `skiff ARGS` as a person at their own machine: the config under `home` (default: the
  // test's), no SKIFF_TOKEN unless `extra` sets one.
  CommandResult skiff(const std::vector<std::string>& args, const std::string& stdin_data = "",
                      std::map<std::string, std::string> extra = {}, const std::string& home = "") {
    const std::string h = home.empty() ? home_.path() : home;
    std::map<std::string, std::string> env = {
        {"HOME", h}, {"XDG_CONFIG_HOME", h + "/xdg"}, {"SKIFF_TOKEN", ""}, {"SKIFF_CONFIG", ""}};
    for (auto& [k, v] : extra) env[k] = v;
    return runSkiff(args, server_.url(), stdin_data, env);
  }
  std::string configPath(const std::string& home = "") const {
    return (home.empty() ? home_.path() : home) + "/xdg/skiff/config.json";
  }
  void loginAsAdmin() {
    auto r = skiff({"login", "admin", "--password-stdin"}, admin_password_ + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Creates user bob (password kBobPassword) with the developer role in tenant acme, as admin.
  void createBob() {
    const std::string docs =
        "apiVersion: skiff.dev/v1\nkind: Tenant\nmetadata: {name: acme}\n---\n"
        "apiVersion: skiff.dev/v1\nkind: User\nmetadata: {name: bob}\nspec: {displayName: Bob}\n"
        "---\napiVersion: skiff.dev/v1\nkind: RoleBinding\n"
        "metadata: {name: acme-devs, tenant: acme}\n"
        "spec: {role: developer, subjects: [{kind: User, name: bob}]}\n";
    auto applied = skiff({"apply", "-f", "-"}, docs);
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    auto set =
        skiff({"user", "passwd", "bob", "--password-stdin"}, std::string(kBobPassword) + "\n");
    ASSERT_EQ(set.exit_code, 0) << set.err;
    EXPECT_EQ(set.out, "Password changed for bob\n");
  }

  TempDir dir_;
  TempDir home_;
  TempDir bob_home_;
  ServerProcess server_{dir_.path()};
  std::string admin_password_;
};

TEST_F(CliAuthTest, WithoutLoginCommandsSayToLogIn) {
  auto r = skiff({"get", "apps"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "error: not logged in to " + server_.url() + ": run skiff login"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "(server said: ")) << r.err;
}

TEST_F(CliAuthTest, LoginSavesAPrivateSessionThatLaterCommandsUse) {
  auto login = skiff({"login", "admin", "--password-stdin"}, admin_password_ + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_TRUE(contains(login.out, "Logged in to " + server_.url() + " as admin (session expires "))
      << login.out;
  EXPECT_EQ(modeOf(configPath()), 0600u);
  EXPECT_EQ(modeOf(home_.path() + "/xdg/skiff"), 0700u);
  const json config = json::parse(readFile(configPath()));
  EXPECT_EQ(config.value("server", ""), server_.url());
  EXPECT_EQ(config.value("token", "").rfind("skf_", 0), 0u) << config.dump();

  auto who = skiff({"whoami"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_TRUE(contains(who.out, "User:    admin\n")) << who.out;
  auto get = skiff({"get", "apps"});
  EXPECT_EQ(get.exit_code, 0) << get.err;

  // With no server named, the one logged in to is used.
  auto unnamed = skiff({"whoami", "-o", "json"}, "", {{"SKIFF_SERVER", ""}});
  ASSERT_EQ(unnamed.exit_code, 0) << unnamed.err;
  EXPECT_EQ(json::parse(unnamed.out).value("user", ""), "admin");
}

TEST_F(CliAuthTest, SavedSessionIsNotSentToAnotherServer) {
  loginAsAdmin();
  TempDir other_dir;
  ServerProcess other{other_dir.path()};
  other.start();
  auto r = runSkiff(
      {"get", "apps"}, other.url(), "",
      {{"HOME", home_.path()}, {"XDG_CONFIG_HOME", home_.path() + "/xdg"}, {"SKIFF_TOKEN", ""}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "not logged in to " + other.url())) << r.err;
}

TEST_F(CliAuthTest, WrongPasswordIsRefusedAndNothingIsSaved) {
  auto r = skiff({"login", "admin", "--password-stdin"}, "not-the-password\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "error: cannot log in to " + server_.url() + " as admin: ")) << r.err;
  EXPECT_EQ(modeOf(configPath()), 0u) << "a config was written";
}

TEST_F(CliAuthTest, PasswordFromAPipeNeedsPasswordStdin) {
  auto r = skiff({"login", "admin"}, admin_password_ + "\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "--password-stdin")) << r.err;
  auto no_user = skiff({"login", "--password-stdin"}, admin_password_ + "\n");
  EXPECT_EQ(no_user.exit_code, 1);
  EXPECT_TRUE(contains(no_user.err, "skiff login USER")) << no_user.err;
}

TEST_F(CliAuthTest, LogoutRevokesTheSessionAndForgetsIt) {
  loginAsAdmin();
  const std::string token = json::parse(readFile(configPath())).value("token", "");
  auto out = skiff({"logout"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "Logged out of " + server_.url() + "\n");
  EXPECT_FALSE(json::parse(readFile(configPath())).contains("token"));
  EXPECT_EQ(httpRequest(server_.url(), "GET", "/api/v1/whoami", "", "application/json",
                        {{"Authorization", "Bearer " + token}})
                .status,
            401);
  auto who = skiff({"whoami"});
  EXPECT_EQ(who.exit_code, 1);
  EXPECT_TRUE(contains(who.err, "not logged in")) << who.err;
  auto again = skiff({"logout"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "Not logged in to " + server_.url() + "\n");
}

TEST_F(CliAuthTest, CanIAndForbiddenAnswersNameThePermission) {
  loginAsAdmin();
  createBob();
  auto login = skiff({"login", "bob", "--password-stdin"}, std::string(kBobPassword) + "\n", {},
                     bob_home_.path());
  ASSERT_EQ(login.exit_code, 0) << login.err;
  auto bob = [&](const std::vector<std::string>& args) {
    return skiff(args, "", {}, bob_home_.path());
  };
  auto yes = bob({"auth", "can-i", "create", "apps", "-n", "acme"});
  EXPECT_EQ(yes.exit_code, 0) << yes.err;
  EXPECT_EQ(yes.out, "yes\n");
  auto no = bob({"auth", "can-i", "create", "applications", "-n", "default"});
  EXPECT_EQ(no.exit_code, 1) << no.err;
  EXPECT_EQ(no.out, "no - user \"bob\" cannot create applications in tenant \"default\"\n");
  auto bad_verb = bob({"auth", "can-i", "frobnicate", "apps"});
  EXPECT_EQ(bad_verb.exit_code, 2);
  EXPECT_TRUE(contains(bad_verb.err, "unknown verb \"frobnicate\"")) << bad_verb.err;

  auto forbidden = bob({"get", "apps", "-n", "default"});
  EXPECT_EQ(forbidden.exit_code, 1);
  EXPECT_TRUE(contains(forbidden.err, "cannot list applications in tenant \"default\""))
      << forbidden.err;
  auto allowed = bob({"get", "apps", "-n", "acme"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
}

TEST_F(CliAuthTest, OwnPasswordChangeNeedsTheCurrentOne) {
  loginAsAdmin();
  createBob();
  ASSERT_EQ(skiff({"login", "bob", "--password-stdin"}, std::string(kBobPassword) + "\n", {},
                  bob_home_.path())
                .exit_code,
            0);
  const std::string fresh = "Fresh-Passw0rd-42";
  auto wrong = skiff({"user", "passwd", "bob", "--password-stdin"},
                     "Wrong-Passw0rd-1\n" + fresh + "\n", {}, bob_home_.path());
  EXPECT_EQ(wrong.exit_code, 1);
  auto changed = skiff({"user", "passwd", "bob", "--password-stdin"},
                       std::string(kBobPassword) + "\n" + fresh + "\n", {}, bob_home_.path());
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  auto login = skiff({"login", "bob", "--password-stdin"}, fresh + "\n", {}, bob_home_.path());
  EXPECT_EQ(login.exit_code, 0) << login.err;
}

TEST_F(CliAuthTest, ApiTokensAreScopedListedAndRevoked) {
  loginAsAdmin();
  createBob();
  auto created = skiff({"token", "create", "--user", "bob", "--role", "viewer", "--tenant", "acme",
                        "--ttl", "24h", "--description", "ci deploys"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(token.rfind("skf_", 0), 0u) << created.out;
  EXPECT_EQ(created.out, token + "\n");  // nothing else on stdout
  EXPECT_TRUE(contains(created.err, "cannot be shown again")) << created.err;
  const std::string id = token.substr(4, 16);

  // SKIFF_TOKEN wins over the saved (admin) session.
  auto who = skiff({"whoami"}, "", {{"SKIFF_TOKEN", token}});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_TRUE(contains(who.out, "User:    bob\n")) << who.out;
  EXPECT_TRUE(contains(who.out, "Roles:   viewer\n")) << who.out;
  EXPECT_TRUE(contains(who.out, "Tenants: acme\n")) << who.out;
  auto scoped =
      skiff({"auth", "can-i", "create", "apps", "-n", "acme"}, "", {{"SKIFF_TOKEN", token}});
  EXPECT_EQ(scoped.exit_code, 1) << scoped.out << scoped.err;
  auto reads = skiff({"auth", "can-i", "list", "apps", "-n", "acme"}, "", {{"SKIFF_TOKEN", token}});
  EXPECT_EQ(reads.exit_code, 0) << reads.out << reads.err;

  auto listed = skiff({"token", "ls"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("ID ", 0), 0u) << listed.out;
  EXPECT_TRUE(contains(listed.out, "DESCRIPTION\n")) << listed.out;
  bool found = false;
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(id, 0) != 0) continue;
    found = true;
    EXPECT_TRUE(contains(line, "bob")) << line;
    EXPECT_TRUE(contains(line, "api")) << line;
    EXPECT_TRUE(contains(line, "viewer")) << line;
    EXPECT_TRUE(contains(line, "ci deploys")) << line;
  }
  EXPECT_TRUE(found) << listed.out;

  auto revoked = skiff({"token", "revoke", id});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_EQ(revoked.out, "token " + id + " revoked\n");
  auto after = skiff({"whoami"}, "", {{"SKIFF_TOKEN", token}});
  EXPECT_EQ(after.exit_code, 1);
  EXPECT_TRUE(contains(after.err, "the token in SKIFF_TOKEN was refused")) << after.err;

  auto bad_ttl = skiff({"token", "create", "--ttl", "30d"});
  EXPECT_EQ(bad_ttl.exit_code, 1);
  EXPECT_TRUE(contains(bad_ttl.err, "--ttl must be")) << bad_ttl.err;
}

TEST_F(CliAuthTest, AuditShowsRequestsAndVerifiesTheChain) {
  loginAsAdmin();
  createBob();
  auto table = skiff({"audit", "--since", "1h"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("TIME ", 0), 0u) << table.out;
  EXPECT_TRUE(contains(table.out, "users")) << table.out;  // bob's creation

  auto as_json = skiff({"audit", "--user", "admin", "--limit", "2", "-o", "json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  const json doc = json::parse(as_json.out);
  ASSERT_TRUE(doc["items"].is_array()) << as_json.out;
  EXPECT_LE(doc["items"].size(), 2u);
  for (const auto& e : doc["items"]) EXPECT_EQ(e.value("user", ""), "admin") << e.dump();

  auto verify = skiff({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out.rfind("audit trail intact: ", 0), 0u) << verify.out;

  auto bad = skiff({"audit", "--limit", "0"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "--limit must be 1 or more")) << bad.err;
}

}  // namespace
}  // namespace skiff::test
