// End-to-end tests of canary releases on the embedded runtime: the real server runs the example
// service under shims, the gateway splits traffic between the stable and canary sets, and a
// load generator in its own process (release_load.py) counts every answer by version.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/registry.h"
#include "e2e/server_test.h"
#include "image/digest.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/default/applications";
const std::string kInstances = "/api/v1/tenants/default/instances";

json app(const std::string& version, const json& rollout, int error_percent = 0,
         const json& extra_routes = json::array()) {
  json routes = {{{"host", "demo.localhost"}, {"port", "http"}}};
  for (const auto& r : extra_routes) routes.push_back(r);
  json args = {"--name", "web", "--version-label", version};
  if (error_percent > 0)
    args.insert(args.end(), {"--error-percent", std::to_string(error_percent)});
  return {{"metadata", {{"name", "demo"}}},
          {"spec",
           {{"components",
             {{{"name", "web"},
               {"run", {{"command", "skiff-example"}, {"args", args}}},
               {"replicas", 4},
               {"ports", {{{"name", "http"}, {"port", 8080}}}},
               {"health",
                {{"readiness",
                  {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}}}}},
               {"rollout", rollout},
               {"terminationGracePeriodSeconds", 5},
               {"routes", routes}}}}}}};
}

// The load generator, in its own process; its summary is read once it has stopped.
class Load {
 public:
  Load(const ServerProcess& server, const std::string& dir, int requests = 0)
      : out_(dir + "/load-" + std::to_string(counter_++) + ".json") {
    const std::string gateway = server.gatewayUrl();
    const std::string port = gateway.substr(gateway.rfind(':') + 1);
    std::vector<std::string> args = {"python3",    sourceDir() + "/tests/e2e/release_load.py",
                                     "--port",     port,
                                     "--host",     "demo.localhost",
                                     "--out",      out_,
                                     "--requests", std::to_string(requests)};
    process_.start(args, out_ + ".log");
    EXPECT_TRUE(eventually([&] { return ::access((out_ + ".started").c_str(), F_OK) == 0; }))
        << "the load generator did not start: " << readFile(out_ + ".log");
  }
  // Stops it (unless it stopped by itself) and returns its summary.
  json finish(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    if (!process_.wait(std::chrono::milliseconds(0))) {
      ::kill(process_.pid(), SIGTERM);
    }
    if (!process_.wait(timeout)) return json();
    return json::parse(readFile(out_), nullptr, false);
  }
  json waitDone(std::chrono::seconds timeout) {
    if (!process_.wait(timeout)) return json();
    return json::parse(readFile(out_), nullptr, false);
  }

 private:
  static inline int counter_ = 0;
  std::string out_;
  ChildProcess process_;
};

class ReleaseTest : public ServerTest {
 protected:
  json status() { return get(kApps + "/demo").value("status", json::object()); }
  // Until the release of web waits for `skiff rollout promote`.
  bool waitAtGate() {
    return eventually(
        [&] {
          return release()
                     .value("web", json::object())
                     .value("message", "")
                     .find("waiting for `skiff rollout promote`") != std::string::npos;
        },
        std::chrono::seconds(30));
  }
  json release() {
    return status().value("release", json::object()).value("components", json::object());
  }
  bool ready() {
    for (const auto& c : status().value("conditions", json::array()))
      if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
    return false;
  }
  // Instances of the canary set that are still there (stopping ones included).
  size_t canaryInstances() {
    size_t n = 0;
    for (const auto& i : get(kInstances).value("items", json::array()))
      n += i["metadata"].value("labels", json::object()).value("skiff.dev/track", "") == "canary";
    return n;
  }
  void deployStable(const json& rollout = {{"strategy", "canary"}}) {
    apply(app("v1", rollout));
    ASSERT_TRUE(eventually([&] { return ready() && status().value("stableRevision", 0) == 1; },
                           std::chrono::seconds(30)))
        << status().dump();
  }

