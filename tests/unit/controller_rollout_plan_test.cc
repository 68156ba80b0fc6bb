#include "controller/rollout_plan.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(RolloutBudgetTest, PercentagesRoundLikeKubernetes) {
  RolloutBudget b = rolloutBudget({{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}, 10);
  EXPECT_EQ(b.surge, 3);        // 2.5 up
  EXPECT_EQ(b.unavailable, 2);  // 2.5 down
  b = rolloutBudget({{"maxSurge", 0}, {"maxUnavailable", 0}}, 3);
  EXPECT_EQ(b.unavailable, 1) << "both zero would never progress";
  b = rolloutBudget(json::object(), 4);
  EXPECT_EQ(b.surge, 1);
  EXPECT_EQ(b.unavailable, 0);
}

TEST(RolloutPlanTest, FirstDeployCreatesEverything) {
  RolloutPlan p = planRollout({}, 3, {1, 0});
  EXPECT_EQ(p.create, 3);
  EXPECT_TRUE(p.retire.empty());
}

// Walks a rolling update of 3 replicas with surge 1 / unavailable 0 step by step, as the
// controller and the agent would: old instances retire only once new ones are ready.
TEST(RolloutPlanTest, RollingUpdateNeverDropsBelowDesiredReady) {
  std::vector<InstanceView> live = {{"a", false, true}, {"b", false, true}, {"c", false, true}};
  int created = 0;
  for (int step = 0; step < 20; ++step) {
    RolloutPlan p = planRollout(live, 3, {1, 0});
    int ready = 0;
    for (const auto& i : live) ready += i.ready;
    for (const auto& r : p.retire) {
      auto it = std::find_if(live.begin(), live.end(), [&](auto& i) { return i.name == r; });
      ASSERT_NE(it, live.end());
      ready -= it->ready;
      live.erase(it);
    }
    EXPECT_GE(ready, 3) << "availability dropped at step " << step;
    EXPECT_LE(static_cast<int>(live.size()) + p.create, 4) << "surge exceeded at step " << step;
    for (int n = 0; n < p.create; ++n)
      live.push_back({"new" + std::to_string(created++), true, false});
    // The agent makes every new instance ready before the next step.
    for (auto& i : live) i.ready = true;
  }
  ASSERT_EQ(live.size(), 3u);
  for (const auto& i : live) EXPECT_TRUE(i.current);
}

TEST(RolloutPlanTest, NewInstancesThatNeverBecomeReadyKeepTheOldServing) {
  std::vector<InstanceView> live = {{"a", false, true}, {"b", false, true}, {"n", true, false}};
  RolloutPlan p = planRollout(live, 2, {1, 0});
  EXPECT_TRUE(p.retire.empty());
  EXPECT_EQ(p.create, 0) << "the surge is used by the broken new instance";
}

TEST(RolloutPlanTest, NotReadyOldInstancesGoFirstAndScaleDownTakesNotReady) {
  RolloutPlan p = planRollout({{"a", false, false}, {"b", false, true}}, 2, {1, 0});
  EXPECT_EQ(p.retire, std::vector<std::string>{"a"}) << "b must keep serving";
  EXPECT_EQ(p.create, 2) << "total 1 after retiring a, and surge allows 3";
  p = planRollout({{"a", true, true}, {"b", true, false}, {"c", true, true}}, 1, {1, 0});
  ASSERT_EQ(p.retire.size(), 2u);
  EXPECT_EQ(p.retire[0], "b");
}

}  // namespace
}  // namespace skiff
