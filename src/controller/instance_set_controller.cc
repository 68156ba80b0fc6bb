#include "controller/instance_set_controller.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>

#include "controller/revision_controller.h"
#include "controller/rollout_plan.h"
#include "model/well_known.h"

namespace skiff {

namespace {

bool terminating(const Object& instance) { return instance.spec.value("terminating", false); }
bool ready(const Object& instance) { return instance.status.value("ready", false); }

// Why `instance` will not become ready by waiting ("instance demo-web-x2f4k: CrashLoopBackOff:
// exited (Error, code 1): ..."), or empty while it may still.
std::string failure(const Object& instance) {
  const json* cond = findCondition(instance.status, "Ready");
  if (cond == nullptr || cond->value("status", "") == "True") return "";
  const std::string reason = cond->value("reason", "");
  if (reason != "CrashLoopBackOff" && reason != "StartFailed") return "";
  return "instance " + instance.metadata.name + ": " + reason + ": " + cond->value("message", "");
}

std::string randomSuffix() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";  // no vowels: no words
  std::string out;
  for (int i = 0; i < 5; ++i) out += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return out;
}

// Long-running components are the ones this controller keeps instances of.
bool longRunning(const json& component) {
  const std::string type = component.value("type", "service");
  return type == "service" || type == "stateful";
}

// The next step for a stateful component (Kubernetes' OrderedReady + RollingUpdate): remove
// ordinals beyond `desired` from the highest down; create the lowest missing ordinal once all
// below it are ready; when all are present and ready, replace the highest one still on an old
// revision. One change at a time.
struct OrderedStep {
  std::optional<int> create;
  std::optional<std::string> retire;
};
OrderedStep planOrdered(const std::vector<Object>& instances, const std::string& hash,
                        int desired) {
  std::map<int, const Object*> by_ordinal;
  for (const auto& i : instances) by_ordinal[i.spec.value("ordinal", 0)] = &i;
  OrderedStep step;
  if (!by_ordinal.empty() && by_ordinal.rbegin()->first >= desired) {
    step.retire = by_ordinal.rbegin()->second->metadata.name;
    return step;
  }
  for (int k = 0; k < desired; ++k) {
    auto it = by_ordinal.find(k);
    if (it == by_ordinal.end()) {
      step.create = k;
      return step;
    }
    if (!ready(*it->second)) return step;  // wait for it before touching the next
  }
  for (auto it = by_ordinal.rbegin(); it != by_ordinal.rend(); ++it) {
    auto label = it->second->metadata.labels.find(kTemplateHashLabel);
    if (label == it->second->metadata.labels.end() || label->second != hash) {
      step.retire = it->second->metadata.name;
      return step;
    }
  }
  return step;
}

}  // namespace

std::string templateHash(const json& component, const json& config_versions) {
  json t = component;
  t.erase("replicas");
  t.erase("autoscale");
  if (!config_versions.empty())
    for (const std::string& ref : configRefs(component))
      t["configVersions"][ref] = config_versions.value(ref, int64_t{0});
  // FNV-1a over the canonical dump (object keys are sorted): stable across restarts.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : t.dump()) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 10);
}

std::vector<WatchedKind> InstanceSetController::watches() const {
  return {
      {"Application", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); }},
      {"Instance", owningApplication},
  };
}

Status InstanceSetController::createInstance(const Object& app, const json& component,
                                             int64_t revision, const std::string& hash,
                                             std::optional<int> ordinal) {
  const std::string component_name = component.value("name", "");
  Object instance;
  instance.kind = "Instance";
  instance.metadata.tenant = app.metadata.tenant;
  instance.metadata.name =
      app.metadata.name + "-" + component_name + "-" +
      (ordinal ? std::to_string(*ordinal) : std::to_string(revision) + "-" + randomSuffix());
  instance.metadata.labels[kApplicationLabel] = app.metadata.name;
  instance.metadata.labels[kComponentLabel] = component_name;
  instance.metadata.labels[kTemplateHashLabel] = hash;
  instance.spec = {{"application", app.metadata.name},
                   {"component", component_name},
                   {"revision", revision},
                   {"node", "local"}};
  if (ordinal) instance.spec["ordinal"] = *ordinal;
  auto created = store_.create(std::move(instance));
  return created.ok() ? Status::ok() : created.status();
}

Status InstanceSetController::retire(const StoredObjectPtr& stored) {
  Object instance = stored->object();
  if (terminating(instance)) return Status::ok();
  instance.spec["terminating"] = true;
  auto updated = store_.update(std::move(instance));
  return updated.ok() ? Status::ok() : updated.status();
}