  // Versions answering `requests` sequential requests for `host`.
  std::map<std::string, int> versions(const std::string& host, int requests = 40,
                                      const std::string& path = "/",
                                      std::map<std::string, std::string> headers = {}) {
    std::map<std::string, int> seen;
    headers["Host"] = host;
    for (int i = 0; i < requests; ++i) {
      auto r = httpRequest(server_.gatewayUrl(), "GET", path, "", "application/json", headers);
      json body = json::parse(r.body, nullptr, false);
      ++seen[r.status == 200 && body.is_object() ? body.value("version", "?")
                                                 : std::to_string(r.status)];
    }
    return seen;
  }
  std::set<std::string> instanceNames() {
    std::set<std::string> names;
    for (const auto& i : get(kInstances).value("items", json::array()))
      names.insert(i["metadata"].value("name", ""));
    return names;
  }
};

TEST_F(ReleaseTest, BlueGreenPreviewsSwitchesAndUndoesAtOnceWithoutFailedRequests) {
  const json rollout = {{"strategy", "bluegreen"},
                        {"autoPromote", false},
                        {"preview", {{"host", "preview.demo.localhost"}}},
                        {"keepWarm", "10m"}};
  deployStable(rollout);
  apply(app("v2", rollout));
  ASSERT_TRUE(waitAtGate()) << status().dump();
  using Seen = std::map<std::string, int>;
  EXPECT_EQ(canaryInstances(), 4u) << "the new set comes up at full size";
  EXPECT_EQ(versions("demo.localhost"), (Seen{{"v1", 40}})) << "no traffic before the switch";
  ASSERT_TRUE(eventually([&] { return versions("preview.demo.localhost", 1) == Seen{{"v2", 1}}; }));
  EXPECT_EQ(versions("preview.demo.localhost"), (Seen{{"v2", 40}})) << "the preview host";

  Load load(server_, dir_.path());
  auto promoted = runSkiff({"rollout", "promote", "demo"}, server_.url());
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
  ASSERT_TRUE(eventually(
      [&] {
        return versions("demo.localhost", 20) == Seen{{"v2", 20}};
      },
      std::chrono::seconds(30)));
  ASSERT_TRUE(eventually([&] { return ready(); }, std::chrono::seconds(30))) << status().dump();
  EXPECT_EQ(status().value("stableRevision", 0), 2);
  EXPECT_TRUE(eventually([&] { return versions("preview.demo.localhost", 1).count("404") == 1; }))
      << "the preview is gone: " << json(versions("preview.demo.localhost", 1)).dump();
  const std::set<std::string> after_switch = instanceNames();
  EXPECT_EQ(after_switch.size(), 8u) << "the replaced set stays warm";

  // Undo: the warm set takes the traffic back at once, and nothing new starts.
  const auto undo_started = std::chrono::steady_clock::now();
  auto undone = runSkiff({"rollout", "undo", "demo"}, server_.url());
  ASSERT_EQ(undone.exit_code, 0) << undone.err;
  ASSERT_TRUE(eventually(
      [&] {
        return versions("demo.localhost", 10) == Seen{{"v1", 10}};
      },
      std::chrono::seconds(10)));
  const auto undo_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - undo_started)
                           .count();
  std::printf("undo: every answer from v1 %lld ms after `skiff rollout undo` started\n",
              static_cast<long long>(undo_ms));
  EXPECT_EQ(instanceNames(), after_switch) << "undo started no instance";
  json summary = load.finish();
  ASSERT_TRUE(summary.is_object());
  EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump();
  EXPECT_GT(summary["byVersion"].value("v1", 0), 0);
  EXPECT_GT(summary["byVersion"].value("v2", 0), 0);
  ASSERT_TRUE(eventually([&] { return ready(); }, std::chrono::seconds(30))) << status().dump();
  EXPECT_EQ(status().value("stableRevision", 0), 3);
}

