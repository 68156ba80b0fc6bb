// The autoscaler's decision, kept free of I/O like rollout_plan.h: from a component's
// autoscale spec, its replica counts and the metrics measured over its instances, how many
// replicas it should run now. The algorithm is Kubernetes' HorizontalPodAutoscaler's
// (autoscaling/v2 with its default behavior):
//
//   1. Per metric, ratio = current / target. Within the tolerance (|ratio - 1| <= 0.1) the metric
//      wants the current count; else ceil(current replicas × ratio). While some instances are not
//      ready, a scale-up counts them as idle: ratio × ready / current must still be above the
//      tolerance, and then the metric wants ceil(ready × ratio). The largest want over the
//      metrics is the recommendation; without metrics it is the current count.
//   2. Stabilisation: the recommendation is remembered (AutoscaleHistory). A scale-down goes no
//      lower than the largest recommendation of the last scaleDownStabilizationSeconds (300), a
//      scale-up no higher than the smallest of the last scaleUpStabilizationSeconds (0).
//   3. Rate limits: per period (15 s), a scale-up adds at most max(100%, 4 pods) of the count at
//      the period's start, a scale-down removes at most 100% of it (Behavior).
//   4. Bounds: min and max, as active schedules override them (below); unlike the rate limits
//      they apply at once, as the HPA moves a workload outside them straight to the bound.
//   5. Quota: the tenant's ceiling on replicas, applied last; it wins over min.
//
// Min 0: a component may run no instances, but only while every metric reads 0 (a service with
// no traffic); otherwise the floor is max(min, 1). With no replicas, a metric's value is taken
// as the total for the component (there is no per-instance average of nothing): the metric wants
// ceil(value / target) instances.
//
// Schedules: a schedule (a cron expression in a time zone) opens a window of `duration` at each
// firing; while it is open its min and/or max replace the spec's. When several windows are open
// the largest min and the largest max win. If the resulting min exceeds the max, the one set by
// a schedule wins over the spec's; when both come from schedules, the min wins.
//
// The caller keeps the AutoscaleHistory between calls (the controller stores it in the
// Application's status, so a restarted server goes on where it was) and is assumed to apply
// every decision: a changed decision is recorded as a scale event for the rate limits. Time is
// always passed in. Everything here is a pure function of its arguments; thread-compatible.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/cron.h"
#include "common/status.h"
#include "common/time_zone.h"
#include "model/object.h"

namespace skiff {

// The metric names the autoscaler knows, with the unit of their values.
inline constexpr const char* kMetricCpu = "cpu";        // % of the CPU request, per instance
inline constexpr const char* kMetricMemory = "memory";  // % of the memory request, per instance
inline constexpr const char* kMetricRequestsPerSecond = "requestsPerSecond";  // per instance
inline constexpr const char* kMetricP99 = "p99";  // seconds, the 99th percentile latency

// One measured metric and its target. A metric that could not be measured is left out.
struct MetricSample {
  std::string name;
  double current = 0;
  double target = 0;
};

// How fast replicas may change in one direction: per `period`, at most the larger of `percent`%
// of the count at the period's start and `pods` replicas. Both 0: no change in that direction.
struct ScalingLimit {
  int percent = 100;
  int pods = 0;
  std::chrono::seconds period{15};
};

// The HPA's default behavior.
struct Behavior {
  std::chrono::seconds scale_up_stabilization{0};
  std::chrono::seconds scale_down_stabilization{300};
  ScalingLimit scale_up{100, 4, std::chrono::seconds(15)};
  ScalingLimit scale_down{100, 0, std::chrono::seconds(15)};
};

// A schedule of an autoscale spec: while a window it opened is open, min/max replace the spec's.
struct AutoscaleSchedule {
  CronSchedule cron;
  TimeZone zone;
  std::chrono::seconds duration{3600};
  std::optional<int> min;
  std::optional<int> max;
  // For people: "0 8 * * 1-5 Europe/Berlin".
  std::string describe() const { return cron.text() + " " + zone.name(); }
};

// A component's autoscale spec, read once (autoscalePolicy()).
struct AutoscalePolicy {
  int min = 1;
  int max = 1;
  // Targets by metric name (kMetric*): utilisation % for cpu and memory, requests per second per
  // instance, p99 latency in seconds.
  std::map<std::string, double> targets;
  double tolerance = 0.1;
  Behavior behavior;
  std::vector<AutoscaleSchedule> schedules;
};

// The policy of a component's `autoscale` object (model/schemas.cc, autoscale()) and the fields
// read beside it: targetP99 (a duration, "300ms"), scaleUpStabilizationSeconds, tolerance, and per
// schedule timeZone (default "UTC") and duration (window length, default "1h"). Errors (kInvalid)
// carry field paths under `path`, e.g. "spec.components[0].autoscale.schedules[1].timeZone".
Result<AutoscalePolicy> autoscalePolicy(const json& autoscale,
                                        const std::string& path = "autoscale");

// The samples for `policy`'s targets from the values measured (by metric name); a target
// without a measured value is left out.
std::vector<MetricSample> metricSamples(const AutoscalePolicy& policy,
                                        const std::map<std::string, double>& measured);

struct AutoscaleInput {
  int current_replicas = 0;
  int ready_replicas = 0;
  std::vector<MetricSample> metrics;
  AutoscalePolicy policy;
  std::optional<int> quota;  // the most replicas the tenant's quota leaves this component
};

// What the caller keeps between decisions; a plain value.
struct AutoscaleHistory {
  struct Recommendation {
    std::chrono::system_clock::time_point at;
    int replicas = 0;
    bool operator==(const Recommendation&) const = default;
  };
  struct ScaleEvent {
    std::chrono::system_clock::time_point at;
    int from = 0;
    int to = 0;
    bool operator==(const ScaleEvent&) const = default;
  };
  std::vector<Recommendation> recommendations;  // oldest first
  std::vector<ScaleEvent> events;               // oldest first
  bool operator==(const AutoscaleHistory&) const = default;
};
// {"recommendations": [{"at": RFC 3339, "replicas": n}], "events": [{"at", "from", "to"}]}.
json toJson(const AutoscaleHistory& history);
// The inverse of toJson(); entries that are malformed are dropped (the history only tempers
// decisions, and a damaged one must not stop the autoscaler).
AutoscaleHistory autoscaleHistoryFrom(const json& value);

struct AutoscaleDecision {
  int replicas = 0;
  bool changed = false;  // replicas != the current count
  // One line for people, e.g. "cpu 142% of 70% target: 2 → 5", then "; " and what changed or
  // held that ("held by scale-down stabilisation (max recommendation 4 in the last 300s)").
  std::string reason;
  std::map<std::string, double> metrics;  // the measured values the decision used, by name
  int recommendation = 0;                 // what the metrics alone want
  bool limited_by_stabilization = false;
  bool limited_by_rate = false;
  bool limited_by_bounds = false;  // min or max (the spec's or a schedule's) moved it
  bool limited_by_quota = false;
  std::string schedule;  // the schedule whose min or max moved it ("" none)
};

// The decision at `now`; `history` is updated: the recommendation is added and, when the count
// changes, the scale event. Entries older than their window are dropped, and so are earlier
// recommendations equal to the new one (they cannot change a decision any more), so the history
// stays small however often this is called.
AutoscaleDecision decideReplicas(const AutoscaleInput& in, AutoscaleHistory& history,
                                 std::chrono::system_clock::time_point now);

}  // namespace skiff
