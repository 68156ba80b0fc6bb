#include "controller/release_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/clock.h"
#include "model/formats.h"

namespace skiff {

bool progressive(const json& component) {
  const std::string strategy =
      component.value("rollout", json::object()).value("strategy", "rolling");
  return component.value("type", "service") == "service" && strategy != "rolling";
}

json podShape(json component) {
  for (const char* key : {"replicas", "autoscale", "routes", "rollout"}) component.erase(key);
  return component;
}

CarriedRelease carriedRelease(const json& previous, int64_t target, const json& component,
                              const std::function<json(int64_t revision)>& component_at) {
  if (!previous.is_object()) return {{}, target};
  const int64_t since = previous.value("revision", int64_t{0});
  if (since == target) return {componentReleaseFrom(previous), since};
  const json then = since == 0 ? json() : component_at(since);
  if (then.is_object() && podShape(then) == podShape(component))
    return {componentReleaseFrom(previous), since};
  return {{}, target};
}

std::vector<ReleaseStep> releaseSteps(const json& rollout, int replicas) {
  const std::string strategy = rollout.value("strategy", "rolling");
  const bool auto_promote = rollout.value("autoPromote", true);
  std::vector<ReleaseStep> steps;
  if (strategy == "canary") {
    for (const auto& s : rollout.value("steps", json::array())) {
      ReleaseStep step;
      step.weight = s.value("weight", 100);
      // At least one instance, or the canary takes traffic it cannot serve.
      step.canary_replicas =
          replicas == 0 ? 0
                        : std::max(1, static_cast<int>(std::ceil(replicas * step.weight / 100.0)));
      if (s.contains("pause")) {
        const double pause = parseDurationSeconds(s["pause"].get<std::string>()).value_or(0);
        step.pause = std::chrono::seconds(static_cast<int64_t>(std::ceil(pause)));
      }
      steps.push_back(step);
    }
  } else if (strategy == "bluegreen") {
    // With an analysis, the new set is judged (on its preview's traffic and its checks) for one
    // interval before the switch.
    std::chrono::seconds judged{0};
    if (rollout.contains("analysis")) judged = analysisSpec(rollout).interval;
    steps.push_back({0, replicas, judged, false});
    steps.push_back({100, replicas, std::chrono::seconds(0), false});
  }
  // Without autoPromote a person decides when the new set has earned all the traffic: for a
  // canary after its last step, for blue-green before the switch.
  if (!auto_promote && !steps.empty())
    steps[strategy == "bluegreen" ? 0 : steps.size() - 1].await_promote = true;
  return steps;
}

json toJson(const ComponentRelease& release) {
  json out = {{"step", release.step}};
  if (!release.ready_since.empty()) out["readySince"] = release.ready_since;
  if (release.failures > 0) out["analysisFailures"] = release.failures;
  if (const auto& a = release.aborted) {
    out["aborted"] = {{"metric", a->metric}, {"at", a->at}, {"message", a->message}};
    if (a->metric == "errorRate" || a->metric == "p99" || a->metric == "httpCheck") {
      out["aborted"]["value"] = a->value;
      out["aborted"]["threshold"] = a->threshold;
    }
  }
  return out;
}

ComponentRelease componentReleaseFrom(const json& value) {
  ComponentRelease release;
  if (!value.is_object()) return release;
  release.step = std::max(0, value.value("step", 0));
  release.ready_since = value.value("readySince", "");
  release.failures = std::max(0, value.value("analysisFailures", 0));
  if (auto a = value.find("aborted"); a != value.end() && a->is_object())
    release.aborted =
        ReleaseAbort{a->value("metric", ""), a->value("value", 0.0), a->value("threshold", 0.0),
                     a->value("at", ""), a->value("message", "")};
  return release;
}

AnalysisSpec analysisSpec(const json& rollout) {
  AnalysisSpec spec;
  const json analysis = rollout.value("analysis", json::object());
  if (auto interval = parseDurationSeconds(analysis.value("interval", "30s")))
    spec.interval = std::chrono::seconds(std::max<int64_t>(1, std::llround(*interval)));
  if (analysis.contains("maxErrorRate"))
    spec.max_error_rate = analysis["maxErrorRate"].get<double>();
  if (analysis.contains("maxP99"))
    spec.max_p99_seconds = parseDurationSeconds(analysis["maxP99"].get<std::string>());
  spec.min_requests = analysis.value("minRequests", uint64_t{20});
  spec.failure_limit = std::max(1, analysis.value("failureLimit", 1));
  for (const auto& c : analysis.value("checks", json::array()))
    spec.checks.push_back(
        {c.value("path", "/"), c.value("port", json()), c.value("expectStatus", 200)});
  return spec;
}

namespace {

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", rate * 100);
  return buf;
}

std::string millis(double seconds) { return std::to_string(std::llround(seconds * 1000)) + "ms"; }

}  // namespace

