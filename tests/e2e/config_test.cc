// End-to-end tests of Config and Secret: injected into real instances as variables and files,
// a change released as a new revision when the application follows its configuration, secrets
// sealed on disk and re-sealed by a key rotation, and bad input refused without echoing values.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kBase = "/api/v1/tenants/default";
// Distinctive, so that a search of every file cannot hit it by chance.
const std::string kPassword = "pw-7f3a9c2e-never-on-disk";

// Every regular file under `dir` that contains `needle`.
std::vector<std::string> filesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (readFile(entry.path().string()).find(needle) != std::string::npos)
      hits.push_back(entry.path().string());
  }
  return hits;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }

  HttpResult call(const std::string& method, const std::string& path, const json& body = nullptr) {
    const std::string type =
        method == "PATCH" ? "application/merge-patch+json" : std::string("application/json");
    return httpRequest(server_.url(), method, path, body.is_null() ? "" : body.dump(), type);
  }
  json get(const std::string& path) { return json::parse(call("GET", path).body); }
  // The application's merged logs.
  std::string logs(const std::string& app) {
    return call("GET", kBase + "/applications/" + app + "/logs").body;
  }

  TempDir dir_;
  ServerProcess server_{dir_.path()};
};

// Prints what the workload was given: the plain variable, the secret one reversed (so the
// plaintext never lands in its log), and the files.
json reporter(bool follow_config) {
  const std::string script =
      "echo \"greeting=$GREETING\"; echo \"reversed=$(printf %s \"$DB_PASSWORD\" | rev)\"; "
      "echo \"app.conf=$(cat \"$SKIFF_VOLUME_CONF/app.conf\")\"; "
      "echo \"file-reversed=$(rev < \"$SKIFF_VOLUME_CREDS/password\")\"; "
      "echo \"creds-dir=$SKIFF_VOLUME_CREDS\"; exec sleep 600";
  return {
      {"metadata", {{"name", "reporter"}}},
      {"spec",
       {{"rolloutOnConfigChange", follow_config},
        {"components",
         {{{"name", "main"},
           {"run", {{"command", "sh"}, {"args", {"-c", script}}}},
           {"env",
            {{{"name", "GREETING"},
              {"valueFrom", {{"config", {{"name", "app"}, {"key", "greeting"}}}}}},
             {{"name", "DB_PASSWORD"},
              {"valueFrom", {{"secret", {{"name", "db"}, {"key", "password"}}}}}}}},
           {"volumes",
            {{{"name", "conf"}, {"path", "/etc/app"}, {"source", {{"config", "app"}}}},
             {{"name", "creds"}, {"path", "/run/creds"}, {"source", {{"secret", "db"}}}}}}}}}}}};
}

std::string reversed(std::string s) { return {s.rbegin(), s.rend()}; }

