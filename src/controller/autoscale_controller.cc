#include "controller/autoscale_controller.h"

#include <algorithm>
#include <cmath>

#include "controller/autoscale_plan.h"
#include "controller/footprint.h"
#include "model/well_known.h"

namespace skiff {

namespace {

// Rounded for status and events: a decision's inputs, not a time series.
json roundedMetrics(const std::map<std::string, double>& metrics) {
  json out = json::object();
  for (const auto& [name, value] : metrics) out[name] = std::round(value * 1000) / 1000;
  return out;
}

}  // namespace

int autoscaledReplicas(const json& component, const json& app_status) {
  const int replicas = component.value("replicas", 1);
  const json autoscale = component.value("autoscale", json::object());
  if (!autoscale.is_object() || autoscale.empty()) return replicas;
  const int min = autoscale.value("min", 1);
  const int max = std::max(min, autoscale.value("max", replicas));
  const json entry = app_status.value("autoscale", json::object())
                         .value("components", json::object())
                         .value(component.value("name", ""), json::object());
  // The autoscaler's count may lie outside min..max while a schedule overrides them.
  if (entry.is_object() && entry.contains("replicas") && entry["replicas"].is_number_integer())
    return std::max(0, entry["replicas"].get<int>());
  return std::clamp(replicas, min, max);
}

AutoscaleController::AutoscaleController(Store& store, const Clock& clock,
                                         observe::ComponentLoad& load, Options options)
    : store_(store), clock_(clock), load_(load), options_(options) {}

namespace {

// Cheap enough for the watch callback, which must not parse every application written: an
// application that merely mentions the word is looked at and found to have nothing to do.
bool mayAutoscale(const StoredObject& app) {
  return app.jsonText().find("\"autoscale\"") != std::string::npos;
}

}  // namespace

std::vector<WatchedKind> AutoscaleController::watches() const {
  return {{"Application", [](const StoredObject& o) -> std::optional<ObjectKey> {
             if (!mayAutoscale(o)) return std::nullopt;
             return o.key();
           }}};
}

void AutoscaleController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  enqueue_ = std::move(enqueue);
}

void AutoscaleController::measured() {
  if (!enqueue_) return;
  for (const StoredObjectPtr& app : store_.list("Application", {}).items)
    if (mayAutoscale(*app)) enqueue_(app->key());
}

Result<ReconcileResult> AutoscaleController::reconcile(const ObjectKey& key) {
  auto stored = store_.get(key);
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) return stored.status();
    std::lock_guard lock(mu_);
    kept_.erase(key);
    return ReconcileResult{};
  }
  const Object& app = (*stored)->object();
  if (!runsLocally(app.spec)) return ReconcileResult{};
  const auto now = clock_.now();
  const auto now_monotonic = clock_.monotonic();
  std::lock_guard lock(mu_);  // one application at a time touches kept_
  auto& kept = kept_[key];
  const json previous =
      app.status.value("autoscale", json::object()).value("components", json::object());

  // Ready instances per component, the count HPA's algorithm weighs scale-ups by.
  std::map<std::string, int> ready;
  for (const StoredObjectPtr& i : listOwnedBy(store_, "Instance", key).items) {
    const Object& instance = i->object();
    if (instance.status.value("ready", false) && !instance.spec.value("terminating", false))
      ++ready[instance.spec.value("component", "")];
  }

  json components = json::object();
  bool material = false;  // a change status must show now
  const json specs = app.spec.value("components", json::array());
  for (size_t index = 0; index < specs.size(); ++index) {
    const json& c = specs[index];
    if (!c.is_object() || !c.contains("autoscale") || !longRunning(c)) continue;
    const std::string name = c.value("name", "");
    json entry = previous.value(name, json::object());
    if (!entry.is_object()) entry = json::object();
    auto policy =
        autoscalePolicy(c["autoscale"], "spec.components[" + std::to_string(index) + "].autoscale");
    if (!policy.ok()) {
      entry["error"] = policy.status().toString();
      components[name] = entry;
      continue;
    }
    entry.erase("error");
    const std::map<std::string, double> measured = load_.measure(key.tenant, key.name, name);
    AutoscaleInput input;
    input.current_replicas = autoscaledReplicas(c, app.status);
    input.ready_replicas = ready[name];
    input.metrics = metricSamples(*policy, measured);
    input.policy = std::move(policy).value();
    auto [k, seeded] = kept.try_emplace(name);
    if (seeded) k->second.history = autoscaleHistoryFrom(entry.value("history", json::object()));
    const AutoscaleDecision decision = decideReplicas(input, k->second.history, now);

    // The reason and the metrics change with every measurement (and a rate with the moment it
    // is read), so they alone never make a write: status would otherwise feed this controller
    // its own writes. They are refreshed with the next write, at least every resync.
    const bool first = !entry.contains("replicas");
    material = material || first || entry.value("replicas", -1) != decision.replicas ||
               entry.value("recommendation", -1) != decision.recommendation;
    if (material || now_monotonic - k->second.written >= options_.resync) {
      k->second.written = now_monotonic;
      material = true;
    }
    entry["replicas"] = decision.replicas;
    entry["recommendation"] = decision.recommendation;
    entry["metrics"] = roundedMetrics(decision.metrics);
    entry["reason"] = decision.reason;
    entry["history"] = toJson(k->second.history);
    if (decision.changed || first) {
      json decisions = entry.value("decisions", json::array());
      decisions.push_back({{"at", formatTimestamp(now)},
                           {"from", input.current_replicas},
                           {"to", decision.replicas},
                           {"reason", decision.reason},
                           {"metrics", roundedMetrics(decision.metrics)}});
      while (decisions.size() > options_.decisions_kept) decisions.erase(decisions.begin());
      entry["decisions"] = decisions;
      entry["lastScaleTime"] = formatTimestamp(now);
    }
    components[name] = entry;
  }

  for (auto it = kept.begin(); it != kept.end();)
    it = components.contains(it->first) ? std::next(it) : kept.erase(it);
  Object updated = app;
  if (components.empty())
    updated.status.erase("autoscale");
  else
    updated.status["autoscale"] = {{"components", components}};
  if ((material || components.empty()) && updated.status != app.status) {
    UpdateOptions update;
    update.status_only = true;
    auto written = store_.update(std::move(updated), update);
    if (!written.ok()) return written.status();
  }
  return ReconcileResult{options_.resync};
}

}  // namespace skiff
