// End-to-end test of tenant quotas: admission refuses an application or a scale-up that would
// take the tenant past its quota (a rollout's surge included), naming the quota, the need and
// what remains; raising the quota lets it through; the tenant's status shows its usage.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/q/applications";

json app(const std::string& name, int replicas) {
  return {{"metadata", {{"name", name}}},
          {"spec",
           {{"components",
             {{{"name", "worker"},
               {"run", {{"command", "sleep"}, {"args", {"600"}}}},
               {"replicas", replicas},
               {"rollout", {{"maxSurge", 1}, {"maxUnavailable", 0}}},
               {"resources", {{"cpu", "100m"}, {"memory", "16Mi"}}}}}}}}};
}

TEST(QuotaTest, AdmissionKeepsTheTenantWithinItsQuotaAndStatusShowsUsage) {
  TempDir dir;
  ServerProcess server(dir.path());
  server.start();
  const std::string url = server.url();
  json tenant = {{"metadata", {{"name", "q"}}},
                 {"spec", {{"quota", {{"instances", 4}, {"applications", 1}}}}}};
  ASSERT_EQ(httpRequest(url, "POST", "/api/v1/tenants", tenant.dump()).status, 201);

  // 2 replicas and a surge of 1: 3 of 4 instances.
  ASSERT_EQ(httpRequest(url, "POST", kApps, app("work", 2).dump()).status, 201);
  auto scaled = [&](int replicas) {
    return httpRequest(url, "PATCH", kApps + "/work",
                       json{{"spec", app("work", replicas)["spec"]}}.dump(),
                       "application/merge-patch+json");
  };
  HttpResult refused = scaled(4);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("exceeded the quota of tenant \\\"q\\\": instances: application "
                              "\\\"work\\\" needs 5"),
            std::string::npos)
      << refused.body;
  EXPECT_NE(refused.body.find("the quota is 4, so 4 remain"), std::string::npos) << refused.body;
  EXPECT_EQ(
      json::parse(httpRequest(url, "GET", kApps + "/work").body)["spec"]["components"][0].value(
          "replicas", 0),
      2)
      << "a refused change changes nothing";
  // A second application is over the applications quota.
  HttpResult second = httpRequest(url, "POST", kApps, app("more", 1).dump());
  EXPECT_EQ(second.status, 403);
  EXPECT_NE(second.body.find("applications: application \\\"more\\\" needs 1"), std::string::npos)
      << second.body;

  auto usage = [&] {
    return json::parse(httpRequest(url, "GET", "/api/v1/tenants/q").body)["status"].value(
        "usage", json::object());
  };
  ASSERT_TRUE(eventually([&] { return usage().value("instances", 0) == 3; })) << usage().dump();
  EXPECT_EQ(usage().value("cpu", ""), "300m");

  // With room made, the same scale-up is admitted and counted.
  ASSERT_EQ(httpRequest(url, "PATCH", "/api/v1/tenants/q",
                        json{{"spec", {{"quota", {{"instances", 6}}}}}}.dump(),
                        "application/merge-patch+json")
                .status,
            200);
  HttpResult admitted = scaled(4);
  EXPECT_EQ(admitted.status, 200) << admitted.body;
  ASSERT_TRUE(eventually([&] { return usage().value("instances", 0) == 5; })) << usage().dump();
  // Shrinking is always allowed.
  EXPECT_EQ(scaled(1).status, 200);
  ASSERT_EQ(httpRequest(url, "DELETE", kApps + "/work").status, 200);
  ASSERT_TRUE(eventually([&] { return usage().value("applications", -1) == 0; })) << usage().dump();
}

TEST(QuotaTest, TenantLimitsFillInResourcesAndCapEachInstance) {
  TempDir dir;
  ServerProcess server(dir.path());
  server.start();
  const std::string url = server.url();
  json tenant = {{"metadata", {{"name", "q"}}},
                 {"spec",
                  {{"quota", {{"cpu", "1"}}},
                   {"limits",
                    {{"defaultRequest", {{"cpu", "200m"}, {"memory", "32Mi"}}},
                     {"default", {{"cpu", "400m"}, {"memory", "64Mi"}}},
                     {"max", {{"cpu", "500m"}}}}}}}};
  ASSERT_EQ(httpRequest(url, "POST", "/api/v1/tenants", tenant.dump()).status, 201);

  // No resources: the defaults are filled in, and the quota counts them (2 x 200m of 1 cpu).
  json bare = app("bare", 2);
  bare["spec"]["components"][0].erase("resources");
  HttpResult created = httpRequest(url, "POST", kApps, bare.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["spec"]["components"][0]["resources"],
            (json{{"requests", {{"cpu", "200m"}, {"memory", "32Mi"}}},
                  {"limits", {{"cpu", "400m"}, {"memory", "64Mi"}}}}));
  HttpResult more = httpRequest(url, "POST", kApps, app("more", 1).dump());
  EXPECT_EQ(more.status, 201) << "with surges, 600m + 200m fit in 1000m: " << more.body;
  json greedy = app("greedy", 1);
  greedy["spec"]["components"][0]["resources"] = {{"cpu", "2"}};
  HttpResult refused = httpRequest(url, "POST", kApps, greedy.dump());
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("spec.components[0].resources.cpu"), std::string::npos)
      << refused.body;
  EXPECT_NE(refused.body.find("spec.limits.max.cpu"), std::string::npos) << refused.body;
  EXPECT_EQ(httpRequest(url, "GET", kApps + "/greedy").status, 404);
}

}  // namespace
}  // namespace skiff::test
