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

TEST(ReleaseStepsTest, BlueGreenWithAnAnalysisIsJudgedForAnIntervalBeforeTheSwitch) {
  auto steps = releaseSteps({{"strategy", "bluegreen"}, {"analysis", {{"interval", "45s"}}}}, 2);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].pause, seconds(45));
  EXPECT_EQ(releaseSteps({{"strategy", "bluegreen"}}, 2)[0].pause, seconds(0));
  AnalysisSpec spec = analysisSpec(
      {{"analysis",
        {{"checks", {{{"path", "/ready"}, {"port", "http"}, {"expectStatus", 204}}}}}}});
  ASSERT_EQ(spec.checks.size(), 1u);
  EXPECT_EQ(spec.checks[0].path, "/ready");
  EXPECT_EQ(spec.checks[0].expect_status, 204);
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
  ComponentRelease state{1, "2026-12-02T11:00:00Z", 2,
                         ReleaseAbort{"errorRate", 0.05, 0.01, "2026-12-02T11:00:05Z", "why"}};
  ComponentRelease back = componentReleaseFrom(toJson(state));
  EXPECT_EQ(back.step, 1);
  EXPECT_EQ(back.failures, 2);
  ASSERT_TRUE(back.aborted.has_value());
  EXPECT_EQ(back.aborted->metric, "errorRate");
  EXPECT_DOUBLE_EQ(back.aborted->value, 0.05);
  EXPECT_DOUBLE_EQ(back.aborted->threshold, 0.01);
  EXPECT_EQ(back.aborted->at, "2026-12-02T11:00:05Z");
  EXPECT_EQ(back.ready_since, state.ready_since);
  EXPECT_EQ(componentReleaseFrom(json()).step, 0);
}

TEST(AdvanceReleaseTest, ABreachAbortsAtItsLimitAndTheAbortHolds) {
  const auto steps = releaseSteps(canary(), 4);
  ReleaseObservation seen;
  seen.now = std::chrono::system_clock::time_point(seconds(1'800'000'000));
  seen.canary_ready = true;
  seen.failure_limit = 2;
  seen.abort = ReleaseAbort{"errorRate", 0.05, 0.01, "", "error rate 5.00%"};
  auto d = advanceRelease(steps, ComponentRelease{}, seen);
  EXPECT_FALSE(d.next.aborted) << "one breach of two allowed";
  EXPECT_EQ(d.next.failures, 1);

  // A clean check in between starts the count again.
  ReleaseObservation clean = seen;
  clean.abort.reset();
  EXPECT_EQ(advanceRelease(steps, d.next, clean).next.failures, 0);

  d = advanceRelease(steps, d.next, seen);
  ASSERT_TRUE(d.next.aborted.has_value());
  EXPECT_EQ(d.next.aborted->metric, "errorRate");
  EXPECT_FALSE(d.next.aborted->at.empty()) << "when it was aborted is recorded";

  // Nothing moves an aborted release: not readiness, not a promotion.
  clean.promoted = clean.promoted_full = true;
  auto after = advanceRelease(steps, d.next, clean);
  EXPECT_TRUE(after.next.aborted.has_value());
  EXPECT_EQ(after.next.step, d.next.step);
  EXPECT_FALSE(after.done);
}

TEST(AdvanceReleaseTest, PromoteFullSkipsTheRemainingSteps) {
  const auto steps = releaseSteps(canary(false), 4);
  ReleaseObservation seen;
  seen.now = std::chrono::system_clock::time_point(seconds(1'800'000'000));
  seen.promoted = seen.promoted_full = true;
  auto d = advanceRelease(steps, ComponentRelease{}, seen);
  EXPECT_EQ(d.next.step, 2) << "straight to promoting, canary set ready or not";
}

TEST(CarriedReleaseTest, ARevisionWithTheSamePodsCarriesTheReleaseOn) {
  json web = {{"name", "web"}, {"image", "web:2"}, {"replicas", 3}};
  json previous = {{"step", 1}, {"revision", 4}};
  auto at = [&](int64_t revision) {
    json c = web;
    if (revision == 4) c["replicas"] = 5;  // replicas are no part of the pods
    return c;
  };
  CarriedRelease carried = carriedRelease(previous, 6, web, at);
  EXPECT_EQ(carried.revision, 4);
  EXPECT_EQ(carried.state.step, 1);

  json other = web;
  other["image"] = "web:3";
  carried = carriedRelease(previous, 6, other, at);
  EXPECT_EQ(carried.revision, 6) << "new pods: a new release";
  EXPECT_EQ(carried.state.step, 0);
  EXPECT_EQ(carriedRelease(json(), 6, web, at).revision, 6);
}

observe::TrafficWindow window(uint64_t requests, uint64_t errors, double p99 = 0.01) {
  observe::TrafficWindow w;
  w.requests = requests;
  w.errors = errors;
  w.p99_seconds = p99;
  return w;
}

TEST(JudgeTest, ErrorRateIsJudgedAgainstTheStableSetByDefault) {
  AnalysisSpec spec = analysisSpec({{"strategy", "canary"}});
  EXPECT_EQ(spec.interval, seconds(30));
  observe::RevisionComparison traffic{window(100, 5), window(900, 18), seconds(10)};
  // 5% against the stable set's 2% + 1 point.
  auto breach = judge(spec, traffic);
  ASSERT_TRUE(breach.has_value());
  EXPECT_EQ(breach->metric, "errorRate");
  EXPECT_DOUBLE_EQ(breach->value, 0.05);
  EXPECT_DOUBLE_EQ(breach->threshold, 0.03);
  EXPECT_NE(breach->message.find("100 requests"), std::string::npos) << breach->message;

  traffic.revision = window(100, 3);
  EXPECT_FALSE(judge(spec, traffic)) << "3% is within 2% + 1 point";
  traffic.revision = window(10, 10);
  EXPECT_FALSE(judge(spec, traffic)) << "too few requests to judge";
}

TEST(JudgeTest, ExplicitThresholdsForErrorsAndLatency) {
  AnalysisSpec spec = analysisSpec(
      {{"analysis", {{"maxErrorRate", 0.1}, {"maxP99", "200ms"}, {"minRequests", 5}}}});
  EXPECT_EQ(spec.min_requests, 5u);
  observe::RevisionComparison traffic{window(50, 4, 0.15), window(50, 0), seconds(30)};
  EXPECT_FALSE(judge(spec, traffic)) << "8% is within the explicit 10%";
  traffic.revision.p99_seconds = 0.35;
  auto breach = judge(spec, traffic);
  ASSERT_TRUE(breach.has_value());
  EXPECT_EQ(breach->metric, "p99");
  EXPECT_DOUBLE_EQ(breach->threshold, 0.2);
}

}  // namespace
}  // namespace skiff
