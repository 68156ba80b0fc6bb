#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controller/autoscale_plan.h"

namespace skiff {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

TimePoint at(const std::string& rfc3339) {
  TimePoint t;
  EXPECT_TRUE(parseTimestamp(rfc3339, &t)) << rfc3339;
  return t;
}

const TimePoint kT0 = at("2026-06-01T10:00:00Z");

AutoscalePolicy cpuPolicy(int min, int max) {
  AutoscalePolicy p;
  p.min = min;
  p.max = max;
  p.targets = {{kMetricCpu, 70}};
  return p;
}

AutoscaleInput input(int current, std::vector<MetricSample> metrics, AutoscalePolicy policy) {
  AutoscaleInput in;
  in.current_replicas = current;
  in.ready_replicas = current;
  in.metrics = std::move(metrics);
  in.policy = std::move(policy);
  return in;
}

MetricSample cpu(double percent) { return {kMetricCpu, percent, 70}; }

AutoscaleSchedule schedule(const std::string& cron, const std::string& zone, seconds duration,
                           std::optional<int> min, std::optional<int> max) {
  return {*CronSchedule::parse(cron), *TimeZone::load(zone), duration, min, max};
}

TEST(AutoscalePlanTest, ScalesByTheMetricRatio) {
  AutoscaleHistory history;
  auto d = decideReplicas(input(2, {cpu(142)}, cpuPolicy(1, 10)), history, kT0);
  EXPECT_EQ(d.replicas, 5);  // ceil(2 × 142 / 70)
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(d.recommendation, 5);
  EXPECT_EQ(d.reason, "cpu 142% of 70% target: 2 \u2192 5");
  EXPECT_EQ(d.metrics, (std::map<std::string, double>{{"cpu", 142}}));
  EXPECT_FALSE(d.limited_by_rate || d.limited_by_bounds || d.limited_by_stabilization ||
               d.limited_by_quota);
  EXPECT_EQ(history.events, (std::vector<AutoscaleHistory::ScaleEvent>{{kT0, 2, 5}}));
  EXPECT_EQ(history.recommendations, (std::vector<AutoscaleHistory::Recommendation>{{kT0, 5}}));

  history = {};
  d = decideReplicas(input(10, {cpu(56)}, cpuPolicy(1, 10)), history, kT0);
  EXPECT_EQ(d.replicas, 8);
  EXPECT_EQ(d.reason, "cpu 56% of 70% target: 10 \u2192 8");
}

TEST(AutoscalePlanTest, Tolerance) {
  auto decide = [](double value) {
    AutoscaleHistory history;
    return decideReplicas(input(4, {cpu(value)}, cpuPolicy(1, 10)), history, kT0);
  };
  EXPECT_EQ(decide(75).replicas, 4);
  EXPECT_FALSE(decide(75).changed);
  EXPECT_EQ(decide(75).reason, "within tolerance (cpu 75% of 70% target)");
  EXPECT_EQ(decide(77).replicas, 4);  // exactly +10%
  EXPECT_EQ(decide(63).replicas, 4);  // exactly -10%
  EXPECT_EQ(decide(78).replicas, 5);
  EXPECT_EQ(decide(78).reason, "cpu 78% of 70% target: 4 \u2192 5");

  AutoscalePolicy tight = cpuPolicy(1, 10);
  tight.tolerance = 0.01;
  AutoscaleHistory history;
  EXPECT_EQ(decideReplicas(input(4, {cpu(75)}, tight), history, kT0).replicas, 5);
}

TEST(AutoscalePlanTest, LargestWantOverMetricsWins) {
  AutoscalePolicy p = cpuPolicy(1, 10);
  AutoscaleHistory history;
  auto d = decideReplicas(input(4,
                                {cpu(35),
                                 {kMetricMemory, 90, 60},
                                 {kMetricRequestsPerSecond, 150, 100},
                                 {kMetricP99, 0.6, 0.3}},
                                p),
                          history, kT0);
  EXPECT_EQ(d.replicas, 8);  // p99: ceil(4 × 2); memory and rps want 6, cpu 2
  EXPECT_EQ(d.reason, "p99 0.6s of 0.3s target: 4 \u2192 8");
  EXPECT_EQ(d.metrics, (std::map<std::string, double>{
                           {"cpu", 35}, {"memory", 90}, {"requestsPerSecond", 150}, {"p99", 0.6}}));

  history = {};
  d = decideReplicas(input(4, {}, p), history, kT0);
  EXPECT_EQ(d.replicas, 4);
  EXPECT_FALSE(d.changed);
  EXPECT_EQ(d.reason, "no metrics");
  // Unusable samples count as missing.
  d = decideReplicas(input(4, {{kMetricCpu, 100, 0}, {kMetricMemory, std::nan(""), 50}}, p),
                     history, kT0);
  EXPECT_EQ(d.reason, "no metrics");
  EXPECT_TRUE(d.metrics.empty());
}

TEST(AutoscalePlanTest, NotReadyInstancesCountAsIdleWhenScalingUp) {
  AutoscaleHistory history;
  AutoscaleInput in = input(4, {cpu(100)}, cpuPolicy(1, 10));
  in.ready_replicas = 2;
  auto d = decideReplicas(in, history, kT0);
  EXPECT_EQ(d.replicas, 4);  // 100% over 2 of 4 is 50% over all: no scale-up
  EXPECT_EQ(d.reason, "cpu 100% of 70% target over 2 of 4 instances ready: waiting for the rest");
  in.metrics = {cpu(210)};
  d = decideReplicas(in, history, kT0 + seconds(30));
  EXPECT_EQ(d.replicas, 6);  // ceil(2 × 3)
  EXPECT_EQ(d.reason, "cpu 210% of 70% target over 2 of 4 instances ready: 4 \u2192 6");
}

TEST(AutoscalePlanTest, ScaleDownStabilisationHoldsThenReleases) {
  const AutoscalePolicy p = cpuPolicy(1, 10);
  AutoscaleHistory history;
  auto d = decideReplicas(input(6, {cpu(70)}, p), history, kT0);
  EXPECT_EQ(d.replicas, 6);

  d = decideReplicas(input(6, {cpu(35)}, p), history, kT0 + seconds(60));
  EXPECT_EQ(d.recommendation, 3);
  EXPECT_EQ(d.replicas, 6);
  EXPECT_FALSE(d.changed);
  EXPECT_TRUE(d.limited_by_stabilization);
  EXPECT_EQ(d.reason,
            "cpu 35% of 70% target: 6 \u2192 3; held by scale-down stabilisation (max "
            "recommendation 6 in the last 300s)");

  d = decideReplicas(input(6, {cpu(35)}, p), history, kT0 + seconds(299));
  EXPECT_EQ(d.replicas, 6);

  // 300 s after the recommendation of 6, it no longer counts.
  d = decideReplicas(input(6, {cpu(35)}, p), history, kT0 + seconds(300));
  EXPECT_EQ(d.replicas, 3);
  EXPECT_TRUE(d.changed);
  EXPECT_FALSE(d.limited_by_stabilization);
  EXPECT_EQ(d.reason, "cpu 35% of 70% target: 6 \u2192 3");
  // Of equal recommendations only the latest is kept: it decides as long as any of them would.
  EXPECT_EQ(history.recommendations,
            (std::vector<AutoscaleHistory::Recommendation>{{kT0 + seconds(300), 3}}));
}

TEST(AutoscalePlanTest, ScaleDownStabilisationLimitsPartway) {
  AutoscaleHistory history{{{kT0 - seconds(100), 4}}, {}};
  auto d = decideReplicas(input(6, {cpu(23)}, cpuPolicy(1, 10)), history, kT0);
  EXPECT_EQ(d.recommendation, 2);
  EXPECT_EQ(d.replicas, 4);
  EXPECT_EQ(d.reason,
            "cpu 23% of 70% target: 6 \u2192 2; limited by scale-down stabilisation (max "
            "recommendation 4 in the last 300s)");

  history = {{{kT0 - seconds(100), 4}}, {}};
  d = decideReplicas(input(4, {cpu(35)}, cpuPolicy(1, 10)), history, kT0);
  EXPECT_EQ(d.replicas, 4);
  EXPECT_EQ(d.reason,
            "cpu 35% of 70% target: 4 \u2192 2; held by scale-down stabilisation (max "
            "recommendation 4 in the last 300s)");
}

TEST(AutoscalePlanTest, ScaleUpStabilisation) {
  AutoscalePolicy p = cpuPolicy(1, 10);
  p.behavior.scale_up_stabilization = seconds(60);
  AutoscaleHistory history;
  EXPECT_EQ(decideReplicas(input(2, {cpu(70)}, p), history, kT0).replicas, 2);
  auto d = decideReplicas(input(2, {cpu(140)}, p), history, kT0 + seconds(30));
  EXPECT_EQ(d.replicas, 2);
  EXPECT_EQ(d.reason,
            "cpu 140% of 70% target: 2 \u2192 4; held by scale-up stabilisation (min "
            "recommendation 2 in the last 60s)");
  d = decideReplicas(input(2, {cpu(140)}, p), history, kT0 + seconds(60));
  EXPECT_EQ(d.replicas, 4);
  EXPECT_EQ(d.reason, "cpu 140% of 70% target: 2 \u2192 4");
}

TEST(AutoscalePlanTest, ScaleUpRateLimitDefault) {
  // The HPA's default: per 15 s, the larger of +100% and +4 replicas.
  const AutoscalePolicy p = cpuPolicy(1, 100);
  AutoscaleHistory history;
  auto d = decideReplicas(input(2, {cpu(700)}, p), history, kT0);
  EXPECT_EQ(d.replicas, 6);  // +4 beats +100%
  EXPECT_TRUE(d.limited_by_rate);
  EXPECT_EQ(d.reason,
            "cpu 700% of 70% target: 2 \u2192 20; scale-up limited to 6 (at most +100% or +4 "
            "replicas per 15s)");
  // Within the same period, what it already added counts.
  d = decideReplicas(input(6, {cpu(700)}, p), history, kT0 + seconds(14));
  EXPECT_EQ(d.replicas, 6);
  EXPECT_FALSE(d.changed);
  d = decideReplicas(input(6, {cpu(700)}, p), history, kT0 + seconds(15));
  EXPECT_EQ(d.replicas, 12);  // +100% beats +4
  d = decideReplicas(input(12, {cpu(700)}, p), history, kT0 + seconds(30));
  EXPECT_EQ(d.replicas, 24);
}

TEST(AutoscalePlanTest, ScaleUpRateLimitByPercentOrPods) {
  AutoscalePolicy percent = cpuPolicy(1, 100);
  percent.behavior.scale_up = {100, 0, seconds(15)};
  AutoscaleHistory history;
  int replicas = 2;
  std::vector<int> seen;
  for (int i = 0; i < 3; ++i) {
    replicas = decideReplicas(input(replicas, {cpu(700)}, percent), history, kT0 + seconds(15 * i))
                   .replicas;
    seen.push_back(replicas);
  }
  EXPECT_EQ(seen, (std::vector<int>{4, 8, 16}));
  EXPECT_EQ(decideReplicas(input(16, {cpu(700)}, percent), history, kT0 + seconds(30)).reason,
            "cpu 700% of 70% target: 16 \u2192 160; scale-up limited to 16 (at most +100% per "
            "15s)");

  AutoscalePolicy pods = cpuPolicy(1, 100);
  pods.behavior.scale_up = {0, 4, seconds(15)};
  history = {};
  replicas = 2;
  seen.clear();
  for (int i = 0; i < 3; ++i) {
    replicas =
        decideReplicas(input(replicas, {cpu(700)}, pods), history, kT0 + seconds(15 * i)).replicas;
    seen.push_back(replicas);
  }
  EXPECT_EQ(seen, (std::vector<int>{6, 10, 14}));
}

TEST(AutoscalePlanTest, ScaleDownRateLimit) {
  AutoscalePolicy p = cpuPolicy(1, 10);
  p.behavior.scale_down_stabilization = seconds(0);
  p.behavior.scale_down = {50, 0, seconds(15)};
  AutoscaleHistory history;
  auto d = decideReplicas(input(8, {cpu(7)}, p), history, kT0);
  EXPECT_EQ(d.replicas, 4);
  EXPECT_EQ(d.reason,
            "cpu 7% of 70% target: 8 \u2192 1; scale-down limited to 4 (at most -50% per 15s)");
  EXPECT_EQ(decideReplicas(input(4, {cpu(7)}, p), history, kT0 + seconds(5)).replicas, 4);
  EXPECT_EQ(decideReplicas(input(4, {cpu(7)}, p), history, kT0 + seconds(15)).replicas, 2);
  // The default removes up to 100% per period.
  AutoscalePolicy fast = cpuPolicy(1, 10);
  fast.behavior.scale_down_stabilization = seconds(0);
  history = {};
  EXPECT_EQ(decideReplicas(input(8, {cpu(7)}, fast), history, kT0).replicas, 1);
}

TEST(AutoscalePlanTest, MinAndMaxClamp) {
  AutoscaleHistory history;
  auto d = decideReplicas(input(3, {cpu(10)}, cpuPolicy(3, 10)), history, kT0);
  EXPECT_EQ(d.replicas, 3);
  EXPECT_FALSE(d.changed);
  EXPECT_TRUE(d.limited_by_bounds);
  EXPECT_EQ(d.reason, "cpu 10% of 70% target: 3 \u2192 1; raised to minimum 3");

  history = {};
  d = decideReplicas(input(8, {cpu(140)}, cpuPolicy(3, 10)), history, kT0);
  EXPECT_EQ(d.replicas, 10);
  EXPECT_EQ(d.reason, "cpu 140% of 70% target: 8 \u2192 16; lowered to maximum 10");

  // Outside the bounds (the spec changed), straight to them: no rate limit applies.
  history = {};
  d = decideReplicas(input(30, {cpu(70)}, cpuPolicy(3, 10)), history, kT0);
  EXPECT_EQ(d.replicas, 10);
  EXPECT_EQ(d.reason, "within tolerance (cpu 70% of 70% target); lowered to maximum 10");
  history = {};
  d = decideReplicas(input(1, {}, cpuPolicy(3, 10)), history, kT0);
  EXPECT_EQ(d.replicas, 3);
  EXPECT_EQ(d.reason, "no metrics; raised to minimum 3");
}

TEST(AutoscalePlanTest, MinZeroOnlyWhileEveryMetricReadsZero) {
  AutoscalePolicy p;
  p.min = 0;
  p.max = 5;
  p.targets = {{kMetricRequestsPerSecond, 10}};
  p.behavior.scale_down_stabilization = seconds(0);
  const auto rps = [](double v) { return MetricSample{kMetricRequestsPerSecond, v, 10}; };
  AutoscaleHistory history;
  auto d = decideReplicas(input(2, {rps(0)}, p), history, kT0);
  EXPECT_EQ(d.replicas, 0);
  EXPECT_EQ(d.reason, "requestsPerSecond 0 of 10 target: 2 \u2192 0");
  // With no replicas, the value is the component's total.
  d = decideReplicas(input(0, {rps(25)}, p), history, kT0 + minutes(1));
  EXPECT_EQ(d.replicas, 3);
  EXPECT_EQ(d.reason, "requestsPerSecond 25 of 10 target: 0 \u2192 3");
  // Without metrics, a component at 0 stays there.
  EXPECT_EQ(decideReplicas(input(0, {}, p), history, kT0 + minutes(2)).replicas, 0);
  // A percentage-only rate limit cannot grow from 0; the floor of 1 still applies.
  p.behavior.scale_up = {100, 0, seconds(15)};
  history = {};
  d = decideReplicas(input(0, {rps(25)}, p), history, kT0);
  EXPECT_EQ(d.replicas, 1);
  EXPECT_EQ(d.reason,
            "requestsPerSecond 25 of 10 target: 0 \u2192 3; scale-up limited to 0 (at most +100% "
            "per 15s); raised to 1 (min 0 allows no replicas only while every metric reads 0)");
  // With min 1, reading 0 keeps one.
  p.min = 1;
  history = {};
  EXPECT_EQ(decideReplicas(input(2, {rps(0)}, p), history, kT0).replicas, 1);
}

TEST(AutoscalePlanTest, ScheduleRaisesTheMinimumWhileItsWindowIsOpen) {
  auto policy = autoscalePolicy(json::parse(R"({
    "min": 2, "max": 10, "targetCPU": 70,
    "schedules": [{"cron": "0 8 * * 1-5", "min": 5, "timeZone": "Europe/Berlin"}]
  })"));
  ASSERT_TRUE(policy.ok()) << policy.status().toString();
  AutoscaleHistory history;
  // Monday 2026-06-01 08:00 in Berlin is 06:00 UTC.
  auto d = decideReplicas(input(2, {cpu(70)}, *policy), history, at("2026-06-01T05:59:59Z"));
  EXPECT_EQ(d.replicas, 2);
  EXPECT_EQ(d.schedule, "");

  d = decideReplicas(input(2, {cpu(70)}, *policy), history, at("2026-06-01T06:00:00Z"));
  EXPECT_EQ(d.replicas, 5);  // at once, not rate-limited
  EXPECT_TRUE(d.changed);
  EXPECT_TRUE(d.limited_by_bounds);
  EXPECT_EQ(d.schedule, "0 8 * * 1-5 Europe/Berlin");
  EXPECT_EQ(d.reason,
            "within tolerance (cpu 70% of 70% target); raised to schedule minimum 5 (schedule 0 8 "
            "* * 1-5 Europe/Berlin)");

  d = decideReplicas(input(5, {cpu(28)}, *policy), history, at("2026-06-01T06:59:59Z"));
  EXPECT_EQ(d.replicas, 5);
  EXPECT_EQ(d.reason,
            "cpu 28% of 70% target: 5 \u2192 2; raised to schedule minimum 5 (schedule 0 8 * * "
            "1-5 Europe/Berlin)");

  // The window (1h by default) has closed.
  d = decideReplicas(input(5, {cpu(28)}, *policy), history, at("2026-06-01T07:00:00Z"));
  EXPECT_EQ(d.replicas, 2);
  EXPECT_EQ(d.reason, "cpu 28% of 70% target: 5 \u2192 2");
  EXPECT_EQ(d.schedule, "");
  // Not on Sunday.
  history = {};
  d = decideReplicas(input(2, {cpu(70)}, *policy), history, at("2026-06-07T06:30:00Z"));
  EXPECT_EQ(d.replicas, 2);
}

TEST(AutoscalePlanTest, OverlappingSchedulesTakeTheLargestMinAndMax) {
  AutoscalePolicy p = cpuPolicy(1, 20);
  p.schedules.push_back(schedule("* * * * *", "UTC", hours(1), 4, 6));
  p.schedules.push_back(schedule("*/1 * * * *", "UTC", hours(1), 3, 8));
  AutoscaleHistory history;
  auto d = decideReplicas(input(1, {cpu(70)}, p), history, kT0);
  EXPECT_EQ(d.replicas, 4);
  EXPECT_EQ(d.schedule, "* * * * * UTC");
  history = {};
  d = decideReplicas(input(12, {cpu(70)}, p), history, kT0);
  EXPECT_EQ(d.replicas, 8);
  EXPECT_EQ(d.reason,
            "within tolerance (cpu 70% of 70% target); lowered to schedule maximum 8 (schedule "
            "*/1 * * * * UTC)");
}

TEST(AutoscalePlanTest, ScheduleMaximumBelowTheSpecMinimumWins) {
  AutoscalePolicy p = cpuPolicy(5, 10);
  p.schedules.push_back(schedule("0 22 * * *", "UTC", hours(8), std::nullopt, 3));
  AutoscaleHistory history;
  auto d = decideReplicas(input(6, {cpu(70)}, p), history, at("2026-06-01T23:00:00Z"));
  EXPECT_EQ(d.replicas, 3);
  EXPECT_EQ(d.schedule, "0 22 * * * UTC");
  history = {};
  d = decideReplicas(input(6, {cpu(70)}, p), history, at("2026-06-02T06:00:00Z"));
  EXPECT_EQ(d.replicas, 6);
  // A schedule minimum above the spec's maximum raises it.
  AutoscalePolicy q = cpuPolicy(1, 4);
  q.schedules.push_back(schedule("0 9 * * *", "UTC", hours(2), 6, std::nullopt));
  history = {};
  d = decideReplicas(input(4, {cpu(70)}, q), history, at("2026-06-01T09:30:00Z"));
  EXPECT_EQ(d.replicas, 6);
}

TEST(AutoscalePlanTest, QuotaCeilingIsAppliedLast) {
  AutoscaleInput in = input(4, {cpu(140)}, cpuPolicy(1, 10));
  in.quota = 6;
  AutoscaleHistory history;
  auto d = decideReplicas(in, history, kT0);
  EXPECT_EQ(d.replicas, 6);
  EXPECT_TRUE(d.limited_by_quota);
  EXPECT_EQ(d.reason, "cpu 140% of 70% target: 4 \u2192 8; capped at 6 by the tenant's quota");
  EXPECT_EQ(history.events, (std::vector<AutoscaleHistory::ScaleEvent>{{kT0, 4, 6}}));
  // Over the minimum too.
  in = input(3, {cpu(70)}, cpuPolicy(3, 10));
  in.quota = 2;
  history = {};
  d = decideReplicas(in, history, kT0);
  EXPECT_EQ(d.replicas, 2);
  EXPECT_EQ(d.reason,
            "within tolerance (cpu 70% of 70% target); capped at 2 by the tenant's quota");
  in.quota = 5;
  EXPECT_FALSE(decideReplicas(in, history, kT0).limited_by_quota);
}

TEST(AutoscalePlanTest, HistoryJsonRoundTrip) {
  AutoscaleHistory history;
  history.recommendations = {{at("2026-06-01T10:00:00Z"), 3},
                             {at("2026-06-01T10:00:15Z") + std::chrono::milliseconds(250), 5}};
  history.events = {{at("2026-06-01T10:00:15Z") + std::chrono::nanoseconds(1), 3, 5}};
  const json j = toJson(history);
  EXPECT_EQ(j, json::parse(R"({
    "recommendations": [{"at": "2026-06-01T10:00:00Z", "replicas": 3},
                        {"at": "2026-06-01T10:00:15.25Z", "replicas": 5}],
    "events": [{"at": "2026-06-01T10:00:15.000000001Z", "from": 3, "to": 5}]
  })"));
  EXPECT_EQ(autoscaleHistoryFrom(json::parse(j.dump())), history);

  // Damaged entries are dropped, not fatal.
  const auto damaged = autoscaleHistoryFrom(json::parse(R"({
    "recommendations": [{"at": "yesterday", "replicas": 1}, {"at": "2026-06-01T10:00:00Z",
                        "replicas": -1}, 5, {"at": "2026-06-01T10:00:00Z", "replicas": 3}],
    "events": "none"
  })"));
  EXPECT_EQ(damaged.recommendations,
            (std::vector<AutoscaleHistory::Recommendation>{{at("2026-06-01T10:00:00Z"), 3}}));
  EXPECT_TRUE(damaged.events.empty());
  EXPECT_EQ(autoscaleHistoryFrom(json("nope")), AutoscaleHistory{});
  EXPECT_EQ(autoscaleHistoryFrom(json()), AutoscaleHistory{});
}

TEST(AutoscalePlanTest, HistoryCarriesAcrossARestart) {
  // The same decisions whether the history stays in memory or goes through JSON between calls.
  const AutoscalePolicy p = cpuPolicy(1, 10);
  AutoscaleHistory kept;
  json stored = toJson(AutoscaleHistory{});
  const std::vector<std::pair<int, double>> steps = {{6, 70}, {6, 35}, {6, 35}, {6, 35}};
  for (size_t i = 0; i < steps.size(); ++i) {
    const TimePoint now = kT0 + seconds(150 * i);
    AutoscaleHistory restored = autoscaleHistoryFrom(stored);
    auto a = decideReplicas(input(steps[i].first, {cpu(steps[i].second)}, p), kept, now);
    auto b = decideReplicas(input(steps[i].first, {cpu(steps[i].second)}, p), restored, now);
    EXPECT_EQ(a.replicas, b.replicas) << i;
    EXPECT_EQ(a.reason, b.reason) << i;
    stored = toJson(restored);
  }
  EXPECT_EQ(autoscaleHistoryFrom(stored), kept);
}

TEST(AutoscalePlanTest, PolicyFromTheSpec) {
  auto policy = autoscalePolicy(json::parse(R"({
    "min": 2, "max": 12, "targetCPU": 60, "targetMemory": 80, "targetRequestsPerSecond": 50.5,
    "targetP99": "300ms", "scaleDownStabilizationSeconds": 120, "scaleUpStabilizationSeconds": 30,
    "tolerance": 0.05,
    "schedules": [{"cron": "0 8 * * MON-FRI", "min": 4, "max": 12, "timeZone": "America/New_York",
                   "duration": "10h"},
                  {"cron": "@daily", "max": 3}]
  })"));
  ASSERT_TRUE(policy.ok()) << policy.status().toString();
  EXPECT_EQ(policy->min, 2);
  EXPECT_EQ(policy->max, 12);
  EXPECT_EQ(policy->targets,
            (std::map<std::string, double>{
                {"cpu", 60}, {"memory", 80}, {"requestsPerSecond", 50.5}, {"p99", 0.3}}));
  EXPECT_EQ(policy->behavior.scale_down_stabilization, seconds(120));
  EXPECT_EQ(policy->behavior.scale_up_stabilization, seconds(30));
  EXPECT_EQ(policy->tolerance, 0.05);
  ASSERT_EQ(policy->schedules.size(), 2u);
  EXPECT_EQ(policy->schedules[0].describe(), "0 8 * * MON-FRI America/New_York");
  EXPECT_EQ(policy->schedules[0].duration, hours(10));
  EXPECT_EQ(policy->schedules[0].min, 4);
  EXPECT_EQ(policy->schedules[0].max, 12);
  EXPECT_EQ(policy->schedules[1].describe(), "@daily UTC");
  EXPECT_EQ(policy->schedules[1].duration, hours(1));
  EXPECT_EQ(policy->schedules[1].min, std::nullopt);

  auto defaults = autoscalePolicy(json::parse(R"({"max": 3})"));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->min, 1);
  EXPECT_EQ(defaults->tolerance, 0.1);
  EXPECT_EQ(defaults->behavior.scale_down_stabilization, seconds(300));
  EXPECT_EQ(defaults->behavior.scale_up_stabilization, seconds(0));
  EXPECT_TRUE(defaults->targets.empty());