TEST_F(ReleaseTest, HealthyCanarySplitsByWeightAndGoesToAllTrafficWithoutFailedRequests) {
  deployStable();
  Load load(server_, dir_.path());
  // One step at 25%, then held for a person. A/B routes pin a cookie and a query parameter to
  // the new revision and a header to the old one.
  auto pinned = [](const json& match, int revision) {
    return json{
        {"host", "demo.localhost"}, {"port", "http"}, {"match", match}, {"revision", revision}};
  };
  apply(app("v2", {{"strategy", "canary"}, {"steps", {{{"weight", 25}}}}, {"autoPromote", false}},
            0,
            {pinned({{"cookies", {{{"name", "beta"}, {"value", "1"}}}}}, 2),
             pinned({{"query", {{{"name", "variant"}, {"value", "new"}}}}}, 2),
             pinned({{"headers", {{{"name", "x-ab"}, {"value", "stable"}}}}}, 1)}));
  ASSERT_TRUE(waitAtGate()) << status().dump();
  EXPECT_EQ(canaryInstances(), 1u) << "25% of 4 replicas";
  using Seen = std::map<std::string, int>;
  // The gateway hears of the canary instance a moment after the status says it is ready.
  ASSERT_TRUE(eventually([&] {
    return versions("demo.localhost", 1, "/", {{"Cookie", "beta=1"}}) == Seen{{"v2", 1}};
  }));
  EXPECT_EQ(versions("demo.localhost", 40, "/", {{"Cookie", "a=b; beta=1"}}), (Seen{{"v2", 40}}));
  EXPECT_EQ(versions("demo.localhost", 40, "/?x=1&variant=new"), (Seen{{"v2", 40}}));
  EXPECT_EQ(versions("demo.localhost", 40, "/", {{"x-ab", "stable"}}), (Seen{{"v1", 40}}));
  const Seen others = versions("demo.localhost", 40, "/", {{"Cookie", "beta=2"}});
  EXPECT_EQ(others.size(), 2u) << "no A/B match: the weights";

  // The split over 10,000 requests, measured by a second client.
  json split = Load(server_, dir_.path(), 10000).waitDone(std::chrono::seconds(120));
  ASSERT_TRUE(split.is_object());
  const double canary_share = split["byVersion"].value("v2", 0) / 10000.0;
  EXPECT_NEAR(canary_share, 0.25, 0.02) << split.dump();
  EXPECT_EQ(split.value("failed", -1), 0) << split.dump();

  auto promoted = runSkiff({"rollout", "promote", "demo"}, server_.url());
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
  ASSERT_TRUE(eventually([&] { return ready(); }, std::chrono::seconds(60))) << status().dump();
  EXPECT_EQ(status().value("stableRevision", 0), 2);
  EXPECT_FALSE(status().contains("release"));
  ASSERT_TRUE(eventually([&] { return canaryInstances() == 0; }, std::chrono::seconds(30)));

  json summary = load.finish();
  ASSERT_TRUE(summary.is_object());
  EXPECT_GT(summary.value("sent", 0), 100);
  EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump();
  EXPECT_GT(summary["byVersion"].value("v2", 0), 0);
  // The last answers come from v2 only.
  json last = Load(server_, dir_.path(), 50).waitDone(std::chrono::seconds(60));
  EXPECT_EQ(last["byVersion"], json({{"v2", 50}})) << last.dump();
}

TEST_F(ReleaseTest, ACanaryThatErrsIsAbortedAndLeavesNothingBehind) {
  deployStable();
  Load load(server_, dir_.path());
  // A long pause: only the analysis can end this step.
  apply(app("v2", {{"strategy", "canary"}, {"steps", {{{"weight", 50}, {"pause", "10m"}}}}},
            /*error_percent=*/5));
  ASSERT_TRUE(eventually([&] { return release().value("web", json::object()).contains("aborted"); },
                         std::chrono::seconds(60)))
      << status().dump();
  const json aborted = release()["web"]["aborted"];
  EXPECT_EQ(aborted.value("metric", ""), "errorRate") << aborted.dump();
  EXPECT_GT(aborted.value("value", 0.0), aborted.value("threshold", 1.0)) << aborted.dump();
  EXPECT_FALSE(aborted.value("at", "").empty());
  bool progressing_says_aborted = false;
  for (const auto& c : status().value("conditions", json::array()))
    progressing_says_aborted |=
        c.value("type", "") == "Progressing" && c.value("reason", "") == "RolloutAborted";
  EXPECT_TRUE(progressing_says_aborted) << status().dump();

  ASSERT_TRUE(eventually([&] { return canaryInstances() == 0; }, std::chrono::seconds(30)))
      << "an aborted release leaves no canary instance";
  json summary = load.finish();
  ASSERT_TRUE(summary.is_object());
  // From the first error the canary answered to the last answer of v2 (good or bad).
  const double first_error = summary.value("firstFailureAt", 0.0);
  const double last_v2 =
      std::max(summary["lastAt"].value("v2", 0.0), summary.value("lastFailureAt", 0.0));
  ASSERT_GT(first_error, 0) << summary.dump();
  EXPECT_LT(last_v2 - first_error, 30.0) << "abort within 30 s of the breach: " << summary.dump();
  std::printf("abort: %.1f s from the first error to the last v2 answer (%s)\n",
              last_v2 - first_error, summary.dump().c_str());

  // The stable revision serves everything; the application stays on it.
  json after = Load(server_, dir_.path(), 200).waitDone(std::chrono::seconds(60));
  EXPECT_EQ(after["byVersion"], json({{"v1", 200}})) << after.dump();
  EXPECT_EQ(status().value("stableRevision", 0), 1);
}

