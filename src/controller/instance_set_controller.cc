#include "controller/instance_set_controller.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>

#include "controller/autoscale_controller.h"
#include "controller/footprint.h"
#include "controller/release_plan.h"
#include "controller/revision_controller.h"
#include "controller/rollout_plan.h"
#include "model/formats.h"
#include "model/well_known.h"
#include "net/http_client.h"

namespace skiff {

namespace {

bool terminating(const Object& instance) { return instance.spec.value("terminating", false); }
std::string labelOf(const Object& instance, const char* label) {
  auto it = instance.metadata.labels.find(label);
  return it == instance.metadata.labels.end() ? "" : it->second;
}
std::string trackOf(const Object& instance) { return labelOf(instance, kTrackLabel); }
std::string hashOf(const Object& instance) { return labelOf(instance, kTemplateHashLabel); }
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
                                             const InstanceSet& set, std::optional<int> ordinal) {
  const std::string component_name = component.value("name", "");
  Object instance;
  instance.kind = "Instance";
  instance.metadata.tenant = app.metadata.tenant;
  instance.metadata.name =
      app.metadata.name + "-" + component_name + "-" +
      (ordinal ? std::to_string(*ordinal) : std::to_string(set.revision) + "-" + randomSuffix());
  instance.metadata.labels[kApplicationLabel] = app.metadata.name;
  instance.metadata.labels[kComponentLabel] = component_name;
  instance.metadata.labels[kTemplateHashLabel] = set.hash;
  if (set.canary) instance.metadata.labels[kTrackLabel] = "canary";
  instance.spec = {{"application", app.metadata.name},
                   {"component", component_name},
                   {"revision", set.revision},
                   {"node", "local"}};
  if (ordinal) instance.spec["ordinal"] = *ordinal;
  auto created = store_.create(std::move(instance));
  return created.ok() ? Status::ok() : created.status();
}

Status InstanceSetController::setTrack(const StoredObjectPtr& stored, const std::string& track,
                                       const std::string& warm_until) {
  Object instance = stored->object();
  if (track.empty())
    instance.metadata.labels.erase(kTrackLabel);
  else
    instance.metadata.labels[kTrackLabel] = track;
  if (warm_until.empty())
    instance.metadata.annotations.erase(kWarmUntilAnnotation);
  else
    instance.metadata.annotations[kWarmUntilAnnotation] = warm_until;
  auto updated = store_.update(std::move(instance));
  return updated.ok() ? Status::ok() : updated.status();
}

std::optional<ReleaseAbort> InstanceSetController::checkCanary(const json& component,
                                                               const AnalysisSpec& analysis,
                                                               const LiveInstances& canary) {
  for (const AnalysisCheck& check : analysis.checks) {
    // The check's port by name, as instances report their ports.
    std::string port_name;
    for (const auto& p : component.value("ports", json::array()))
      if ((check.port.is_string() && p.value("name", "") == check.port.get<std::string>()) ||
          (check.port.is_number_integer() && p.value("port", 0) == check.port.get<int>()))
        port_name = p.value("name", "");
    for (const auto& [stored, i] : canary) {
      if (!ready(i)) continue;
      const int port = i.status.value("ports", json::object()).value(port_name, 0);
      if (port == 0 || !i.status.contains("address")) continue;
      net::ClientRequest request;
      request.url =
          "http://" + i.status.value("address", "") + ":" + std::to_string(port) + check.path;
      request.timeout = std::chrono::seconds(2);
      request.max_response_bytes = 1 << 20;
      auto answer = net::fetch(request);
      const std::string what = "check GET " + check.path + " of instance " + i.metadata.name;
      if (!answer.ok())
        return ReleaseAbort{"httpCheck", 0, static_cast<double>(check.expect_status), "",
                            what + " failed: " + answer.status().message()};
      if (answer->status != check.expect_status)
        return ReleaseAbort{"httpCheck", static_cast<double>(answer->status),
                            static_cast<double>(check.expect_status), "",
                            what + " answered " + std::to_string(answer->status) + ", expected " +
                                std::to_string(check.expect_status)};
    }
  }
  return std::nullopt;
}

Status InstanceSetController::rollSet(const Object& app, const json& component,
                                      const InstanceSet& set, const LiveInstances& instances,
                                      const RolloutBudget& budget) {
  std::vector<InstanceView> views;
  for (const auto& [stored, i] : instances) {
    auto label = i.metadata.labels.find(kTemplateHashLabel);
    views.push_back(
        {i.metadata.name, label != i.metadata.labels.end() && label->second == set.hash, ready(i)});
  }
  RolloutPlan plan = planRollout(views, set.desired, budget);
  for (const auto& [stored, i] : instances)
    if (std::find(plan.retire.begin(), plan.retire.end(), i.metadata.name) != plan.retire.end()) {
      if (Status s = retire(stored); !s.isOk()) return s;
    }
  for (int n = 0; n < plan.create; ++n)
    if (Status s = createInstance(app, component, set, std::nullopt); !s.isOk()) return s;
  return Status::ok();
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
  const auto parsed_app = parsedObject(*app_snapshot);
  const Object& app = *parsed_app;
  const int64_t target = app.status.value("latestRevision", int64_t{0});
  if (target == 0) return ReconcileResult{};  // the revision controller has not run yet
  auto revision = store_.get({"Revision", key.tenant, revisionName(key.name, target)});
  if (!revision.ok()) return revision.status();
  const auto revision_object = parsedObject(*revision);
  const json template_spec = revision_object->spec.value("template", json::object());
  if (!runsLocally(template_spec)) {
    // Runs on a Kubernetes cluster (KubeApplicationController): nothing of it runs here.
    for (const auto& i : listed.items)
      if (Status s = retire(i); !s.isOk()) return s;
    return ReconcileResult{};
  }
  const json config_versions = revision_object->spec.value("configVersions", json::object());
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

  // Canary and blue-green components whose instances change since the stable revision are
  // released as two sets (release_plan.h).
  const int64_t stable = app.status.value("stableRevision", int64_t{0});
  std::shared_ptr<const Object> stable_revision;
  if (stable != 0 && stable != target) {
    if (auto r = store_.get({"Revision", key.tenant, revisionName(key.name, stable)}); r.ok())
      stable_revision = parsedObject(*r);
  }
  const json previous =
      app.status.value("release", json::object()).value("components", json::object());
  const std::string promote = app.metadata.annotations.count(kPromoteAnnotation)
                                  ? app.metadata.annotations.at(kPromoteAnnotation)
                                  : "";
  const bool abort_asked = app.metadata.annotations.count(kAbortAnnotation) &&
                           app.metadata.annotations.at(kAbortAnnotation) == std::to_string(target);
  json release = json::object();
  bool release_finished = false;
  std::optional<std::chrono::milliseconds> recheck;
  auto recheck_within = [&](std::chrono::milliseconds after) {
    recheck = std::min(recheck.value_or(after), after);
  };

  json components = json::object();
  bool all_available = true, all_done = true;
  std::string failures;  // the first instance of the target revision that is failing
  std::string aborts;    // the first released component whose release was aborted
  for (const auto& c : template_spec.value("components", json::array())) {
    if (!longRunning(c)) continue;
    const std::string name = c.value("name", "");
    // An autoscaled component runs what the autoscaler decided (autoscale_controller.h).
    const int desired = autoscaledReplicas(c, app.status);
    auto& instances = live[name];
    const RolloutBudget budget = rolloutBudget(c.value("rollout", json::object()), desired);
    const std::string hash = templateHash(c, config_versions);

    // Blue-green's replaced set, kept warm: out of the live sets, switched back to when the
    // target goes back to its template, retired once its time is up.
    LiveInstances warm;
    std::erase_if(instances, [&](const auto& entry) {
      if (trackOf(entry.second) != "warm") return false;
      warm.push_back(entry);
      return true;
    });
    const auto now_time = clock_.now();
    const auto keep_warm = std::chrono::seconds(std::llround(
        parseDurationSeconds(c.value("rollout", json::object()).value("keepWarm", "5m"))
            .value_or(300)));
    const std::string warm_until = formatTimestamp(now_time + keep_warm);
    int warm_ready = 0;
    for (const auto& [stored, i] : warm) warm_ready += ready(i) && hashOf(i) == hash;
    if (!paused && !warm.empty() && warm_ready >= desired) {
      // An undo to the replaced template: the warm set serves again, the set it replaced
      // stays warm in turn.
      for (const auto& [stored, i] : warm)
        if (Status st = setTrack(stored, hashOf(i) == hash ? "" : "warm",
                                 hashOf(i) == hash ? "" : warm_until);
            !st.isOk())
          return st;
      for (const auto& [stored, i] : instances)
        if (Status st =
                hashOf(i) == hash ? setTrack(stored, "") : setTrack(stored, "warm", warm_until);
            !st.isOk())
          return st;
      release_finished = true;
      all_done = false;
      components[name] = {{"desired", desired},
                          {"current", warm_ready},
                          {"ready", warm_ready},
                          {"updated", warm_ready}};
      recheck_within(std::chrono::milliseconds(0));
      continue;
    }
    for (const auto& [stored, i] : warm) {
      std::chrono::system_clock::time_point until;
      auto at = i.metadata.annotations.find(kWarmUntilAnnotation);
      if (at == i.metadata.annotations.end() || !parseTimestamp(at->second, &until) ||
          until <= now_time) {
        if (Status st = retire(stored); !st.isOk()) return st;
      } else {
        recheck_within(std::chrono::ceil<std::chrono::milliseconds>(until - now_time));
      }
    }

    json before;  // the component as the stable revision has it, when it is being released
    if (stable_revision && progressive(c)) {
      const json stable_spec = stable_revision->spec.value("template", json::object());
      for (const auto& b : stable_spec.value("components", json::array()))
        if (b.value("name", "") == name && podShape(b) != podShape(c)) before = b;
    }
    if (before.is_object()) {
      // Where the release stands, and the step the sets are kept at.
      const CarriedRelease carried = carriedRelease(
          previous.value(name, json()), target, c,
          [&](int64_t since) { return revisionComponent(store_, key, since, name); });
      const std::vector<ReleaseStep> steps = releaseSteps(c["rollout"], desired);
      const ComponentRelease& state = carried.state;
      const int total = static_cast<int>(steps.size());
      // Promotion is immediate (below), so a release is found promoting only while paused.
      const bool promoting = state.step >= total && !state.aborted;
      const ReleaseStep& step = stepInForce(steps, state);
      const std::string old_hash =
          templateHash(before, stable_revision->spec.value("configVersions", json::object()));
      const int canary_desired = state.aborted ? 0 : step.canary_replicas;
      LiveInstances sets[2];  // [canary]
      for (auto& entry : instances) sets[trackOf(entry.second) == "canary"].push_back(entry);
      auto count = [](const LiveInstances& set, const std::string& h, bool need_ready) {
        int n = 0;
        for (const auto& [stored, i] : set) n += hashOf(i) == h && (!need_ready || ready(i));
        return n;
      };
      const int stable_ready = count(sets[0], old_hash, true);
      const int canary_ready = count(sets[1], hash, true);

      ReleaseObservation seen;
      seen.canary_ready =
          canary_ready == canary_desired && static_cast<int>(sets[1].size()) == canary_desired;
      seen.paused = paused;
      seen.promoted =
          promote == std::to_string(target) || promote == std::to_string(target) + ":full";
      seen.promoted_full = promote == std::to_string(target) + ":full";
      seen.now = clock_.now();
      const AnalysisSpec analysis = analysisSpec(c["rollout"]);
      seen.failure_limit = analysis.failure_limit;
      json measured;
      std::string canary_failing;
      for (const auto& [stored, i] : sets[1])
        if (canary_failing.empty()) canary_failing = failure(i);
      if (abort_asked) {
        seen.abort = ReleaseAbort{"manual", 0, 0, "", "aborted by `skiff rollout abort`"};
        seen.failure_limit = 1;
      } else if (!canary_failing.empty() && !promoting) {
        // A canary that cannot run has failed its release as surely as one that errs.
        seen.abort = ReleaseAbort{"instanceFailure", 0, 0, "", canary_failing};
        seen.failure_limit = 1;
      } else if (!state.aborted && !promoting && canary_ready > 0) {
        if (traffic_ != nullptr && (step.weight > 0 || c["rollout"].contains("preview")) &&
            c.contains("routes")) {
          // Judged on what the canary set answered through the gateway, beside the stable set.
          const auto traffic =
              traffic_->compare(key.tenant + "/" + key.name + "/" + name + "/",
                                std::to_string(carried.revision), analysis.interval);
          seen.abort = judge(analysis, traffic);
          measured = {{"windowSeconds", traffic.span.count()},
                      {"requests", traffic.revision.requests},
                      {"errorRate", traffic.revision.errorRate()},
                      {"p99Ms", std::llround(traffic.revision.p99_seconds * 1000)},
                      {"stableRequests", traffic.others.requests},
                      {"stableErrorRate", traffic.others.errorRate()}};
          recheck_within(std::chrono::seconds(1));
        }
        if (!seen.abort && !analysis.checks.empty()) {
          seen.abort = checkCanary(c, analysis, sets[1]);
          recheck_within(std::chrono::seconds(1));
        }
      }
      const ReleaseDecision d = advanceRelease(steps, state, seen);
      if (d.recheck.count() > 0) recheck_within(d.recheck);
      if (d.next.step != state.step || d.next.aborted.has_value() != state.aborted.has_value())
        recheck_within(std::chrono::milliseconds(0));

      components[name] = {{"desired", desired},
                          {"current", sets[0].size()},
                          {"ready", stable_ready},
                          {"updated", count(sets[0], hash, false)},
                          {"canary",
                           {{"desired", canary_desired},
                            {"ready", canary_ready},
                            {"weight", d.next.aborted ? 0 : stepInForce(steps, d.next).weight}}}};
      all_available = all_available && stable_ready + canary_ready >= desired - budget.unavailable;
      all_done = false;
      if (!d.next.aborted && d.next.step >= total && !paused) {
        // Promoted: the canary set joins the stable set, which rolls the rest from here as any
        // update does. Blue-green's replaced set stays warm for an undo.
        release_finished = true;
        for (const auto& [stored, i] : sets[1])
          if (Status st = setTrack(stored, ""); !st.isOk()) return st;
        if (c["rollout"].value("strategy", "") == "bluegreen" && keep_warm.count() > 0) {
          for (const auto& [stored, i] : sets[0])
            if (Status st = setTrack(stored, "warm", warm_until); !st.isOk()) return st;
        }
        recheck_within(std::chrono::milliseconds(0));
        continue;
      }
      json entry = toJson(d.next);
      const int weight = d.next.aborted ? 0 : stepInForce(steps, d.next).weight;
      entry["revision"] = carried.revision;
      entry["steps"] = total;
      entry["weight"] = weight;
      if (!measured.is_null()) entry["analysis"] = measured;
      std::string message;
      if (d.next.aborted) {
        message = "aborted: " + d.next.aborted->message;
        if (aborts.empty()) aborts = "component " + name + ": " + d.next.aborted->message;
      } else if (d.next.step >= total) {
        message = "promoting once resumed";
      } else {
        message = "step " + std::to_string(d.next.step + 1) + " of " + std::to_string(total) +
                  ", " + std::to_string(weight) + "% of routed traffic on the canary set";
        if (paused)
          message += ", paused";
        else if (steps[d.next.step].await_promote && seen.canary_ready && d.recheck.count() == 0 &&
                 d.next.step == state.step)
          message += ", waiting for `skiff rollout promote`";
      }
      entry["message"] = message;
      release[name] = entry;
      if (paused) continue;
      // The sets follow the decision's step: a step taken is applied at once. The stable set
      // keeps the stable revision's template; it is replaced only after promotion.
      const InstanceSet stable_set{old_hash, stable, desired, false};
      const InstanceSet canary_set{hash, carried.revision,
                                   d.next.aborted ? 0 : stepInForce(steps, d.next).canary_replicas,
                                   true};
      if (Status st = rollSet(app, c, stable_set, sets[0], budget); !st.isOk()) return st;
      if (Status st = rollSet(app, c, canary_set, sets[1], budget); !st.isOk()) return st;
      continue;
    }

    int ready_count = 0, updated = 0;
    std::string failing;
    auto is_current = [&](const Object& i) {
      auto label = i.metadata.labels.find(kTemplateHashLabel);
      return label != i.metadata.labels.end() && label->second == hash;
    };
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
        if (Status s = createInstance(app, c, {hash, target, desired, false}, step.create);
            !s.isOk())
          return s;
      }
      for (const auto& [stored, i] : instances)
        if (step.retire && i.metadata.name == *step.retire) {
          if (Status s = retire(stored); !s.isOk()) return s;
        }
      continue;
    }
    // Left-over canary instances of the template wanted count as any other.
    if (Status s = rollSet(app, c, {hash, target, desired, false}, instances, budget); !s.isOk())
      return s;
  }

  // Status, merged into what other controllers wrote.
  Object updated_app = app;
  json& status = updated_app.status;
  const std::string now = formatTimestamp(clock_.now());
  status["components"] = components;
  if (release.empty()) {
    status.erase("release");
    // Everything runs `target`: it is what the next release starts from.
    if (all_done || release_finished) status["stableRevision"] = target;
  } else {
    status["release"] = {{"stable", stable}, {"components", release}};
  }
  // The revision that `components` and the conditions below describe.
  status["observedRevision"] = target;
  setRolloutConditions(status, {target, all_available, all_done, paused, failures, aborts}, now);
  if (status != app.status) {
    UpdateOptions update;
    update.status_only = true;
    auto written = store_.update(std::move(updated_app), update);
    if (!written.ok()) return written.status();
  }
  if (recheck) return ReconcileResult{*recheck};
  return ReconcileResult{};
}

}  // namespace skiff
