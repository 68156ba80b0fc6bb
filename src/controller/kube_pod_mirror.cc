#include "controller/kube_pod_mirror.h"

#include <set>

#include <spdlog/spdlog.h>

#include "controller/revision_controller.h"
#include "kube/render.h"
#include "model/well_known.h"

namespace skiff {

namespace {

constexpr const char* kComponentPodLabel = "app.kubernetes.io/component";
// How long an owner's revision is trusted: a release that only changes replicas gives the
// ReplicaSet a new annotation without a new pod.
constexpr std::chrono::seconds kOwnerRevisionTtl{5};

int64_t parseRevision(const json& annotations) {
  if (!annotations.is_object()) return 0;
  const std::string text = annotations.value(kube::kRevisionAnnotation, "");
  char* end = nullptr;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  return !text.empty() && *end == '\0' && n > 0 ? n : 0;
}

// Why a container does not run, from its waiting or last terminated state; empty when nothing
// is said.
std::pair<std::string, std::string> waitingReason(const json& status) {
  for (const auto& c : status.value("containerStatuses", json::array())) {
    const json waiting = c.value("state", json::object()).value("waiting", json::object());
    if (waiting.contains("reason"))
      return {waiting.value("reason", ""), waiting.value("message", "")};
  }
  return {};
}

}  // namespace

int64_t podRevisionAnnotation(const json& pod) {
  return parseRevision(pod.value("metadata", json::object()).value("annotations", json::object()));
}

std::optional<Object> instanceFromPod(const json& pod, const std::string& cluster,
                                      int64_t revision) {
  const json meta = pod.value("metadata", json::object());
  const json labels = meta.value("labels", json::object());
  const std::string tenant = labels.value(kube::kTenantLabel, "");
  const std::string application = labels.value(kApplicationLabel, "");
  const std::string component = labels.value(kComponentPodLabel, "");
  const std::string name = meta.value("name", "");
  if (tenant.empty() || application.empty() || component.empty() || name.empty())
    return std::nullopt;
  const json spec = pod.value("spec", json::object());
  const json status = pod.value("status", json::object());

  Object instance;
  instance.kind = "Instance";
  instance.metadata.tenant = tenant;
  instance.metadata.name = name;
  instance.metadata.labels[kApplicationLabel] = application;
  instance.metadata.labels[kComponentLabel] = component;
  instance.metadata.labels[kClusterLabel] = cluster;
  instance.spec = {{"application", application},
                   {"component", component},
                   {"revision", std::max<int64_t>(revision, 1)}};
  // Always set (empty until the pod is scheduled): no local node agent takes it for its own.
  const std::string node = spec.value("nodeName", "");
  instance.spec["node"] = node;
  if (labels.contains("apps.kubernetes.io/pod-index")) {
    const std::string index = labels.value("apps.kubernetes.io/pod-index", "");
    if (!index.empty() && index.find_first_not_of("0123456789") == std::string::npos)
      instance.spec["ordinal"] = std::stoi(index);
  }

  // Status in the local runtime's terms (node_agent.h): phase, ready and its condition,
  // restarts, address.
  json& s = instance.status;
  s["cluster"] = cluster;
  s["driver"] = "kubernetes";
  if (!node.empty()) s["node"] = node;
  const json containers = spec.value("containers", json::array());
  s["pod"] = {{"namespace", meta.value("namespace", "")},
              {"name", name},
              {"container", containers.empty() ? "" : containers[0].value("name", "")}};
  if (status.contains("podIP")) s["address"] = status["podIP"];
  if (status.contains("startTime")) s["startedAt"] = status["startTime"];
  int restarts = 0;
  for (const auto& c : status.value("containerStatuses", json::array()))
    restarts += c.value("restartCount", 0);
  s["restarts"] = restarts;

  const auto [waiting, waiting_message] = waitingReason(status);
  std::string phase = status.value("phase", "Pending");
  if (meta.contains("deletionTimestamp"))
    phase = "Terminating";
  else if (waiting == "CrashLoopBackOff")
    phase = "Backoff";
  s["phase"] = phase;

  json ready = {{"type", "Ready"}, {"status", "False"}};
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == "Ready") {
      ready = c;
      break;
    }
  }
  if (ready.value("status", "") != "True") {
    // The pod's own words for why, as the local runtime names them (CrashLoopBackOff, ...).
    for (const auto& c : status.value("conditions", json::array())) {
      if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False") {
        ready["reason"] = c.value("reason", "Unschedulable");
        ready["message"] = c.value("message", "");
      }
    }
    if (!waiting.empty()) {
      ready["reason"] = waiting;
      ready["message"] = waiting_message;
    }
    if (!ready.contains("reason")) ready["reason"] = "PodNotReady";
    if (ready.value("message", "").empty()) ready["message"] = "the pod is " + phase;
    s["message"] = ready["message"];
  }
  s["ready"] = ready.value("status", "") == "True" && phase == "Running";
  s["conditions"] = json::array({ready});
  return instance;
}

bool PodMirror::runsOn(const std::string& tenant, const std::string& application,
                       const std::string& cluster) const {
  auto app = store_.get({"Application", tenant, application});
  if (!app.ok()) return false;
  const int64_t latest = (*app)->object().status.value("latestRevision", int64_t{0});
  auto revision = store_.get({"Revision", tenant, revisionName(application, latest)});
  if (!revision.ok()) return false;
  return (*revision)->object().spec.value("template", json::object()).value("cluster", "") ==
         cluster;
}

