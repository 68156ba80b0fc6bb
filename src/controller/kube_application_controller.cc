#include "controller/kube_application_controller.h"

#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "controller/kube_pod_mirror.h"
#include "controller/release_plan.h"
#include "controller/revision_controller.h"
#include "controller/rollout_plan.h"
#include "kube/render.h"
#include "model/well_known.h"

namespace skiff {
namespace {

// What the renderer makes, in the order prune looks for leftovers. PersistentVolumeClaims
// are pruned too: data goes with the application, as local volumes go with their Volume.
const std::vector<std::pair<const char*, const char*>> kRendered = {
    {"networking.k8s.io/v1", "Ingress"},
    {"gateway.networking.k8s.io/v1", "HTTPRoute"},
    {"autoscaling/v2", "HorizontalPodAutoscaler"},
    {"apps/v1", "Deployment"},
    {"apps/v1", "StatefulSet"},
    {"batch/v1", "Job"},
    {"batch/v1", "CronJob"},
    {"v1", "Service"},
    {"v1", "ConfigMap"},
    {"v1", "Secret"},
    {"v1", "PersistentVolumeClaim"},
};

const json* findComponent(const json& spec, const std::string& name) {
  if (!spec.is_object() || !spec.contains("components")) return nullptr;
  for (const auto& c : spec["components"])
    if (c.value("name", "") == name) return &c;
  return nullptr;
}

// Whether a Deployment or StatefulSet has rolled out `replicas` pods of its current template.
bool rolledOut(const json& workload, int replicas) {
  const json s = workload.value("status", json::object());
  const int64_t generation = workload.value("metadata", json::object()).value("generation", 0);
  return s.value("observedGeneration", int64_t{0}) >= generation &&
         s.value("updatedReplicas", 0) == replicas && s.value("readyReplicas", 0) == replicas &&
         s.value("replicas", 0) == replicas;
}

std::string annotation(const Object& o, const char* key) {
  auto it = o.metadata.annotations.find(key);
  return it == o.metadata.annotations.end() ? "" : it->second;
}

// Why a pod does not run, from its status; empty when nothing is wrong.
std::string podProblem(const json& pod) {
  const json status = pod.value("status", json::object());
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False" &&
        c.value("reason", "") == "Unschedulable")
      return "Unschedulable: " + c.value("message", "");
  }
  for (const auto& c : status.value("containerStatuses", json::array())) {
    const json waiting = c.value("state", json::object()).value("waiting", json::object());
    const std::string reason = waiting.value("reason", "");
    if (reason == "ImagePullBackOff" || reason == "ErrImagePull" || reason == "CrashLoopBackOff" ||
        reason == "CreateContainerConfigError" || reason == "InvalidImageName")
      return reason + ": " + waiting.value("message", "");
  }
  return "";
}

}  // namespace

struct KubeApplicationController::Watches {
  std::mutex mu;
  bool stopped = false;                                          // guarded by mu
  std::function<void(const ObjectKey&)> enqueue;                 // guarded by mu
  std::map<std::string, std::shared_ptr<kube::Client>> clients;  // watched; guarded by mu
  // Pods as Instances; held by a pod watch while it writes, so that stop() can wait for it.
  std::mutex mirror_mu;
  std::unique_ptr<PodMirror> mirror;  // set when bound; guarded by mirror_mu

  // Whether the watches of `cluster` through `client` should go on.
  bool wanted(const std::string& cluster, const std::shared_ptr<kube::Client>& client) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = clients.find(cluster);
    return !stopped && it != clients.end() && it->second == client;
  }
  // Enqueues the application `object` belongs to.
  void notify(const json& object) {
    const json labels = object.value("metadata", json::object()).value("labels", json::object());
    const std::string tenant = labels.value(kube::kTenantLabel, "");
    const std::string application = labels.value(kApplicationLabel, "");
    if (tenant.empty() || application.empty()) return;
    std::lock_guard<std::mutex> lock(mu);
    if (!stopped && enqueue) enqueue({"Application", tenant, application});
  }
  // Runs `write` with the pod mirror, unless the controller has stopped.
  void mirrorPods(const std::function<void(PodMirror&)>& write) {
    std::lock_guard<std::mutex> writing(mirror_mu);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopped) return;
    }
    if (mirror) write(*mirror);
  }
};

