#include "controller/limits.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

using nlohmann::json;

const json kTenant = {{"limits",
                       {{"defaultRequest", {{"cpu", "100m"}, {"memory", "64Mi"}}},
                        {"default", {{"cpu", "500m"}, {"memory", "256Mi"}}},
                        {"max", {{"cpu", "1"}, {"memory", "1Gi"}}}}}};

TEST(TenantLimitsTest, ComponentsWithoutResourcesGetTheDefaults) {
  json app = {{"components", {{{"name", "a"}}, {{"name", "b"}, {"resources", {{"cpu", "200m"}}}}}}};
  ASSERT_TRUE(applyTenantLimits(kTenant, "t", app).isOk());
  EXPECT_EQ(app["components"][0]["resources"],
            (json{{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}},
                  {"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}}}));
  // The shorthand sets both sides of cpu; only memory is defaulted.
  EXPECT_EQ(app["components"][1]["resources"], (json{{"cpu", "200m"},
                                                     {"requests", {{"memory", "64Mi"}}},
                                                     {"limits", {{"memory", "256Mi"}}}}));
}

TEST(TenantLimitsTest, MoreThanTheMaximumIsRefusedByField) {
  json app = {{"components",
               {{{"name", "a"}, {"resources", {{"limits", {{"cpu", "2"}}}}}},
                {{"name", "b"}, {"resources", {{"memory", "2Gi"}}}}}}};
  const json before = app;
  Status s = applyTenantLimits(kTenant, "t", app);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  ASSERT_EQ(s.fields().size(), 2u) << s.toString();
  EXPECT_EQ(s.fields()[0].path, "spec.components[0].resources.limits.cpu");
  EXPECT_NE(s.fields()[0].message.find("spec.limits.max.cpu: \"1\""), std::string::npos)
      << s.fields()[0].message;
  EXPECT_EQ(s.fields()[1].path, "spec.components[1].resources.memory");
}

TEST(TenantLimitsTest, ATenantWithoutLimitsChangesNothing) {
  json app = {{"components", {{{"name", "a"}}}}};
  ASSERT_TRUE(applyTenantLimits(json::object(), "t", app).isOk());
  EXPECT_EQ(app, (json{{"components", {{{"name", "a"}}}}}));
}

}  // namespace
}  // namespace skiff
