// PodMirror: the pods of applications on Kubernetes clusters, as Instance objects in the store,
// so `skiff get instances` (with selectors and watch), logs and exec treat them as they treat
// the local runtime's instances.
//
// KubeApplicationController's pod watch feeds it: a pod ADDED or MODIFIED is written as the
// Instance of the same name, a pod DELETED removes it, and after every list the cluster's
// mirrored Instances whose pod is not listed are removed. A mirrored Instance carries the
// application and component labels of any Instance plus kClusterLabel; its spec.node is the
// pod's node, and status holds phase, ready (and the Ready condition), restarts, address (the
// pod IP), node, cluster, driver "kubernetes" and `pod` {namespace, name, container} for logs
// and exec. Only pods of applications whose current revision targets that cluster are
// mirrored: a pod still going away after its application was deleted or moved is not written
// back. The local runtime leaves Instances with kClusterLabel alone (instance_set_controller.cc).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "kube/client.h"
#include "model/object.h"
#include "store/store.h"

namespace skiff {

// The Instance that mirrors `pod` of `cluster` (its revision given, as the pod itself may not
// say it), or nullopt for a pod that is no application's instance (no tenant, application or
// component label). Pure.
std::optional<Object> instanceFromPod(const json& pod, const std::string& cluster,
                                      int64_t revision);

// The revision a pod runs as its own skiff.dev/revision annotation says; 0 when it does not.
int64_t podRevisionAnnotation(const json& pod);

class PodMirror {
 public:
  explicit PodMirror(Store& store) : store_(store) {}

  // One event of the pod watch of `cluster` (ADDED, MODIFIED or DELETED).
  void onEvent(const std::string& cluster, kube::Client& client, const std::string& type,
               const json& pod);
  // A list of all the pods the watch covers on `cluster` (the list object's items): each is
  // written, and mirrored Instances of `cluster` without a pod among them are removed.
  void resync(const std::string& cluster, kube::Client& client, const json& pods);

 private:
  Status upsert(const std::string& cluster, kube::Client& client, const json& pod);
  Status removeMirror(const std::string& cluster, const std::string& tenant,
                      const std::string& name);
  // Whether the application's current revision runs on `cluster`.
  bool runsOn(const std::string& tenant, const std::string& application,
              const std::string& cluster) const;
  // The pod's revision: its annotation, else its owning ReplicaSet's or StatefulSet's (which
  // carry the annotation of their workload), remembered for a few seconds.
  int64_t revisionOf(kube::Client& client, const json& pod);

  Store& store_;
  struct OwnerRevision {
    int64_t revision;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mu_;
  std::map<std::string, OwnerRevision> owners_;  // guarded by mu_; "Kind/ns/name"
};

}  // namespace skiff