namespace {

// One list-then-watch loop of `type` on a cluster, until the cluster's client changes or the
// controller stops. Lists again after a compaction (410) or an error.
void watchLoop(std::shared_ptr<KubeApplicationController::Watches> w, std::string cluster,
               std::shared_ptr<kube::Client> client, const kube::ResourceType* type) {
  const std::string selector = std::string(kube::kManagedByLabel) + "=skiff";
  const bool pods = std::string_view(type->kind) == "Pod";
  while (w->wanted(cluster, client)) {
    auto listed = client->list(*type, "", selector);
    if (!listed.ok()) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    // Events missed while not watching are in the list.
    const json items = listed->value("items", json::array());
    for (const auto& item : items) w->notify(item);
    if (pods) w->mirrorPods([&](PodMirror& m) { m.resync(cluster, *client, items); });
    std::string version = listed->value("metadata", json::object()).value("resourceVersion", "");
    Status ended;
    while (ended.isOk() && w->wanted(cluster, client)) {
      ended = client->watch(*type, "", selector, version, [&](const kube::WatchEvent& event) {
        w->notify(event.object);
        if (pods)
          w->mirrorPods(
              [&](PodMirror& m) { m.onEvent(cluster, *client, event.type, event.object); });
        return w->wanted(cluster, client);
      });
    }
    if (ended.code() != StatusCode::kGone) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

void KubeApplicationController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  if (!watches_) watches_ = std::make_shared<Watches>();
  {
    std::lock_guard<std::mutex> lock(watches_->mirror_mu);
    if (!watches_->mirror) watches_->mirror = std::make_unique<PodMirror>(store_);
  }
  std::lock_guard<std::mutex> lock(watches_->mu);
  watches_->enqueue = std::move(enqueue);
}

void KubeApplicationController::stop() {
  if (!watches_) return;
  {
    std::lock_guard<std::mutex> lock(watches_->mu);
    watches_->stopped = true;
    watches_->enqueue = nullptr;
  }
  // A pod watch still writing to the store finishes before the store may go.
  std::lock_guard<std::mutex> writing(watches_->mirror_mu);
}

void KubeApplicationController::watchCluster(const std::string& cluster_name,
                                             const KubeCluster& cluster) {
  if (!watches_) return;  // no queue to feed
  {
    std::lock_guard<std::mutex> lock(watches_->mu);
    if (watches_->stopped) return;
    auto& current = watches_->clients[cluster_name];
    if (current == cluster.client) return;
    current = cluster.client;  // the watches of an older client end by themselves
  }
  // Detached: a watch may block until the server ends it; they hold only shared state.
  for (const auto& [api_version, kind] :
       {std::pair{"apps/v1", "Deployment"}, std::pair{"apps/v1", "StatefulSet"},
        std::pair{"v1", "Pod"}}) {
    std::thread(watchLoop, watches_, cluster_name, cluster.client,
                kube::findResourceType(api_version, kind))
        .detach();
  }
}

std::string KubeApplicationController::appMemo(const ObjectKey& key) {
  return "application:" + key.tenant + "/" + key.name;
}

std::optional<std::string> KubeApplicationController::recall(const std::string& what,
                                                             std::chrono::seconds max_age) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = memo_.find(what);
  if (it == memo_.end() || std::chrono::steady_clock::now() - it->second.at >= max_age)
    return std::nullopt;
  return it->second.value;
}

void KubeApplicationController::remember(const std::string& what, std::string value) {
  std::lock_guard<std::mutex> lock(mu_);
  memo_[what] = {std::move(value), std::chrono::steady_clock::now()};
}

void KubeApplicationController::forget(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  memo_.erase(what);
}

std::vector<WatchedKind> KubeApplicationController::watches() const {
  return {{"Application", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); }}};
}

