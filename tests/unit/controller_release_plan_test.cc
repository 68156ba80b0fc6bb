// The steps of canary and blue-green releases (controller/release_plan.h), walked as the
// Kubernetes backend walks them: a step is left only when its canary set is ready, its pause
// has passed and, at a manual gate, someone promoted the revision.
#include "controller/release_plan.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

using std::chrono::seconds;

json canary(bool auto_promote = true) {
  return {{"strategy", "canary"},
          {"steps", {{{"weight", 10}, {"pause", "30s"}}, {{"weight", 50}}}},
          {"autoPromote", auto_promote}};
}

TEST(ReleaseStepsTest, CanaryStepsSizeTheCanarySetByWeight) {
  auto steps = releaseSteps(canary(), 4);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].weight, 10);
  EXPECT_EQ(steps[0].canary_replicas, 1) << "10% of 4 rounds up to one instance";
  EXPECT_EQ(steps[0].pause, seconds(30));
  EXPECT_EQ(steps[1].canary_replicas, 2);
  EXPECT_EQ(steps[1].pause, seconds(0));
  EXPECT_FALSE(steps[1].await_promote);
  EXPECT_TRUE(releaseSteps(canary(false), 4)[1].await_promote);
  EXPECT_TRUE(releaseSteps({{"strategy", "rolling"}}, 4).empty());
}

TEST(ReleaseStepsTest, BlueGreenBringsUpAFullSetThenSwitches) {
  auto steps = releaseSteps({{"strategy", "bluegreen"}, {"autoPromote", false}}, 3);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].weight, 0);
  EXPECT_EQ(steps[0].canary_replicas, 3);
  EXPECT_TRUE(steps[0].await_promote) << "the switch is the manual gate";
  EXPECT_EQ(steps[1].weight, 100);
}

TEST(AdvanceReleaseTest, WalksEveryStepThenPromotes) {
  const auto steps = releaseSteps(canary(false), 4);
  auto t0 = std::chrono::system_clock::time_point(seconds(1'800'000'000));
  ReleaseObservation seen;
  seen.now = t0;

  ComponentRelease state;
  // Not ready: nothing moves, the pause has not begun.
  auto d = advanceRelease(steps, state, seen);
  EXPECT_EQ(d.next.step, 0);
  EXPECT_TRUE(d.next.ready_since.empty());

  // Ready: the 30s pause starts, and is rechecked when it ends.
  seen.canary_ready = true;
  d = advanceRelease(steps, state, seen);
  EXPECT_EQ(d.next.step, 0);
  EXPECT_FALSE(d.next.ready_since.empty());
  EXPECT_EQ(d.recheck, seconds(30));
  state = d.next;

  // A canary that stops being ready restarts its pause.
  seen.now = t0 + seconds(20);
  seen.canary_ready = false;
  EXPECT_TRUE(advanceRelease(steps, state, seen).next.ready_since.empty());
  seen.canary_ready = true;
  d = advanceRelease(steps, state, seen);
  EXPECT_EQ(d.recheck, seconds(10));

  // Paused holds even once the pause is over.
  seen.now = t0 + seconds(31);
  seen.paused = true;
  EXPECT_EQ(advanceRelease(steps, state, seen).next.step, 0);
  seen.paused = false;
  d = advanceRelease(steps, state, seen);
  EXPECT_EQ(d.next.step, 1);
  EXPECT_TRUE(d.next.ready_since.empty());
  state = d.next;

  // The last step waits for a promotion.
  d = advanceRelease(steps, state, seen);
  EXPECT_EQ(d.next.step, 1);
  state = d.next;
  seen.promoted = true;
  d = advanceRelease(steps, state, seen);
  EXPECT_EQ(d.next.step, 2);
  EXPECT_FALSE(d.done);
  state = d.next;

  // Promoting: the stable set rolls out the new template; then the release is done.
  EXPECT_EQ(stepInForce(steps, state).weight, 50) << "the canary keeps its share meanwhile";
  EXPECT_FALSE(advanceRelease(steps, state, seen).done);
  seen.stable_ready = true;
  EXPECT_TRUE(advanceRelease(steps, state, seen).done);
}

TEST(AdvanceReleaseTest, StateSurvivesItsJsonForm) {
  ComponentRelease state{1, "2026-12-02T11:00:00Z"};
  ComponentRelease back = componentReleaseFrom(toJson(state));
  EXPECT_EQ(back.step, 1);
  EXPECT_EQ(back.ready_since, state.ready_since);
  EXPECT_EQ(componentReleaseFrom(json()).step, 0);
}

}  // namespace
}  // namespace skiff
