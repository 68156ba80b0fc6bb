#include "controller/deploy_plan.h"

#include <cmath>
#include <cstdio>

#include "controller/footprint.h"
#include "controller/release_plan.h"
#include "controller/rollout_plan.h"
#include "model/formats.h"

namespace skiff {
namespace {

void diffInto(const json& from, const json& to, const std::string& path, json& out) {
  if (from == to) return;
  if (from.is_object() && to.is_object()) {
    for (const auto& [key, value] : from.items())
      diffInto(value, to.contains(key) ? to[key] : json(), path.empty() ? key : path + "." + key,
               out);
    for (const auto& [key, value] : to.items())
      if (!from.contains(key)) diffInto(json(), value, path.empty() ? key : path + "." + key, out);
    return;
  }
  // Arrays of named items (components, ports, routes with names) pair up by name.
  auto named = [](const json& a) {
    if (!a.is_array() || a.empty()) return false;
    for (const auto& item : a)
      if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) return false;
    return true;
  };
  if (named(from) && named(to)) {
    auto find = [](const json& a, const std::string& name) {
      for (const auto& item : a)
        if (item["name"] == name) return item;
      return json();
    };
    for (const auto& item : from)
      diffInto(item, find(to, item["name"]), path + "[" + item["name"].get<std::string>() + "]",
               out);
    for (const auto& item : to)
      if (find(from, item["name"]).is_null())
        diffInto(json(), item, path + "[" + item["name"].get<std::string>() + "]", out);
    return;
  }
  out.push_back({{"path", path}, {"from", from}, {"to", to}});
}

const json* componentNamed(const json& spec, const std::string& name) {
  if (!spec.is_object()) return nullptr;
  auto components = spec.find("components");
  if (components == spec.end() || !components->is_array()) return nullptr;
  for (const auto& c : *components)
    if (c.value("name", "") == name) return &c;
  return nullptr;
}

std::string seconds(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

// The steps of a release of `c` (the new component) replacing `before`.
json releaseSchedule(const json& c, const json& before, int64_t& minimum_seconds) {
  const json rollout = c.value("rollout", json::object());
  const std::string strategy = rollout.value("strategy", "rolling");
  const int replicas = c.value("replicas", 1);
  const int old_replicas = before.value("replicas", 1);
  json steps = json::array();
  int64_t at = 0;
  int canary_before = 0;
  for (const ReleaseStep& step : releaseSteps(rollout, replicas)) {
    json s = {{"weight", step.weight},
              {"canaryInstances", step.canary_replicas},
              {"stableInstances", old_replicas},
              {"start", std::max(0, step.canary_replicas - canary_before)},
              {"stop", 0},
              {"atSeconds", at}};
    if (step.pause.count() > 0) s["pause"] = seconds(step.pause);
    if (step.await_promote) s["gate"] = "skiff rollout promote";
    at += step.pause.count();
    canary_before = step.canary_replicas;
    steps.push_back(std::move(s));
  }
  // Promotion: the canary set joins the stable set and the rest rolls (blue-green: the
  // replaced set stays warm, then stops).
  json promote = {{"weight", 100}, {"atSeconds", at}, {"promote", true}};
  if (strategy == "bluegreen") {
    const auto warm = std::chrono::seconds(
        std::llround(parseDurationSeconds(rollout.value("keepWarm", "5m")).value_or(300)));
    promote["start"] = 0;
    promote["stop"] = 0;
    promote["warm"] = old_replicas;
    steps.push_back(promote);
    steps.push_back({{"atSeconds", at + warm.count()},
                     {"start", 0},
                     {"stop", old_replicas},
                     {"note", "the replaced set stops after keepWarm " + seconds(warm)}});
  } else {
    promote["start"] = std::max(0, replicas - canary_before);
    promote["stop"] = old_replicas;
    steps.push_back(promote);
  }
  minimum_seconds = at;
  return steps;
}

json analysisOf(const json& rollout) {
  const AnalysisSpec a = analysisSpec(rollout);
  json out = {{"interval", seconds(a.interval)},
              {"minRequests", a.min_requests},
              {"failureLimit", a.failure_limit}};
  char rate[48];
  if (a.max_error_rate)
    std::snprintf(rate, sizeof rate, "at most %.2f%%", *a.max_error_rate * 100);
  else
    std::snprintf(rate, sizeof rate, "at most the stable set's + %.0f point",
                  a.max_error_increase * 100);
  out["errorRate"] = rate;
  if (a.max_p99_seconds)
    out["p99"] = "at most " + std::to_string(std::llround(*a.max_p99_seconds * 1000)) + "ms";
  for (const AnalysisCheck& c : a.checks)
    out["checks"].push_back("GET " + c.path + " on port " + c.port.dump() + " answers " +
                            std::to_string(c.expect_status));
  return out;
}

}  // namespace

json changedFields(const json& from, const json& to) {
  json out = json::array();
  diffInto(from, to, "", out);
  return out;
}

json deployPlan(const PlanInput& input) {
  const bool changes = input.current.is_null() || input.current != input.next;
  json plan = {{"application", input.application},
               {"currentRevision", input.current_revision},
               {"nextRevision", changes ? json(input.current_revision + 1) : json()},
               {"changes", changedFields(input.current.is_null() ? json::object() : input.current,
                                         input.next)},
               {"quota", {{"allowed", input.quota_problem.empty()}}},
               {"currentSpec", input.current},
               {"spec", input.next}};
  if (!input.quota_problem.empty()) plan["quota"]["problem"] = input.quota_problem;
  json components = json::array();
  for (const auto& c : input.next.value("components", json::array())) {
    const std::string name = c.value("name", "");
    const json* before = componentNamed(input.current, name);
    const json rollout = c.value("rollout", json::object());
    json entry = {{"name", name},
                  {"type", c.value("type", "service")},
                  {"strategy", rollout.value("strategy", "rolling")},
                  {"replicas", c.value("replicas", 1)}};
    int64_t minimum = 0;
    if (before == nullptr) {
      entry["change"] = "added";
      if (longRunning(c)) entry["steps"] = {{{"start", c.value("replicas", 1)}, {"stop", 0}}};
    } else if (*before == c) {
      entry["change"] = "none";
    } else if (podShape(*before) == podShape(c)) {
      // Replicas, autoscaling, routes or the rollout itself: no new instances for replicas.
      json b = *before, n = c;
      b.erase("replicas");
      n.erase("replicas");
      entry["change"] = b == n ? "scale" : "update";
      if (entry["change"] == "scale") {
        const int delta = c.value("replicas", 1) - before->value("replicas", 1);
        entry["steps"] = {{{"start", std::max(0, delta)}, {"stop", std::max(0, -delta)}}};
      } else if (longRunning(c)) {
        entry["steps"] = {{{"start", c.value("replicas", 1)},
                           {"stop", before->value("replicas", 1)},
                           {"note",
                            "rolled as the rolling strategy does: the release strategy "
                            "applies to changes of what the instances run"}}};
      }
    } else if (progressive(c)) {
      entry["change"] = "release";
      entry["steps"] = releaseSchedule(c, *before, minimum);
      entry["analysis"] = analysisOf(rollout);
    } else {
      entry["change"] = "rolling";
      if (longRunning(c)) {
        const RolloutBudget budget = rolloutBudget(rollout, c.value("replicas", 1));
        entry["steps"] = {{{"start", c.value("replicas", 1)},
                           {"stop", before->value("replicas", 1)},
                           {"maxSurge", budget.surge},
                           {"maxUnavailable", budget.unavailable}}};
      }
    }
    entry["minimumSeconds"] = minimum;
    components.push_back(std::move(entry));
  }
  if (input.current.is_object()) {
    for (const auto& c : input.current.value("components", json::array()))
      if (componentNamed(input.next, c.value("name", "")) == nullptr)
        components.push_back({{"name", c.value("name", "")},
                              {"change", "removed"},
                              {"steps", {{{"start", 0}, {"stop", c.value("replicas", 1)}}}}});
  }
  plan["components"] = std::move(components);
  return plan;
}

}  // namespace skiff
