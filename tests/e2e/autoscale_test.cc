// End-to-end test of autoscaling on the embedded runtime: wrk, in its own process, drives the
// example service's request rate and cpu up through the gateway; the real server measures it,
// scales the component out, and back in once the load has stopped and the scale-down
// stabilisation window has passed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/server_test.h"

namespace skiff::test {
namespace {

using nlohmann::json;

class AutoscaleTest : public ServerTest {
 protected:
  AutoscaleTest() : ServerTest({"--metrics-interval", "1s"}) {}
  json scaled() {
    return get("/api/v1/tenants/default/applications/auto")
        .value("status", json::object())
        .value("autoscale", json::object())
        .value("components", json::object())
        .value("web", json::object());
  }
  int readyInstances() {
    int n = 0;
    for (const auto& i : get("/api/v1/tenants/default/instances").value("items", json::array()))
      n += i.value("status", json::object()).value("ready", false) &&
           !i["spec"].value("terminating", false);
    return n;
  }
};

TEST_F(AutoscaleTest, LoadScalesOutAndTheEndOfLoadScalesBackIn) {
  applyApplication(
      server_,
      {{"metadata", {{"name", "auto"}}},
       {"spec",
        {{"components",
          {{{"name", "web"},
            {"run", {{"command", "skiff-example"}, {"args", {"--name", "web"}}}},
            {"ports", {{{"name", "http"}, {"port", 8080}}}},
            {"resources",
             {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}},
              {"limits", {{"cpu", "1"}, {"memory", "128Mi"}}}}},
            {"health",
             {{"readiness",
               {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}}}}},
            {"autoscale",
             {{"min", 1},
              {"max", 3},
              {"targetCPU", 50},
              {"targetRequestsPerSecond", 20},
              {"scaleDownStabilizationSeconds", 10}}},
            {"terminationGracePeriodSeconds", 2},
            {"routes", {{{"host", "auto.localhost"}, {"port", "http"}}}}}}}}}});
  ASSERT_TRUE(
      eventually([&] { return readyInstances() == 1 && scaled().value("replicas", 0) == 1; },
                 std::chrono::seconds(30)))
      << scaled().dump();

  // Real load from its own process: each request keeps a core busy for 5 ms.
  ChildProcess wrk;
  wrk.start({"wrk", "-t1", "-c4", "-d120s", "-H", "Host: auto.localhost",
             server_.gatewayUrl() + "/work?ms=5"},
            dir_.path() + "/wrk.log");
  ASSERT_TRUE(
      eventually([&] { return scaled().value("replicas", 0) == 3 && readyInstances() == 3; },
                 std::chrono::seconds(60)))
      << scaled().dump();
  const json out = scaled()["decisions"].back();
  EXPECT_EQ(out["to"], 3) << out;
  // The decision records the measurements behind it: both targets far exceeded.
  EXPECT_GT(out["metrics"].value("requestsPerSecond", 0.0), 22) << out;
  EXPECT_GT(out["metrics"].value("cpu", 0.0), 55) << out;

  wrk.kill();
  ASSERT_TRUE(
      eventually([&] { return scaled().value("replicas", 0) == 1 && readyInstances() == 1; },
                 std::chrono::seconds(90)))
      << scaled().dump();
  const json in = scaled()["decisions"].back();
  EXPECT_EQ(in["to"], 1) << in;

  auto described = runSkiff({"describe", "app", "auto"}, server_.url());
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("Autoscaling:"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("→ 3"), std::string::npos) << described.out;
  auto events = runSkiff({"events", "auto"}, server_.url());
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("Scaled"), std::string::npos) << events.out;
}

}  // namespace
}  // namespace skiff::test