Status KubeApplicationController::prune(KubeCluster& cluster, const std::string& ns,
                                        const std::string& app, const std::set<std::string>& keep) {
  const std::string selector = kube::applicationSelector(app);
  for (const auto& [api_version, kind] : kRendered) {
    const kube::ResourceType* type = kube::findResourceType(api_version, kind);
    auto listed = cluster.client->list(*type, ns, selector);
    if (!listed.ok()) {
      if (listed.status().code() == StatusCode::kNotFound) continue;  // type or namespace absent
      return listed.status();
    }
    for (const auto& item : listed->value("items", json::array())) {
      const std::string name = item["metadata"].value("name", "");
      if (keep.count(std::string(kind) + "/" + name)) continue;
      if (Status s = cluster.client->remove(*type, ns, name); !s.isOk()) return s;
    }
  }
  return Status::ok();
}

Status KubeApplicationController::removeEverywhere(const ObjectKey& key,
                                                   const std::string& except_cluster) {
  Status first;
  for (const std::string& name : clients_.names()) {
    if (name == except_cluster) continue;
    auto cluster = clients_.get(name);
    if (!cluster.ok()) continue;
    const std::string ns = kube::namespaceOf(cluster->namespace_prefix, key.tenant);
    Status s = prune(*cluster, ns, key.name, {});
    // A cluster that refuses us (or is gone for good) would otherwise be retried forever; one
    // that is only down for a while is retried.
    if (s.code() == StatusCode::kUnauthenticated || s.code() == StatusCode::kForbidden) {
      spdlog::warn("cannot remove application {}/{} from cluster {}: {}", key.tenant, key.name,
                   name, s.message());
      continue;
    }
    if (!s.isOk() && first.isOk()) first = s;
  }
  return first;
}

