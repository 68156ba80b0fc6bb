// KubeApplicationController: the kubernetes backend's reconcile loop. An application whose
// latest revision targets a Cluster (spec.cluster other than "local") is rendered
// (kube/render.h) with its tenant's namespace, quota, limits and isolation policy, applied to
// that cluster by server-side apply, and what it rendered before but no longer does is
// deleted; nothing without Skiff's labels is touched. The workloads' status (desired, ready,
// updated replicas; pods that cannot pull, crash or be scheduled) becomes the application's
// status.components and its Deployed, Available, Progressing and Ready conditions. A deleted
// application, or one moved to another cluster, is removed from the cluster it left.
//
// Status is read on each reconcile, which is requeued every 2 s until the application is ready
// (then every 30 s): polling, not a watch yet.
//
// Thread-safe.
#pragma once

#include <map>
#include <mutex>

#include "controller/controller.h"
#include "controller/kube_clients.h"

namespace skiff {

class KubeApplicationController final : public Controller {
 public:
  KubeApplicationController(Store& store, const Clock& clock, KubeClients& clients)
      : store_(store), clock_(clock), clients_(clients) {}

  std::string name() const override { return "kubernetes"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  // Deletes everything rendered for `app` on `cluster`, keeping `keep` ("Kind/name").
  Status prune(KubeCluster& cluster, const std::string& ns, const std::string& app,
               const std::set<std::string>& keep);
  Status removeEverywhere(const ObjectKey& key, const std::string& except_cluster);

  Store& store_;
  const Clock& clock_;
  KubeClients& clients_;
};

}  // namespace skiff