int64_t PodMirror::revisionOf(kube::Client& client, const json& pod) {
  if (int64_t own = podRevisionAnnotation(pod)) return own;
  const json meta = pod.value("metadata", json::object());
  for (const auto& owner : meta.value("ownerReferences", json::array())) {
    const std::string kind = owner.value("kind", "");
    if (kind != "ReplicaSet" && kind != "StatefulSet") continue;
    const std::string ns = meta.value("namespace", "");
    const std::string name = owner.value("name", "");
    const std::string key = kind + "/" + ns + "/" + name;
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      auto it = owners_.find(key);
      if (it != owners_.end() && now - it->second.at < kOwnerRevisionTtl)
        return it->second.revision;
    }
    auto object = client.get(*kube::findResourceType("apps/v1", kind), ns, name);
    if (!object.ok()) return 0;
    const int64_t revision = podRevisionAnnotation(*object);
    std::lock_guard lock(mu_);
    for (auto it = owners_.begin(); it != owners_.end();)  // forget the stale ones
      it = now - it->second.at >= kOwnerRevisionTtl ? owners_.erase(it) : std::next(it);
    owners_[key] = {revision, now};
    return revision;
  }
  return 0;
}

Status PodMirror::upsert(const std::string& cluster, kube::Client& client, const json& pod) {
  auto wanted = instanceFromPod(pod, cluster, 0);
  if (!wanted) return Status::ok();
  const ObjectKey key = wanted->key();
  const std::string application = wanted->spec.value("application", "");
  if (!runsOn(key.tenant, application, cluster)) return removeMirror(cluster, key.tenant, key.name);
  wanted = instanceFromPod(pod, cluster, revisionOf(client, pod));

  auto current = store_.get(key);
  if (!current.ok()) {
    if (current.status().code() != StatusCode::kNotFound) return current.status();
    auto created = store_.create(*wanted);
    if (created.ok() || created.status().code() == StatusCode::kAlreadyExists) return Status::ok();
    return created.status();
  }
  Object existing = (*current)->object();
  auto owner = existing.metadata.labels.find(kClusterLabel);
  // An Instance of the local runtime (or of another cluster) by the same name is not ours.
  if (owner == existing.metadata.labels.end() || owner->second != cluster) return Status::ok();
  UpdateOptions unconditional;
  unconditional.unconditional = true;
  if (existing.metadata.labels != wanted->metadata.labels || existing.spec != wanted->spec) {
    Object next = existing;
    next.metadata.labels = wanted->metadata.labels;
    next.spec = wanted->spec;
    auto updated = store_.update(std::move(next), unconditional);
    if (!updated.ok()) return updated.status();
  }
  if (existing.status != wanted->status) {
    Object next = existing;
    next.status = wanted->status;
    UpdateOptions status_only = unconditional;
    status_only.status_only = true;
    auto updated = store_.update(std::move(next), status_only);
    if (!updated.ok()) return updated.status();
  }
  return Status::ok();
}

Status PodMirror::removeMirror(const std::string& cluster, const std::string& tenant,
                               const std::string& name) {
  auto current = store_.get({"Instance", tenant, name});
  if (!current.ok()) return Status::ok();
  auto owner = (*current)->metadata.labels.find(kClusterLabel);
  if (owner == (*current)->metadata.labels.end() || owner->second != cluster) return Status::ok();
  auto removed = store_.remove({"Instance", tenant, name}, (*current)->resourceVersion());
  if (removed.ok() || removed.status().code() == StatusCode::kNotFound) return Status::ok();
  return removed.status();
}

void PodMirror::onEvent(const std::string& cluster, kube::Client& client, const std::string& type,
                        const json& pod) {
  Status s;
  if (type == "DELETED") {
    const json meta = pod.value("metadata", json::object());
    const std::string tenant = meta.value("labels", json::object()).value(kube::kTenantLabel, "");
    if (!tenant.empty()) s = removeMirror(cluster, tenant, meta.value("name", ""));
  } else {
    s = upsert(cluster, client, pod);
  }
  // The next event or list writes it again.
  if (!s.isOk()) spdlog::warn("cannot mirror a pod of cluster {}: {}", cluster, s.message());
}

void PodMirror::resync(const std::string& cluster, kube::Client& client, const json& pods) {
  std::set<std::pair<std::string, std::string>> listed;  // tenant, name
  for (const auto& pod : pods) {
    const json meta = pod.value("metadata", json::object());
    listed.insert({meta.value("labels", json::object()).value(kube::kTenantLabel, ""),
                   meta.value("name", "")});
    onEvent(cluster, client, "MODIFIED", pod);
  }
  ListOptions options;
  options.selector = LabelSelector::parse(std::string(kClusterLabel) + "=" + cluster).value();
  for (const auto& item : store_.list("Instance", options).items) {
    if (listed.count({item->metadata.tenant, item->metadata.name})) continue;
    if (Status s = removeMirror(cluster, item->metadata.tenant, item->metadata.name); !s.isOk())
      spdlog::warn("cannot remove the Instance of a pod gone from cluster {}: {}", cluster,
                   s.message());
  }
}

}  // namespace skiff
