// Footprint: what an application can take at its peak, and the quota messages built from it.
#include "controller/footprint.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

using nlohmann::json;

TEST(FootprintTest, CountsTheLargestSizePlusWhatAReleaseAdds) {
  json spec = {{"components",
                {{{"name", "web"},
                  {"replicas", 4},
                  {"rollout", {{"maxSurge", "25%"}}},
                  {"resources", {{"cpu", "500m"}, {"memory", "256Mi"}}}},
                 {{"name", "api"},
                  {"replicas", 2},
                  {"autoscale", {{"min", 2}, {"max", 6}}},
                  {"rollout", {{"maxSurge", 1}}},
                  {"resources",
                   {{"requests", {{"cpu", "1"}, {"memory", "1Gi"}}}, {"limits", {{"cpu", "2"}}}}}},
                 {{"name", "db"},
                  {"type", "stateful"},
                  {"replicas", 3},
                  {"volumes", {{{"name", "data"}, {"path", "/data"}, {"size", "10Gi"}}}}},
                 {{"name", "blue"}, {"replicas", 2}, {"rollout", {{"strategy", "bluegreen"}}}},
                 {{"name", "nightly"}, {"type", "cronjob"}, {"schedule", "0 3 * * *"}}}}};
  const Footprint f = footprintOf(spec);
  EXPECT_EQ(f.applications, 1);
  // web 4+1, api max 6 + 1, db 3 (no surge: ordered), blue 2+2, the job 1.
  EXPECT_EQ(f.instances, 5 + 7 + 3 + 4 + 1);
  EXPECT_EQ(f.cpu_millis, 5 * 500 + 7 * 1000);
  EXPECT_EQ(f.memory_bytes, 5 * (int64_t{256} << 20) + 7 * (int64_t{1} << 30));
  EXPECT_EQ(f.storage_bytes, 3 * (int64_t{10} << 30));
  EXPECT_EQ(f.toJson()["cpu"], "9500m");
  EXPECT_EQ(f.toJson()["storage"], "30Gi");
}

TEST(FootprintTest, QuotaMessagesNameTheQuotaTheNeedAndWhatRemains) {
  Footprint used, wanted;
  used.applications = 1;
  used.instances = 4;
  wanted.applications = 1;
  wanted.instances = 6;
  wanted.cpu_millis = 1500;
  EXPECT_EQ(quotaExceeded({{"instances", 8}}, used, wanted, "shop"),
            "instances: application \"shop\" needs 6 (replicas, autoscaling and rollout surge "
            "included), the tenant's other applications use 4 and the quota is 8, so 4 remain");
  EXPECT_EQ(quotaExceeded({{"instances", 10}}, used, wanted, "shop"), "");
  EXPECT_NE(quotaExceeded({{"cpu", "1"}}, used, wanted, "shop").find("needs 1500m"),
            std::string::npos);
  EXPECT_NE(quotaExceeded({{"applications", 1}}, used, wanted, "shop").find("so 0 remain"),
            std::string::npos);
  EXPECT_EQ(quotaExceeded(json::object(), used, wanted, "shop"), "");
}

}  // namespace
}  // namespace skiff