  EXPECT_EQ(metricSamples(*policy, {{"cpu", 50}, {"disk", 10}}).size(), 1u);
  EXPECT_EQ(metricSamples(*policy, {{"cpu", 50}})[0].target, 60);
}

TEST(AutoscalePlanTest, PolicyErrorsNameTheField) {
  auto errors = [](const std::string& text) {
    auto policy = autoscalePolicy(json::parse(text), "spec.components[0].autoscale");
    EXPECT_FALSE(policy.ok()) << text;
    EXPECT_EQ(policy.status().code(), StatusCode::kInvalid);
    return policy.ok() ? std::vector<FieldError>{} : policy.status().fields();
  };
  EXPECT_EQ(errors(R"({"max": 3, "schedules": [{"cron": "0 8 * * *", "timeZone": "Mars/Base"}]})"),
            (std::vector<FieldError>{
                {"spec.components[0].autoscale.schedules[0].timeZone",
                 "unknown time zone \"Mars/Base\" (not in /usr/share/zoneinfo) (use an IANA name "
                 "like \"Europe/Berlin\" or \"UTC\")"}}));
  EXPECT_EQ(errors(R"({"max": 3, "schedules": [{"cron": "0 8 * *", "duration": "long"}]})"),
            (std::vector<FieldError>{
                {"spec.components[0].autoscale.schedules[0].cron",
                 "must be a cron schedule: expected 5 fields (minute hour day-of-month month "
                 "day-of-week), found 4"},
                {"spec.components[0].autoscale.schedules[0].duration",
                 "must be a duration above 0 like \"300ms\", \"30s\" or \"1h\", got \"long\""}}));
  EXPECT_EQ(
      errors(R"({"max": 3, "targetP99": "fast", "tolerance": 2, "min": "two"})"),
      (std::vector<FieldError>{
          {"spec.components[0].autoscale.min", "must be an integer from 0 to 1000000, got \"two\""},
          {"spec.components[0].autoscale.targetP99",
           "must be a duration above 0 like \"300ms\", \"30s\" or \"1h\", got \"fast\""},
          {"spec.components[0].autoscale.tolerance",
           "must be a number from 0 to below 1 (0.1 is 10%), got 2"}}));
  EXPECT_EQ(errors(R"({"min": 1})"),
            (std::vector<FieldError>{{"spec.components[0].autoscale.max", "is required"}}));
  EXPECT_EQ(
      errors(R"({"max": 3, "schedules": [7, {"min": 1}]})"),
      (std::vector<FieldError>{{"spec.components[0].autoscale.schedules[0]", "must be an object"},
                               {"spec.components[0].autoscale.schedules[1].cron", "is required"}}));
  EXPECT_EQ(errors(R"([1, 2])"),
            (std::vector<FieldError>{{"spec.components[0].autoscale", "must be an object"}}));
  EXPECT_EQ(autoscalePolicy(json::parse(R"({"max": 3})")).ok(), true);
}

}  // namespace
}  // namespace skiff
