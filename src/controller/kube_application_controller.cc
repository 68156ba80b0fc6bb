#include "controller/kube_application_controller.h"

#include <set>
#include <thread>

#include <spdlog/spdlog.h>

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

bool isLocal(const std::string& cluster) { return cluster.empty() || cluster == "local"; }

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
};

namespace {

// One list-then-watch loop of `type` on a cluster, until the cluster's client changes or the
// controller stops. Lists again after a compaction (410) or an error.
void watchLoop(std::shared_ptr<KubeApplicationController::Watches> w, std::string cluster,
               std::shared_ptr<kube::Client> client, const kube::ResourceType* type) {
  const std::string selector = std::string(kube::kManagedByLabel) + "=skiff";
  while (w->wanted(cluster, client)) {
    auto listed = client->list(*type, "", selector);
    if (!listed.ok()) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    // Events missed while not watching are in the list.
    for (const auto& item : listed->value("items", json::array())) w->notify(item);
    std::string version = listed->value("metadata", json::object()).value("resourceVersion", "");
    Status ended;
    while (ended.isOk() && w->wanted(cluster, client)) {
      ended = client->watch(*type, "", selector, version, [&](const kube::WatchEvent& event) {
        w->notify(event.object);
        return w->wanted(cluster, client);
      });
    }
    if (ended.code() != StatusCode::kGone) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

void KubeApplicationController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  if (!watches_) watches_ = std::make_shared<Watches>();
  std::lock_guard<std::mutex> lock(watches_->mu);
  watches_->enqueue = std::move(enqueue);
}

void KubeApplicationController::stop() {
  if (!watches_) return;
  std::lock_guard<std::mutex> lock(watches_->mu);
  watches_->stopped = true;
  watches_->enqueue = nullptr;
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
  const Object app = (*app_snapshot)->object();
  const int64_t target = app.status.value("latestRevision", int64_t{0});
  if (target == 0) return ReconcileResult{};
  auto revision = store_.get({"Revision", key.tenant, revisionName(key.name, target)});
  if (!revision.ok()) return revision.status();
  const json template_spec = (*revision)->object().spec.value("template", json::object());
  const std::string cluster_name = template_spec.value("cluster", "local");
  if (isLocal(cluster_name)) {
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
  watchCluster(cluster_name, *cluster);
  const std::string ns = kube::namespaceOf(cluster->namespace_prefix, key.tenant);

  kube::RenderInput input;
  input.tenant = key.tenant;
  input.ns = ns;
  input.application = key.name;
  input.revision = target;
  input.spec = template_spec;
  for (const auto& c : template_spec.value("components", json::array())) {
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

  // Status of the workloads, and of their pods when they lag.
  json components = json::object();
  bool all_available = true, all_done = true;
  std::string failures;
  for (const auto& c : template_spec.value("components", json::array())) {
    const std::string name = c["name"];
    const std::string type = c.value("type", "service");
    if (type != "service" && type != "stateful") continue;
    const std::string kind = type == "service" ? "Deployment" : "StatefulSet";
    json object = applied[kind + "/" + key.name + "-" + name];
    if (object.is_null()) {
      auto fresh =
          cluster->client->get(*kube::findResourceType("apps/v1", kind), ns, key.name + "-" + name);
      if (!fresh.ok()) return not_deployed("ClusterUnreachable", fresh.status());
      object = std::move(*fresh);
    }
    const json s = object.value("status", json::object());
    const int64_t generation = object["metadata"].value("generation", int64_t{0});
    const int desired = object["spec"].value("replicas", 1);
    const int ready = s.value("readyReplicas", 0);
    const int updated = s.value("updatedReplicas", 0);
    const int available = s.value("availableReplicas", 0);
    const bool observed = s.value("observedGeneration", int64_t{0}) >= generation;
    components[name] = {{"desired", desired},
                        {"current", s.value("replicas", 0)},
                        {"ready", ready},
                        {"updated", updated}};
    all_available = all_available && available >= desired;
    const bool done =
        observed && updated == desired && ready == desired && s.value("replicas", 0) == desired;
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
  status["components"] = components;
  status["observedRevision"] = target;
  setRolloutConditions(status, {target, all_available, all_done, false, failures}, now);
  if (Status s = write_status(); !s.isOk()) return s;
  // The watches bring changes; this only bounds how stale things may get if one is lost.
  return ReconcileResult{std::chrono::seconds(all_done ? 60 : 10)};
}

}  // namespace skiff
