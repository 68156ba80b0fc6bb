#include "controller/kube_application_controller.h"

#include <set>

#include "controller/revision_controller.h"
#include "kube/render.h"

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
    if (!s.isOk() && first.isOk()) first = s;
  }
  return first;
}

Result<ReconcileResult> KubeApplicationController::reconcile(const ObjectKey& key) {
  auto app_snapshot = store_.get(key);
  if (!app_snapshot.ok()) {
    if (app_snapshot.status().code() != StatusCode::kNotFound) return app_snapshot.status();
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
  auto gateway_api = cluster->client->serves("gateway.networking.k8s.io/v1");
  if (!gateway_api.ok()) return not_deployed("ClusterUnreachable", gateway_api.status());
  input.gateway_api = *gateway_api;
  auto rendered = kube::renderApplication(input);
  if (!rendered.ok()) return not_deployed("RenderFailed", rendered.status());

  json tenant_spec = json::object();
  if (auto tenant = store_.get({"Tenant", "", key.tenant}); tenant.ok())
    tenant_spec = (*tenant)->object().spec;
  std::vector<json> objects = kube::renderTenant(ns, key.tenant, tenant_spec);
  objects.insert(objects.end(), rendered->begin(), rendered->end());
  std::set<std::string> keep;
  std::map<std::string, json> applied;  // "Kind/name" -> the object as the server has it
  for (const auto& object : objects) {
    auto result = cluster->client->apply(object);
    const std::string id = object.value("kind", "") + "/" + object["metadata"].value("name", "");
    if (!result.ok()) {
      const bool unreachable = result.status().code() == StatusCode::kUnavailable ||
                               result.status().code() == StatusCode::kUnauthenticated;
      return not_deployed(unreachable ? "ClusterUnreachable" : "ApplyRejected", result.status());
    }
    keep.insert(id);
    applied[id] = *result;
  }
  if (Status s = prune(*cluster, ns, key.name, keep); !s.isOk())
    return not_deployed("PruneFailed", s);
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
    const json object = applied[kind + "/" + key.name + "-" + name];
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
  setCondition(status,
               {"Available", all_available ? "True" : "False",
                all_available ? "MinimumReplicasAvailable" : "ReplicasUnavailable",
                all_available ? "every workload has its replicas available"
                              : "some workload has fewer available replicas than desired",
                ""},
               now);
  if (!failures.empty()) {
    setCondition(status,
                 {"Progressing", "False", "PodsFailing",
                  "revision " + std::to_string(target) + " cannot progress: " + failures, ""},
                 now);
  } else {
    setCondition(
        status,
        {"Progressing", "True", all_done ? "RolloutComplete" : "RolloutInProgress",
         "revision " + std::to_string(target) + (all_done ? " is rolled out" : " is rolling out"),
         ""},
        now);
  }
  setCondition(
      status,
      {"Ready", all_done ? "True" : "False", all_done ? "AllReplicasReady" : "NotReady",
       all_done ? "every workload runs revision " + std::to_string(target) + " and is ready"
                : "waiting for the workloads of revision " + std::to_string(target),
       ""},
      now);
  if (Status s = write_status(); !s.isOk()) return s;
  return ReconcileResult{all_done ? std::chrono::seconds(30) : std::chrono::seconds(2)};
}

}  // namespace skiff