// Blue-green with an analysis: the new set is checked for an interval before the switch. A set
// that fails its HTTP checks never takes traffic; a healthy one switches by itself.
TEST_F(ReleaseTest, BlueGreenSwitchesOnlyAfterItsChecksPass) {
  const json rollout = {
      {"strategy", "bluegreen"},
      {"analysis", {{"interval", "2s"}, {"checks", {{{"path", "/"}, {"port", "http"}}}}}}};
  deployStable(rollout);
  apply(app("v2", rollout, /*error_percent=*/50));
  ASSERT_TRUE(eventually([&] { return release().value("web", json::object()).contains("aborted"); },
                         std::chrono::seconds(30)))
      << status().dump();
  const json aborted = release()["web"]["aborted"];
  EXPECT_EQ(aborted.value("metric", ""), "httpCheck") << aborted.dump();
  EXPECT_NE(aborted.value("message", "").find("answered 500, expected 200"), std::string::npos)
      << aborted.dump();
  using Seen = std::map<std::string, int>;
  EXPECT_EQ(versions("demo.localhost", 20), (Seen{{"v1", 20}}));

  apply(app("v3", rollout));
  ASSERT_TRUE(eventually([&] { return ready() && status().value("stableRevision", 0) == 3; },
                         std::chrono::seconds(30)))
      << status().dump();
  EXPECT_EQ(versions("demo.localhost", 20), (Seen{{"v3", 20}}));
}

// `skiff rollout abort` ends a release by hand, as a breach would, and `rollout status` says so.
TEST_F(ReleaseTest, AbortByHandSendsTrafficBackAndRolloutStatusFails) {
  deployStable();
  apply(app("v2", {{"strategy", "canary"}, {"steps", {{{"weight", 50}}}}, {"autoPromote", false}}));
  ASSERT_TRUE(waitAtGate()) << status().dump();
  auto aborted = runSkiff({"rollout", "abort", "demo"}, server_.url());
  ASSERT_EQ(aborted.exit_code, 0) << aborted.err;
  EXPECT_EQ(aborted.out, "application.skiff.dev/demo revision 2 aborted\n");
  ASSERT_TRUE(eventually([&] { return canaryInstances() == 0; }, std::chrono::seconds(30)));
  EXPECT_EQ(release()["web"]["aborted"].value("metric", ""), "manual") << status().dump();
  using Seen = std::map<std::string, int>;
  EXPECT_TRUE(eventually([&] { return versions("demo.localhost", 20) == Seen{{"v1", 20}}; }));
  auto followed = runSkiff({"rollout", "status", "demo", "--timeout", "5s"}, server_.url());
  EXPECT_EQ(followed.exit_code, 1);
  EXPECT_NE(followed.err.find("revision 2 was aborted"), std::string::npos) << followed.err;
}

