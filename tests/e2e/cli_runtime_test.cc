// End-to-end tests of the CLI's runtime commands (scale, rollout status/undo/pause/resume)
// against the real server running the example service: each rollout the CLI reports complete
// is checked against the instances the server runs and the answers its gateway gives.
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/default/applications";
const std::string kInstances = "/api/v1/tenants/default/instances";

json app(int replicas, const std::string& version, const std::string& command = "skiff-example") {
  return {
      {"apiVersion", "skiff.dev/v1"},
      {"kind", "Application"},
      {"metadata", {{"name", "demo"}}},
      {"spec",
       {{"components",
         {{{"name", "web"},
           {"run", {{"command", command}, {"args", {"--name", "web", "--version-label", version}}}},
           {"replicas", replicas},
           {"ports", {{{"name", "http"}, {"port", 8080}}}},
           {"health",
            {{"readiness",
              {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}}}}},
           {"rollout", {{"maxSurge", 1}, {"maxUnavailable", 0}}},
           {"terminationGracePeriodSeconds", 5},
           {"routes", {{{"host", "demo.localhost"}, {"port", "http"}}}}}}}}}};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class CliRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    ASSERT_TRUE(eventually([&] { return !server_.gatewayUrl().empty(); }));
  }
  CommandResult skiff(const std::vector<std::string>& args) {
    return runSkiff(args, server_.url());
  }
  // `skiff apply` of `doc` from a file, as a user would.
  void apply(const json& doc) {
    const std::string path = files_.path() + "/demo.json";
    std::ofstream(path) << doc.dump();
    auto r = skiff({"apply", "-f", path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void rolloutCompletes() {
    auto r = skiff({"rollout", "status", "demo", "--timeout", "30s"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "complete")) << r.out;
  }
  json get(const std::string& path) {
    return json::parse(httpRequest(server_.url(), "GET", path).body, nullptr, false);
  }
  // Instances not being retired.
  std::set<std::string> liveInstances() {
    std::set<std::string> names;
    for (const auto& i : get(kInstances).value("items", json::array()))
      if (!i["spec"].value("terminating", false)) names.insert(i["metadata"]["name"]);
    return names;
  }
  std::string servedVersion() {
    auto r = httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                         {{"Host", "demo.localhost"}});
    if (r.status != 200) return "";
    return json::parse(r.body, nullptr, false).value("version", "");
  }
  // The gateway's routes follow readiness a moment later than the application's status.
  bool servesOnly(const std::string& version) {
    return eventually(
        [&] {
          for (int i = 0; i < 10; ++i)
            if (servedVersion() != version) return false;
          return true;
        },
        std::chrono::seconds(10));
  }

  TempDir dir_;
  TempDir files_;
  ServerProcess server_{dir_.path()};
};

TEST_F(CliRuntimeTest, ScaleUpdateAndUndoAreFollowedToCompletion) {
  apply(app(1, "v1"));
  rolloutCompletes();
  ASSERT_TRUE(servesOnly("v1"));

  auto scaled = skiff({"scale", "demo/web=3"});
  ASSERT_EQ(scaled.exit_code, 0) << scaled.err;
  EXPECT_EQ(scaled.out, "application.skiff.dev/demo scaled (web: 1 → 3)\n");
  rolloutCompletes();
  EXPECT_EQ(liveInstances().size(), 3u);

  auto unknown = skiff({"scale", "demo/api=2"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "no component \"api\" (it has web)")) << unknown.err;

  apply(app(3, "v2"));
  auto followed = skiff({"rollout", "status", "demo", "--timeout", "30s"});
  ASSERT_EQ(followed.exit_code, 0) << followed.out << followed.err;
  EXPECT_TRUE(contains(followed.out, "rollout of revision 3 complete\n")) << followed.out;
  ASSERT_TRUE(servesOnly("v2"));

  auto undone = skiff({"rollout", "undo", "demo"});
  ASSERT_EQ(undone.exit_code, 0) << undone.err;
  EXPECT_EQ(undone.out, "application.skiff.dev/demo rolled back to revision 2\n");
  rolloutCompletes();
  ASSERT_TRUE(servesOnly("v1"));
  EXPECT_EQ(liveInstances().size(), 3u);

  auto history = skiff({"rollout", "history", "demo"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_TRUE(contains(history.out, "\n4 ")) << history.out;
  EXPECT_TRUE(contains(history.out, "rollback to revision 2")) << history.out;
  EXPECT_TRUE(contains(history.out, "scale web: 1 → 3")) << history.out;

  auto missing = skiff({"rollout", "undo", "demo", "--to-revision", "9"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "has no revision 9 (it has 1, 2, 3, 4)")) << missing.err;
}

TEST_F(CliRuntimeTest, CrashLoopAndPauseEndRolloutStatusWithAnError) {
  apply(app(1, "v1"));
  rolloutCompletes();

  apply(app(1, "v2", "/bin/false"));
  auto broken = skiff({"rollout", "status", "demo", "--timeout", "20s"});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_TRUE(contains(broken.err, "CrashLoopBackOff")) << broken.out << broken.err;
  EXPECT_TRUE(contains(broken.err, "demo-web-2-")) << "names the instance: " << broken.err;

  ASSERT_EQ(skiff({"rollout", "undo", "demo"}).exit_code, 0);
  rolloutCompletes();
  ASSERT_TRUE(servesOnly("v1"));

  auto paused = skiff({"rollout", "pause", "demo"});
  ASSERT_EQ(paused.exit_code, 0) << paused.err;
  EXPECT_EQ(paused.out, "application.skiff.dev/demo paused\n");
  const std::set<std::string> before = liveInstances();
  apply(app(1, "v3"));  // the file knows nothing of the pause: apply keeps it
  // Once the controller has seen revision 4 and held it, nothing may have been started.
  ASSERT_TRUE(eventually([&] {
    const json status = get(kApps + "/demo")["status"];
    if (status.value("latestRevision", 0) != 4) return false;
    for (const auto& c : status.value("conditions", json::array()))
      if (c.value("type", "") == "Progressing") return c.value("reason", "") == "RolloutPaused";
    return false;
  }));
  auto held = skiff({"rollout", "status", "demo"});
  EXPECT_EQ(held.exit_code, 1);
  EXPECT_TRUE(contains(held.err, "paused")) << held.err;
  EXPECT_EQ(liveInstances(), before);
  EXPECT_TRUE(servesOnly("v1"));

  auto resumed = skiff({"rollout", "resume", "demo"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out, "application.skiff.dev/demo resumed\n");
  rolloutCompletes();
  ASSERT_TRUE(servesOnly("v3"));
  EXPECT_FALSE(get(kApps + "/demo")["metadata"]
                   .value("annotations", json::object())
                   .contains("skiff.dev/paused"));
}

TEST_F(CliRuntimeTest, ExecRunsInAProcessInstancesEnvironment) {
  apply(app(1, "v1"));
  rolloutCompletes();
  auto shown = skiff({"exec", "demo/web", "--", "sh", "-c", "echo $SKIFF_COMPONENT $PORT; pwd"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const std::string instance = *liveInstances().begin();
  const json status = get(kInstances + "/" + instance)["status"];
  EXPECT_EQ(shown.out, "web " + std::to_string(status["ports"].value("http", 0)) + "\n/\n");
  auto failed = skiff({"exec", "demo/web/" + instance, "--", "sh", "-c", "echo oops >&2; exit 3"});
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.err, "oops\n");
  auto input = runSkiff({"exec", "-i", "demo/web", "--", "wc", "-c"}, server_.url(), "12345");
  ASSERT_EQ(input.exit_code, 0) << input.err;
  EXPECT_EQ(input.out.substr(input.out.find_first_not_of(' ')), "5\n") << "stdin reached it";
  auto missing = skiff({"exec", "demo/nothing", "--", "true"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "has no ready instance")) << missing.err;
}

}  // namespace
}  // namespace skiff::test