TEST_F(ConfigTest, InstancesGetConfigAndSecretsAsVariablesAndFilesAndSecretsStaySealed) {
  // The application comes first: its instance waits, naming what is missing.
  ASSERT_EQ(call("POST", kBase + "/applications", reporter(true)).status, 201);
  auto ready_message = [&] {
    const json instances = get(kBase + "/instances");
    for (const auto& i : instances["items"])
      for (const auto& c : i["status"].value("conditions", json::array()))
        if (c.value("type", "") == "Ready") return c.value("message", std::string());
    return std::string();
  };
  ASSERT_TRUE(eventually([&] {
    return ready_message().find("config \"app\" does not exist in tenant \"default\"") !=
           std::string::npos;
  })) << ready_message();

  ASSERT_EQ(call("POST", kBase + "/configs",
                 {{"metadata", {{"name", "app"}}},
                  {"spec", {{"data", {{"greeting", "hello"}, {"app.conf", "mode=fast"}}}}}})
                .status,
            201);
  HttpResult created =
      call("POST", kBase + "/secrets",
           {{"metadata", {{"name", "db"}}}, {"spec", {{"data", {{"password", kPassword}}}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["spec"]["data"]["password"], kPassword)
      << "an allowed reader sees the value";

  // The script's last line: the others (some printed by the output of cat and rev, which take
  // their time to start on a busy machine) come before it.
  ASSERT_TRUE(eventually([&] { return logs("reporter").find("creds-dir=") != std::string::npos; },
                         std::chrono::seconds(20)))
      << logs("reporter");
  std::string out = logs("reporter");
  EXPECT_NE(out.find("greeting=hello"), std::string::npos) << out;
  EXPECT_NE(out.find("reversed=" + reversed(kPassword)), std::string::npos) << out;
  EXPECT_NE(out.find("app.conf=mode=fast"), std::string::npos) << out;
  EXPECT_NE(out.find("file-reversed=" + reversed(kPassword)), std::string::npos) << out;
  // The secret file is on tmpfs, readable by its owner only.
  const size_t at = out.find("creds-dir=");
  ASSERT_NE(at, std::string::npos);
  const std::string creds_dir = out.substr(at + 10, out.find('\n', at) - at - 10);
  EXPECT_EQ(creds_dir.rfind("/dev/shm/", 0), 0u) << creds_dir;
  struct stat st {};
  ASSERT_EQ(::stat((creds_dir + "/password").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);

  // Nothing the server wrote holds the plaintext: database, audit trail, runtime state, logs.
  EXPECT_EQ(filesContaining(server_.dataDir(), kPassword), std::vector<std::string>{});
  EXPECT_EQ(readFile(server_.logPath()).find(kPassword), std::string::npos);

  // Following its configuration, the application got a revision as each appeared, and gets
  // one when the config changes; its new instance sees the new value.
  auto latest = [&] {
    return get(kBase + "/applications/reporter")["status"].value("latestRevision", 0);
  };
  auto revisionOf = [&](int n) { return get(kBase + "/revisions/reporter-" + std::to_string(n)); };
  ASSERT_TRUE(eventually([&] {
    const json versions = revisionOf(latest())["spec"].value("configVersions", json::object());
    return versions.value("config/app", 0) > 0 && versions.value("secret/db", 0) > 0;
  }));
  const int before = latest();
  ASSERT_EQ(call("PATCH", kBase + "/configs/app", {{"spec", {{"data", {{"greeting", "bonjour"}}}}}})
                .status,
            200);
  ASSERT_TRUE(eventually([&] { return latest() == before + 1; })) << latest();
  const json revision = revisionOf(before + 1);
  EXPECT_NE(revision["metadata"]["annotations"]
                .value("skiff.dev/change-cause", "")
                .find("configuration changed: config/app"),
            std::string::npos)
      << revision.dump();
  EXPECT_TRUE(revision["spec"]["configVersions"].contains("secret/db")) << revision.dump();
  ASSERT_TRUE(
      eventually([&] { return logs("reporter").find("greeting=bonjour") != std::string::npos; },
                 std::chrono::seconds(20)))
      << logs("reporter");

  // Deleting the application removes its secret files from tmpfs.
  ASSERT_EQ(call("DELETE", kBase + "/applications/reporter").status, 200);
  EXPECT_TRUE(
      eventually([&] { return !std::filesystem::exists(creds_dir); }, std::chrono::seconds(20)))
      << creds_dir;
}

TEST_F(ConfigTest, KeyRotationResealsEverySecretAndForgetsTheOldKey) {
  ASSERT_EQ(call("POST", kBase + "/secrets",
                 {{"metadata", {{"name", "db"}}}, {"spec", {{"data", {{"password", kPassword}}}}}})
                .status,
            201);
  const std::string key_file = server_.dataDir() + "/secrets.key";
  struct stat st {};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string old_key = json::parse(readFile(key_file))["primary"];
  const std::string db = server_.dataDir() + "/skiff.db";
  EXPECT_FALSE(filesContaining(server_.dataDir(), "$" + old_key + "$").empty())
      << "secrets are sealed under the key, which the sealed text names";

  CommandResult rotated = runSkiff({"admin", "rotate-key"}, server_.url());
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  const json keys = json::parse(readFile(key_file));
  const std::string new_key = keys["primary"];
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(keys["keys"].size(), 1u) << keys.dump();
  EXPECT_NE(rotated.out.find(new_key), std::string::npos) << rotated.out;
  // No row is sealed under the retired key any more, in the database file or its journal.
  EXPECT_EQ(filesContaining(server_.dataDir(), "$" + old_key + "$"), std::vector<std::string>{});
  EXPECT_EQ(filesContaining(server_.dataDir(), kPassword), std::vector<std::string>{});

  // A restarted server opens the re-sealed secret with the new key.
  ASSERT_EQ(server_.stop(), 0);
  server_.start();
  EXPECT_EQ(get(kBase + "/secrets/db")["spec"]["data"]["password"], kPassword);
}

TEST_F(ConfigTest, BadConfigurationIsRefusedByFieldWithoutEchoingValues) {
  HttpResult bad_key = call("POST", kBase + "/configs",
                            {{"metadata", {{"name", "c"}}}, {"spec", {{"data", {{"a/b", "x"}}}}}});
  EXPECT_EQ(bad_key.status, 422);
  EXPECT_NE(bad_key.body.find("spec.data[\\\"a/b\\\"]"), std::string::npos) << bad_key.body;

  HttpResult not_text =
      call("POST", kBase + "/secrets",
           {{"metadata", {{"name", "s"}}}, {"spec", {{"data", {{"n", 271828}}}}}});
  EXPECT_EQ(not_text.status, 422);
  EXPECT_NE(not_text.body.find("spec.data.n"), std::string::npos) << not_text.body;
  EXPECT_EQ(not_text.body.find("271828"), std::string::npos) << not_text.body;

  HttpResult tls = call("POST", kBase + "/secrets",
                        {{"metadata", {{"name", "t"}}},
                         {"spec", {{"type", "tls"}, {"data", {{"tls.key", kPassword}}}}}});
  EXPECT_EQ(tls.status, 422);
  EXPECT_NE(tls.body.find("spec.data[\\\"tls.crt\\\"]"), std::string::npos) << tls.body;
  EXPECT_NE(tls.body.find("is required for type tls"), std::string::npos) << tls.body;
  EXPECT_EQ(tls.body.find(kPassword), std::string::npos) << tls.body;
  EXPECT_EQ(call("GET", kBase + "/secrets/s").status, 404) << "a refused create stores nothing";
}

}  // namespace
}  // namespace skiff::test