Result<ReconcileResult> InstanceSetController::reconcile(const ObjectKey& key) {
  ObjectList listed = listOwnedBy(store_, "Instance", key);
  // Instances that mirror a cluster's pods (kube_pod_mirror.h) are the kubernetes backend's:
  // nothing runs them here, so they are neither retired nor counted; they only go with their
  // application, even when its cluster no longer answers.
  std::vector<StoredObjectPtr> mirrored;
  std::erase_if(listed.items, [&](const StoredObjectPtr& i) {
    if (!i->metadata.labels.count(kClusterLabel)) return false;
    mirrored.push_back(i);
    return true;
  });

  auto app_snapshot = store_.get(key);
  if (!app_snapshot.ok()) {
    if (app_snapshot.status().code() != StatusCode::kNotFound) return app_snapshot.status();
    for (const auto& i : listed.items)
      if (Status s = retire(i); !s.isOk()) return s;
    for (const auto& i : mirrored) {
      auto removed = store_.remove(i->key(), i->resourceVersion());
      if (!removed.ok() && removed.status().code() != StatusCode::kNotFound)
        return removed.status();
    }
    return ReconcileResult{};
  }
  const Object app = (*app_snapshot)->object();
  const int64_t target = app.status.value("latestRevision", int64_t{0});
  if (target == 0) return ReconcileResult{};  // the revision controller has not run yet
  auto revision = store_.get({"Revision", key.tenant, revisionName(key.name, target)});
  if (!revision.ok()) return revision.status();
  const json template_spec = (*revision)->object().spec.value("template", json::object());
  if (template_spec.value("cluster", "local") != "local") {
    // Runs on a Kubernetes cluster (KubeApplicationController): nothing of it runs here.
    for (const auto& i : listed.items)
      if (Status s = retire(i); !s.isOk()) return s;
    return ReconcileResult{};
  }
  const json config_versions = (*revision)->object().spec.value("configVersions", json::object());
  const bool paused = app.metadata.annotations.count(kPausedAnnotation) &&
                      app.metadata.annotations.at(kPausedAnnotation) == "true";

  // Live (not retiring) instances by component; instances of vanished components retire.
  std::map<std::string, std::vector<std::pair<StoredObjectPtr, Object>>> live;
  std::map<std::string, std::vector<Object>> retiring;  // still stopping: their names are taken
  std::set<std::string> wanted;
  for (const auto& c : template_spec.value("components", json::array()))
    if (longRunning(c)) wanted.insert(c.value("name", ""));
  for (const auto& stored : listed.items) {
    Object instance = stored->object();
    const std::string component = instance.spec.value("component", "");
    if (terminating(instance)) {
      retiring[component].push_back(std::move(instance));
      continue;
    }
    if (!wanted.count(component)) {
      if (Status s = retire(stored); !s.isOk()) return s;
      continue;
    }
    live[component].emplace_back(stored, std::move(instance));
  }

  json components = json::object();
  bool all_available = true, all_done = true;
  std::string failures;  // the first instance of the target revision that is failing
  for (const auto& c : template_spec.value("components", json::array())) {
    if (!longRunning(c)) continue;
    const std::string name = c.value("name", "");
    const int desired = c.value("replicas", 1);
    auto& instances = live[name];
    const RolloutBudget budget = rolloutBudget(c.value("rollout", json::object()), desired);
    const std::string hash = templateHash(c, config_versions);
    auto is_current = [&](const Object& i) {
      auto label = i.metadata.labels.find(kTemplateHashLabel);
      return label != i.metadata.labels.end() && label->second == hash;
    };
    int ready_count = 0, updated = 0;
    std::string failing;
    for (const auto& [stored, i] : instances) {
      if (ready(i)) ++ready_count;
      if (is_current(i)) ++updated;
      if (is_current(i) && failing.empty()) failing = failure(i);
    }
    components[name] = {{"desired", desired},
                        {"current", instances.size()},
                        {"ready", ready_count},
                        {"updated", updated}};
    if (!failing.empty()) {
      components[name]["failing"] = failing;
      if (failures.empty()) failures = "component " + name + ": " + failing;
    }
    all_available = all_available && ready_count >= desired - budget.unavailable;
    all_done = all_done && updated == desired && ready_count == desired &&
               static_cast<int>(instances.size()) == desired;
    if (paused) continue;

    if (c.value("type", "service") == "stateful") {
      // An ordinal whose previous instance is still stopping is not free yet.
      std::vector<Object> objects = retiring[name];
      for (const auto& [stored, i] : instances) objects.push_back(i);
      OrderedStep step = planOrdered(objects, hash, desired);
      if (step.create) {
        if (Status s = createInstance(app, c, target, hash, step.create); !s.isOk()) return s;
      }
      for (const auto& [stored, i] : instances)
        if (step.retire && i.metadata.name == *step.retire) {
          if (Status s = retire(stored); !s.isOk()) return s;
        }
      continue;
    }
    std::vector<InstanceView> views;
    for (const auto& [stored, i] : instances)
      views.push_back({i.metadata.name, is_current(i), ready(i)});
    RolloutPlan plan = planRollout(views, desired, budget);
    for (const auto& [stored, i] : instances)
      if (std::find(plan.retire.begin(), plan.retire.end(), i.metadata.name) != plan.retire.end()) {
        if (Status s = retire(stored); !s.isOk()) return s;
      }
    for (int n = 0; n < plan.create; ++n)
      if (Status s = createInstance(app, c, target, hash, std::nullopt); !s.isOk()) return s;
  }

  // Status, merged into what other controllers wrote.
  Object updated_app = app;
  json& status = updated_app.status;
  const std::string now = formatTimestamp(clock_.now());
  status["components"] = components;
  // The revision that `components` and the conditions below describe.
  status["observedRevision"] = target;
  setRolloutConditions(status, {target, all_available, all_done, paused, failures}, now);
  if (status != app.status) {
    UpdateOptions update;
    update.status_only = true;
    auto written = store_.update(std::move(updated_app), update);
    if (!written.ok()) return written.status();
  }
  return ReconcileResult{};
}

}  // namespace skiff