std::optional<ReleaseAbort> judge(const AnalysisSpec& spec,
                                  const observe::RevisionComparison& traffic) {
  const observe::TrafficWindow& canary = traffic.revision;
  if (canary.requests < spec.min_requests) return std::nullopt;
  const std::string over = " over the last " + std::to_string(traffic.span.count()) + "s (" +
                           std::to_string(canary.requests) + " requests)";
  const double stable_rate = traffic.others.errorRate();
  const double error_threshold =
      spec.max_error_rate.value_or(std::min(1.0, stable_rate + spec.max_error_increase));
  if (canary.errorRate() > error_threshold) {
    std::string why = spec.max_error_rate ? "maxErrorRate " + percent(error_threshold)
                                          : "the stable set's " + percent(stable_rate) + " + " +
                                                percent(spec.max_error_increase);
    return ReleaseAbort{"errorRate", canary.errorRate(), error_threshold, "",
                        "error rate " + percent(canary.errorRate()) + over + " exceeds " + why};
  }
  if (spec.max_p99_seconds && canary.p99_seconds > *spec.max_p99_seconds)
    return ReleaseAbort{"p99", canary.p99_seconds, *spec.max_p99_seconds, "",
                        "p99 latency " + millis(canary.p99_seconds) + over + " exceeds maxP99 " +
                            millis(*spec.max_p99_seconds)};
  return std::nullopt;
}

const ReleaseStep& stepInForce(const std::vector<ReleaseStep>& steps,
                               const ComponentRelease& release) {
  return steps[std::min<size_t>(release.step, steps.size() - 1)];
}

ReleaseDecision advanceRelease(const std::vector<ReleaseStep>& steps,
                               const ComponentRelease& current, const ReleaseObservation& seen) {
  ReleaseDecision d{current};
  if (current.aborted) return d;  // until another revision
  const int promoting = static_cast<int>(steps.size());
  if (seen.abort && current.step < promoting) {
    // Each breach counts towards the limit (1 for a person's abort: at once).
    d.next.failures = current.failures + 1;
    if (d.next.failures >= seen.failure_limit) {
      d.next.aborted = *seen.abort;
      d.next.aborted->at = formatTimestamp(seen.now);
      return d;
    }
  } else {
    d.next.failures = 0;
  }
  if (seen.promoted_full && current.step < promoting) {
    d.next = ComponentRelease{promoting, "", 0, std::nullopt};
    return d;
  }
  if (current.step >= promoting) {
    d.next.step = promoting;
    d.done = seen.stable_ready;
    return d;
  }
  // The pause measures a healthy canary: it starts again whenever the set is not ready.
  if (!seen.canary_ready) {
    d.next.ready_since.clear();
    return d;
  }
  auto since = seen.now;
  if (current.ready_since.empty() || !parseTimestamp(current.ready_since, &since))
    d.next.ready_since = formatTimestamp(seen.now);
  if (seen.paused) return d;
  const ReleaseStep& step = steps[current.step];
  const auto elapsed = seen.now - since;
  if (elapsed < step.pause) {
    d.recheck = std::chrono::ceil<std::chrono::seconds>(step.pause - elapsed);
    return d;
  }
  if (step.await_promote && !seen.promoted) return d;
  d.next = ComponentRelease{current.step + 1, "", 0, std::nullopt};
  return d;
}

}  // namespace skiff