// `skiff rollout plan` tells what a deploy would do and changes nothing.
TEST_F(ReleaseTest, PlanShowsTheDiffScheduleAnalysisAndQuotaAndChangesNothing) {
  deployStable();
  json next = app("v2", {{"strategy", "canary"},
                         {"steps", {{{"weight", 25}, {"pause", "30s"}}, {{"weight", 50}}}},
                         {"analysis", {{"maxErrorRate", 0.02}}}});
  next["kind"] = "Application";
  next["apiVersion"] = "skiff.dev/v1";
  const std::string file = dir_.path() + "/next.yaml";
  { std::ofstream(file) << next.dump(); }
  auto planned = runSkiff({"rollout", "plan", "-f", file}, server_.url());
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const std::string& out = planned.out;
  for (const char* expected :
       {"application demo: revision 1 -> 2", "-    - v1\n", "+    - v2\n",
        "component web: release (canary)",
        "step 1: 25% of traffic to 1 instance of the new revision, then a pause of 30s (+1 "
        "started)",
        "step 2: 50% of traffic to 2 instances of the new revision (+1 started)  [from 30s]",
        "promote: all traffic to the new revision (+2 started, 4 stopped)  [from 30s]",
        "error rate at most 2.00% over 30s (at least 20 requests)",
        "quota: the tenant's quota allows it"})
    EXPECT_NE(out.find(expected), std::string::npos) << "missing: " << expected << "\n" << out;
  EXPECT_EQ(status().value("latestRevision", 0), 1) << "a plan changes nothing";

  // Blue-green runs both revisions at full size: a quota of 6 instances refuses the surge.
  auto quota = httpRequest(server_.url(), "PATCH", "/api/v1/tenants/default",
                           json({{"spec", {{"quota", {{"instances", 6}}}}}}).dump(),
                           "application/merge-patch+json");
  ASSERT_EQ(quota.status, 200) << quota.body;
  next["spec"]["components"][0]["rollout"] = {{"strategy", "bluegreen"}};
  { std::ofstream(file) << next.dump(); }
  planned = runSkiff({"rollout", "plan", "-f", file}, server_.url());
  EXPECT_EQ(planned.exit_code, 1) << planned.out << planned.err;
  EXPECT_NE(planned.out.find("quota: refused: exceeded the quota of tenant \"default\": instances"),
            std::string::npos)
      << planned.out;
  // The same plan over the API.
  auto api = httpRequest(server_.url(), "POST", kApps + "/demo/plan", next.dump());
  ASSERT_EQ(api.status, 200) << api.body;
  json plan = json::parse(api.body);
  EXPECT_EQ(plan["nextRevision"], 2);
  EXPECT_EQ(plan["quota"]["allowed"], false);
  EXPECT_EQ(plan["components"][0]["change"], "release");
  EXPECT_EQ(plan["components"][0]["steps"][0]["canaryInstances"], 4);
  // Bad input is refused with the field, as a write would be.
  next["spec"]["components"][0]["replicas"] = -1;
  auto bad = httpRequest(server_.url(), "POST", kApps + "/demo/plan", next.dump());
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("spec.components[0].replicas"), std::string::npos) << bad.body;
}

// Pushes an image with no layers under `tag` straight through the registry's API.
void pushTag(const Registry& registry, const std::string& repository, const std::string& tag) {
  const std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{}}";
  auto started = httpRequest(registry.url(), "POST", "/v2/" + repository + "/blobs/uploads/");
  ASSERT_EQ(started.status, 202) << started.body;
  std::string location = started.headers["location"];
  if (location.rfind("http", 0) == 0) location = location.substr(location.find('/', 8));
  const std::string digest = image::Digest::of(config).str();
  auto put = httpRequest(
      registry.url(), "PUT",
      location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest, config,
      "application/octet-stream");
  ASSERT_EQ(put.status, 201) << put.body;
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", digest},
                     {"size", config.size()}}},
                   {"layers", json::array()}};
  auto tagged = httpRequest(registry.url(), "PUT", "/v2/" + repository + "/manifests/" + tag,
                            manifest.dump(), "application/vnd.oci.image.manifest.v1+json");
  ASSERT_EQ(tagged.status, 201) << tagged.body;
}

