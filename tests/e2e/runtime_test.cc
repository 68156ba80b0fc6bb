// End-to-end tests of the embedded runtime: the real server runs real processes (the example
// service) under shims, probes them, routes to them through its gateway, heals and updates
// them, with a second thread sending requests throughout where traffic must not fail.
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/server_test.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/default/applications";
const std::string kInstances = "/api/v1/tenants/default/instances";

json app(int replicas, const std::string& version, const std::string& command = "skiff-example") {
  return {
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

// Sends requests through the gateway until stopped, counting answers that are not 200.
class Load {
 public:
  explicit Load(const ServerProcess& server) : server_(server) {
    thread_ = std::thread([this] {
      while (!stop_) {
        auto r = httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                             {{"Host", "demo.localhost"}});
        ++sent_;
        if (r.status != 200) {
          ++failed_;
          last_failure_ = std::to_string(r.status) + " " + r.body;
        }
      }
    });
  }
  ~Load() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int sent() const { return sent_; }
  int failed() const { return failed_; }
  std::string lastFailure() const { return last_failure_; }

 private:
  const ServerProcess& server_;
  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0}, failed_{0};
  std::string last_failure_;
  std::thread thread_;
};

class RuntimeTest : public ServerTest {
 protected:
  json call() {
    auto r = httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                         {{"Host", "demo.localhost"}});
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  }
  std::set<std::string> instancesAnswering(int requests = 30) {
    std::set<std::string> seen;
    for (int i = 0; i < requests; ++i)
      if (json r = call(); r.is_object()) seen.insert(r.value("instance", ""));
    return seen;
  }
  bool appReady() {
    json a = get(kApps + "/demo");
    if (!a.is_object() || !a["status"].is_object()) return false;
    for (const auto& cond : a["status"].value("conditions", json::array()))
      if (cond.value("type", "") == "Ready") return cond.value("status", "") == "True";
    return false;
  }
};

TEST_F(RuntimeTest, DeployScaleHealAndRollingUpdateWithoutFailedRequests) {
  apply(app(1, "v1"));
  ASSERT_TRUE(eventually([&] { return call().is_object(); }, std::chrono::seconds(20)))
      << "the application never answered through the gateway";

  apply(app(3, "v1"));
  ASSERT_TRUE(
      eventually([&] { return instancesAnswering().size() == 3; }, std::chrono::seconds(20)))
      << "scaling to 3 did not spread traffic over 3 instances";
  auto first = get(kInstances);
  EXPECT_EQ(first["items"].size(), 3u) << "scaling replaces no instance";

  // kill -9 of an instance: restarted, counted, routed again.
  const json victim = first["items"][0];
  ASSERT_EQ(::kill(victim["status"]["pid"].get<int>(), SIGKILL), 0);
  const std::string victim_path = kInstances + "/" + victim["metadata"]["name"].get<std::string>();
  ASSERT_TRUE(eventually(
      [&] {
        json i = get(victim_path);
        return i["status"].value("restarts", 0) == 1 && i["status"].value("ready", false);
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(get(victim_path)["status"]["lastExit"]["signal"], 9);
  ASSERT_TRUE(
      eventually([&] { return instancesAnswering().size() == 3; }, std::chrono::seconds(20)));

  // A rolling update under continuous load: not one failed request.
  {
    Load load(server_);
    apply(app(3, "v2"));
    ASSERT_TRUE(eventually(
        [&] {
          if (!appReady()) return false;
          for (int i = 0; i < 10; ++i)
            if (call().value("version", "") != "v2") return false;
          return true;
        },
        std::chrono::seconds(60)));
    load.finish();
    EXPECT_GT(load.sent(), 50);
    EXPECT_EQ(load.failed(), 0) << "last failure: " << load.lastFailure();
  }
  EXPECT_TRUE(
      eventually([&] { return get(kInstances)["items"].size() == 3; }, std::chrono::seconds(20)))
      << "old instances are stopped and deleted";

  apply(app(1, "v2"));
  ASSERT_TRUE(
      eventually([&] { return get(kInstances)["items"].size() == 1; }, std::chrono::seconds(20)));

  // Deleting the application stops everything it owns and removes its route.
  ASSERT_EQ(httpRequest(server_.url(), "DELETE", kApps + "/demo").status, 200);
  ASSERT_TRUE(
      eventually([&] { return get(kInstances)["items"].empty(); }, std::chrono::seconds(20)));
  EXPECT_EQ(httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                        {{"Host", "demo.localhost"}})
                .status,
            404);
}

TEST_F(RuntimeTest, BrokenRevisionStopsTheRolloutAndTheOldOneKeepsServing) {
  apply(app(2, "v1"));
  ASSERT_TRUE(eventually([&] { return appReady() && instancesAnswering().size() == 2; },
                         std::chrono::seconds(20)));
  apply(app(2, "v2", "/bin/false"));
  // The new instance crash-loops; the rollout holds; every request is still answered by v1.
  ASSERT_TRUE(eventually(
      [&] {
        const json items = get(kInstances)["items"];
        for (const auto& i : items) {
          for (const auto& c : i["status"].value("conditions", json::array()))
            if (c.value("reason", "") == "CrashLoopBackOff") return true;
        }
        return false;
      },
      std::chrono::seconds(20)));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(call().value("version", ""), "v1");
  EXPECT_FALSE(appReady());

  // Going back to the working spec retires the broken instance.
  apply(app(2, "v1"));
  ASSERT_TRUE(eventually([&] { return appReady() && get(kInstances)["items"].size() == 2; },
                         std::chrono::seconds(20)));
}

TEST_F(RuntimeTest, KillNineOfTheServerDropsNoRequestAndInstancesAreAdopted) {
  apply(app(2, "v1"));
  // Ready, and both instances in the gateway's table (routes follow readiness a moment later).
  ASSERT_TRUE(eventually([&] { return appReady() && instancesAnswering().size() == 2; },
                         std::chrono::seconds(20)));
  std::map<std::string, int> pids;
  const json before = get(kInstances)["items"];
  for (const auto& i : before) pids[i["metadata"]["name"]] = i["status"]["pid"];

  Load load(server_);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ServerProcess again(dir_.path());
  again.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  load.finish();
  EXPECT_GT(load.sent(), 20);
  EXPECT_EQ(load.failed(), 0) << "last failure: " << load.lastFailure();

  // The same processes, adopted: no duplicate started, none lost.
  auto items = json::parse(httpRequest(again.url(), "GET", kInstances).body)["items"];
  ASSERT_EQ(items.size(), 2u);
  for (const auto& i : items) EXPECT_EQ(pids[i["metadata"]["name"]], i["status"]["pid"]);
}

}  // namespace
}  // namespace skiff::test