Result<ReconcileResult> KubeApplicationController::reconcile(const ObjectKey& key) {
  auto app_snapshot = store_.get(key);
  if (!app_snapshot.ok()) {
    if (app_snapshot.status().code() != StatusCode::kNotFound) return app_snapshot.status();
    forget(appMemo(key));
    if (Status s = removeEverywhere(key, ""); !s.isOk()) return s;
    return ReconcileResult{};
  }
  // Most applications run locally and never ran elsewhere: nothing to do, and no revision to
  // read. One whose spec just came back from a cluster still has status.cluster, and the new
  // revision that the spec change makes brings it back here for the cleanup below. When the
  // word's only mention in its text is the spec's default `"cluster":"local"` (or there is
  // none), neither its spec nor its status names a cluster: no parse.
  {
    const std::string text = (*app_snapshot)->jsonText();
    const size_t first = text.find("\"cluster\"");
    if (first == std::string::npos || (text.compare(first, 17, "\"cluster\":\"local\"") == 0 &&
                                       text.find("\"cluster\"", first + 1) == std::string::npos))
      return ReconcileResult{};
  }
  const auto parsed_app = parsedObject(*app_snapshot);
  const Object& app = *parsed_app;
  if (runsLocally(app.spec) && !app.status.contains("cluster")) return ReconcileResult{};
  const int64_t target = app.status.value("latestRevision", int64_t{0});
  if (target == 0) return ReconcileResult{};
  auto revision = store_.get({"Revision", key.tenant, revisionName(key.name, target)});
  if (!revision.ok()) return revision.status();
  const json template_spec = parsedObject(*revision)->spec.value("template", json::object());
  const std::string cluster_name = template_spec.value("cluster", "local");
  if (runsLocally(template_spec)) {
    // Left a cluster for the local runtime, or never was on one.
    if (app.status.contains("cluster")) {
      forget(appMemo(key));
      if (Status s = removeEverywhere(key, ""); !s.isOk()) return s;
      Object updated = app;
      updated.status.erase("cluster");
      UpdateOptions options;
      options.status_only = true;
      auto written = store_.update(std::move(updated), options);
      if (!written.ok()) return written.status();
    }
    return ReconcileResult{};
  }

  Object updated_app = app;
  json& status = updated_app.status;
  const std::string now = formatTimestamp(clock_.now());
  auto write_status = [&]() -> Status {
    if (status == app.status) return Status::ok();
    UpdateOptions options;
    options.status_only = true;
    auto written = store_.update(std::move(updated_app), options);
    return written.ok() ? Status::ok() : written.status();
  };
  auto not_deployed = [&](const std::string& reason, const Status& why) -> Result<ReconcileResult> {
    setCondition(status, {"Deployed", "False", reason, why.message(), ""}, now);
    setCondition(status, {"Ready", "False", reason, why.message(), ""}, now);
    if (Status s = write_status(); !s.isOk()) return s;
    return ReconcileResult{std::chrono::seconds(5)};
  };

  auto cluster = clients_.get(cluster_name);
  if (!cluster.ok()) return not_deployed("ClusterNotFound", cluster.status());
  // The API server would only say "Unauthorized".
  if (std::string expired = cluster->expired(clock_.now()); !expired.empty())
    return not_deployed("CredentialsExpired", Status(StatusCode::kUnauthenticated,
                                                     "cluster " + cluster_name + ": " + expired));
  watchCluster(cluster_name, *cluster);
  const std::string ns = kube::namespaceOf(cluster->namespace_prefix, key.tenant);

  kube::RenderInput input;
  input.tenant = key.tenant;
  input.ns = ns;
  input.application = key.name;
  input.revision = target;
  input.spec = template_spec;
  input.paused = annotation(app, kPausedAnnotation) == "true";

  // A canary or blue-green component whose pods differ from the stable revision's is released
  // as two workload sets, one step at a time (release_plan.h); the rest rolls as workloads do.
  const int64_t stable = app.status.value("stableRevision", int64_t{0});
  json stable_spec;
  if (stable != 0 && stable != target) {
    auto r = store_.get({"Revision", key.tenant, revisionName(key.name, stable)});
    if (r.ok()) stable_spec = (*r)->object().spec.value("template", json::object());
  }
  const json previous = app.status.value("release", json::object()).value("components", json());
  struct Released {
    std::vector<ReleaseStep> steps;
    ComponentRelease state;
    int64_t revision = 0;  // the revision that brought the canary set's template
  };
  std::map<std::string, Released> released;
  std::vector<json> running = template_spec.value("components", json::array());
  for (const auto& c : template_spec.value("components", json::array())) {
    const std::string name = c["name"];
    const json* before = findComponent(stable_spec, name);
    if (!progressive(c) || before == nullptr || podShape(*before) == podShape(c)) continue;
    const int replicas =
        c.contains("autoscale") ? c["autoscale"].value("min", 1) : c.value("replicas", 1);
    // A later revision that leaves this component as it was carries on its release.
    const CarriedRelease carried =
        carriedRelease(previous.is_object() ? previous.value(name, json()) : json(), target, c,
                       [&](int64_t since) { return revisionComponent(store_, key, since, name); });
    Released r{releaseSteps(c["rollout"], replicas), carried.state, carried.revision};
    const bool aborted = r.state.aborted.has_value();
    const bool promoting = r.state.step >= static_cast<int>(r.steps.size()) && !aborted;
    const ReleaseStep& step = stepInForce(r.steps, r.state);
    kube::ComponentTracks tracks;
    tracks.stable = promoting ? c : *before;
    tracks.stable_revision = promoting ? target : stable;
    tracks.canary_replicas = aborted ? 0 : step.canary_replicas;
    tracks.weight = aborted ? 0 : step.weight;
    tracks.bluegreen = c["rollout"].value("strategy", "") == "bluegreen";
    input.releases[name] = tracks;
    released[name] = r;
    running.push_back(*before);
  }
  for (const auto& c : running) {
    for (const std::string& ref : configRefs(c)) {
      const size_t slash = ref.find('/');
      const std::string kind = ref.substr(0, slash) == "secret" ? "Secret" : "Config";
      auto data = store_.get({kind, key.tenant, ref.substr(slash + 1)});
      if (data.ok()) input.data[ref] = data.value()->object().spec;
    }
  }
  // Discovery changes rarely: asked again after a minute.
  const std::string discovery = "gateway-api:" + cluster_name;
  std::optional<std::string> gateway_api = recall(discovery, std::chrono::seconds(60));
  if (!gateway_api) {
    auto serves = cluster->client->serves("gateway.networking.k8s.io/v1");
    if (!serves.ok()) return not_deployed("ClusterUnreachable", serves.status());
    gateway_api = *serves ? "true" : "false";
    remember(discovery, *gateway_api);
  }
  input.gateway_api = *gateway_api == "true";
  auto rendered = kube::renderApplication(input);
  if (!rendered.ok()) return not_deployed("RenderFailed", rendered.status());

  json tenant_spec = json::object();
  if (auto tenant = store_.get({"Tenant", "", key.tenant}); tenant.ok())
    tenant_spec = (*tenant)->object().spec;
  // Objects already applied as they are now are applied again only after 5 minutes (to undo
  // drift): the tenant's are shared by its applications, each application's are its own.
  std::map<std::string, json> applied;  // "Kind/name" -> the object as the server has it
  auto apply = [&](const std::vector<json>& objects, const std::string& memo,
                   std::set<std::string>* keep) -> std::optional<Result<ReconcileResult>> {
    std::string text = cluster_name + "\n" + ns;
    for (const auto& object : objects) text += "\n" + object.dump();
    const std::string digest = std::to_string(std::hash<std::string>{}(text));
    if (recall(memo, std::chrono::minutes(5)) == digest) return std::nullopt;
    for (const auto& object : objects) {
      auto result = cluster->client->apply(object);
      const std::string id = object.value("kind", "") + "/" + object["metadata"].value("name", "");
      if (!result.ok()) {
        forget(memo);
        const bool unreachable = result.status().code() == StatusCode::kUnavailable ||
                                 result.status().code() == StatusCode::kUnauthenticated;
        return not_deployed(unreachable ? "ClusterUnreachable" : "ApplyRejected", result.status());
      }
      if (keep != nullptr) keep->insert(id);
      applied[id] = *result;
    }
    if (keep != nullptr) {
      if (Status s = prune(*cluster, ns, key.name, *keep); !s.isOk())
        return not_deployed("PruneFailed", s);
    }
    remember(memo, digest);
    return std::nullopt;
  };
  if (auto failed = apply(kube::renderTenant(ns, key.tenant, tenant_spec),
                          "tenant:" + cluster_name + "/" + ns, nullptr))
    return *failed;
  std::set<std::string> keep;
  if (auto failed = apply(*rendered, appMemo(key), &keep)) return *failed;
  if (app.status.value("cluster", "") != cluster_name) {
    // Moved here from another cluster: what it left there goes.
    if (Status s = removeEverywhere(key, cluster_name); !s.isOk()) return s;
  }
  status["cluster"] = cluster_name;
  setCondition(status,
               {"Deployed", "True", "Applied",
                "revision " + std::to_string(target) + " applied to cluster " + cluster_name +
                    " in namespace " + ns,
                ""},
               now);

  // A workload as the server has it: from the apply just made, else fetched (once).
  auto workload_status = [&](const std::string& kind, const std::string& name) -> Result<json> {
    auto it = applied.find(kind + "/" + name);
    if (it != applied.end()) return it->second;
    auto fetched = cluster->client->get(*kube::findResourceType("apps/v1", kind), ns, name);
    if (fetched.ok()) applied[kind + "/" + name] = *fetched;
    return fetched;
  };
  // Status of the workloads, and of their pods when they lag.
  json components = json::object();
  bool all_available = true, all_done = true;
  std::string failures;
  for (const auto& c : template_spec.value("components", json::array())) {
    const std::string name = c["name"];
    const std::string type = c.value("type", "service");
    if (type != "service" && type != "stateful") continue;
    auto fetched =
        workload_status(type == "service" ? "Deployment" : "StatefulSet", key.name + "-" + name);
    if (!fetched.ok()) return not_deployed("ClusterUnreachable", fetched.status());
    const json& object = *fetched;
    const json s = object.value("status", json::object());
    const int desired = object["spec"].value("replicas", 1);
    components[name] = {{"desired", desired},
                        {"current", s.value("replicas", 0)},
                        {"ready", s.value("readyReplicas", 0)},
                        {"updated", s.value("updatedReplicas", 0)}};
    all_available = all_available && s.value("availableReplicas", 0) >= desired;
    const bool done = rolledOut(object, desired);
    all_done = all_done && done;
    if (!done) {
      auto pods = cluster->client->list(
          *kube::findResourceType("v1", "Pod"), ns,
          "app.kubernetes.io/instance=" + key.name + ",app.kubernetes.io/component=" + name);
      if (pods.ok()) {
        for (const auto& pod : pods->value("items", json::array())) {
          std::string problem = podProblem(pod);
          if (problem.empty()) continue;
          components[name]["failing"] = problem;
          if (failures.empty()) failures = "component " + name + ": " + problem;
          break;
        }
      }
    }
  }

  // Each released component's next step, from what its two sets show now.
  const bool paused = input.paused;
  ReleaseObservation seen;
  seen.paused = paused;
  const std::string promote = annotation(app, kPromoteAnnotation);
  seen.promoted = promote == std::to_string(target) || promote == std::to_string(target) + ":full";
  seen.promoted_full = promote == std::to_string(target) + ":full";
  seen.now = clock_.now();
  if (annotation(app, kAbortAnnotation) == std::to_string(target))
    seen.abort = ReleaseAbort{"manual", 0, 0, "", "aborted by `skiff rollout abort`"};
  json release = json::object();
  std::string aborts;
  bool stepped = false;
  std::optional<std::chrono::seconds> recheck;
  for (const auto& [name, r] : released) {
    const kube::ComponentTracks& tracks = input.releases[name];
    const std::string workload = key.name + "-" + name;
    auto canary = workload_status("Deployment", workload + "-canary");
    if (!canary.ok()) return not_deployed("ClusterUnreachable", canary.status());
    auto stable_set = workload_status("Deployment", workload);
    if (!stable_set.ok()) return not_deployed("ClusterUnreachable", stable_set.status());
    seen.canary_ready = rolledOut(*canary, tracks.canary_replicas);
    seen.stable_ready = tracks.stable_revision == target &&
                        rolledOut(*stable_set, (*stable_set)["spec"].value("replicas", 1));
    const ReleaseDecision d = advanceRelease(r.steps, r.state, seen);
    components[name]["canary"] = {
        {"ready", (*canary).value("status", json::object()).value("readyReplicas", 0)},
        {"desired", tracks.canary_replicas},
        {"weight", tracks.weight}};
    if (d.done) {
      stepped = true;
      continue;
    }
    stepped = stepped || d.next.step != r.state.step;
    if (d.recheck.count() > 0) recheck = std::min(recheck.value_or(d.recheck), d.recheck);
    json entry = toJson(d.next);
    const int total = static_cast<int>(r.steps.size());
    const int weight = d.next.aborted ? 0 : stepInForce(r.steps, d.next).weight;
    entry["revision"] = r.revision;
    entry["steps"] = total;
    entry["weight"] = weight;
    stepped = stepped || d.next.aborted.has_value() != r.state.aborted.has_value();
    if (d.next.aborted && aborts.empty())
      aborts = "component " + name + ": " + d.next.aborted->message;
    std::string message = d.next.aborted ? "aborted: " + d.next.aborted->message
                          : d.next.step >= total
                              ? "promoting: the stable set rolls out the new template"
                              : "step " + std::to_string(d.next.step + 1) + " of " +
                                    std::to_string(total) + ", " + std::to_string(weight) +
                                    "% of routed traffic on the canary set";
    if (paused) {
      message += ", paused";
    } else if (!d.next.aborted && d.next.step == r.state.step && d.next.step < total &&
               r.steps[d.next.step].await_promote && seen.canary_ready && d.recheck.count() == 0) {
      // Only once the gate's own step is applied and ready: a step just taken is not yet.
      message += ", waiting for `skiff rollout promote`";
    }
    entry["message"] = message;
    release[name] = entry;
  }
  all_done = all_done && released.empty();
  if (release.empty()) {
    status.erase("release");
    // Everything runs `target`: it is what the next release starts from.
    if (all_done || !released.empty()) status["stableRevision"] = target;
  } else {
    status["release"] = {{"stable", stable}, {"components", release}};
  }

  status["components"] = components;
  status["observedRevision"] = target;
  setRolloutConditions(status, {target, all_available, all_done, paused, failures, aborts}, now);
  if (Status s = write_status(); !s.isOk()) return s;
  // A step taken is applied at once; a pause is looked at when it ends. The watches bring
  // changes; the rest only bounds how stale things may get if one is lost.
  if (stepped) return ReconcileResult{std::chrono::milliseconds(0)};
  if (recheck) return ReconcileResult{std::chrono::milliseconds(*recheck)};
  return ReconcileResult{std::chrono::seconds(all_done ? 60 : 10)};
}

}  // namespace skiff