// Auto-deploy against a real registry: a newer matching tag is found by polling, and a push
// reported by the registry's own notification is deployed at once.
TEST(AutoDeployTest, NewMatchingTagsBecomeRevisionsThatSayWhatTriggeredThem) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--insecure-http"});
  server.start();
  const std::string registry_dir = dir.path() + "/registry";
  std::filesystem::create_directories(registry_dir);
  // The registry notifies Skiff of every push, as an operator would configure it.
  Registry registry(registry_dir, Registry::Auth::kNone,
                    "notifications:\n  endpoints:\n  - name: skiff\n    url: " + server.url() +
                        "/api/v1/hooks/registry\n    headers:\n      Authorization: [\"Bearer " +
                        server.adminToken() +
                        "\"]\n    timeout: 2s\n    threshold: 3\n    backoff: 1s\n");
  pushTag(registry, "acme/web", "1.4.0");
  pushTag(registry, "acme/web", "1.4.2");
  pushTag(registry, "acme/web", "2.0.0");
  const std::string image = registry.host() + "/acme/web";
  // Paused: the revisions are what this test is about; no instance needs to run.
  json doc = {{"metadata", {{"name", "web"}, {"annotations", {{"skiff.dev/paused", "true"}}}}},
              {"spec",
               {{"components",
                 {{{"name", "web"},
                   {"image", image + ":1.4.0"},
                   {"autoDeploy", {{"tags", "1.4.*"}, {"interval", "1h"}}}}}}}}};
  auto created = httpRequest(server.url(), "POST", kApps, doc.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  auto app = [&] { return json::parse(httpRequest(server.url(), "GET", kApps + "/web").body); };
  auto image_of = [&] { return app()["spec"]["components"][0].value("image", ""); };
  // The first look polls: 1.4.2 is the newest 1.4.*; 2.0.0 does not match.
  ASSERT_TRUE(eventually([&] { return image_of() == image + ":1.4.2"; })) << app().dump();
  // A push the registry reports is deployed without waiting for the hour.
  pushTag(registry, "acme/web", "1.4.10");
  ASSERT_TRUE(eventually([&] { return image_of() == image + ":1.4.10"; }))
      << app().dump() << readFile(registry_dir + "/registry.log");
  ASSERT_TRUE(eventually([&] { return app()["status"].value("latestRevision", 0) == 3; }));
  auto history = runSkiff({"rollout", "history", "web"}, server.url());
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_NE(history.out.find("auto-deploy: web follows tags \"1.4.*\" and " + image +
                             ":1.4.2 was pushed (found by polling the registry)"),
            std::string::npos)
      << history.out;
  EXPECT_NE(history.out.find(image + ":1.4.10 was pushed (found by the registry's notification)"),
            std::string::npos)
      << history.out;
  // The follower writes what it saw after the spec it changed (a second write, which the
  // revision can beat).
  EXPECT_TRUE(eventually([&] {
    return app()["status"]["autoDeploy"]["web"].value("newestTag", "") == "1.4.10";
  })) << app()["status"].dump();
  // Who made each: the person through the API, then the auto-deployer.
  EXPECT_NE(history.out.find("skiff (auto-deploy)"), std::string::npos) << history.out;
  EXPECT_NE(history.out.find(" admin "), std::string::npos) << history.out;
  auto diff = runSkiff({"rollout", "diff", "web", "1", "2"}, server.url());
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(diff.out.find("-  image: " + image + ":1.4.0\n+  image: " + image + ":1.4.2\n"),
            std::string::npos)
      << diff.out;
  EXPECT_NE(diff.out.find("+++ revision 2 (skiff (auto-deploy): auto-deploy: web follows"),
            std::string::npos)
      << diff.out;
  auto missing = runSkiff({"rollout", "diff", "web", "1", "9"}, server.url());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("application web has no revision 9 (it has 1, 2, 3)"),
            std::string::npos)
      << missing.err;

  // A pattern that is no pattern is refused, naming the field.
  doc["metadata"]["name"] = "bad";
  doc["spec"]["components"][0]["autoDeploy"]["tags"] = ">=one";
  auto refused = httpRequest(server.url(), "POST", kApps, doc.dump());
  EXPECT_EQ(refused.status, 422);
  EXPECT_NE(refused.body.find("spec.components[0].autoDeploy.tags"), std::string::npos)
      << refused.body;
}

}  // namespace
}  // namespace skiff::test
