// KubeApplicationController: the kubernetes backend's reconcile loop. An application whose
// latest revision targets a Cluster (spec.cluster other than "local") is rendered
// (kube/render.h) with its tenant's namespace, quota, limits and isolation policy, applied to
// that cluster by server-side apply, and what it rendered before but no longer does is
// deleted; nothing without Skiff's labels is touched. The workloads' status (desired, ready,
// updated replicas; pods that cannot pull, crash or be scheduled) becomes the application's
// status.components and its Deployed, Available, Progressing and Ready conditions. A deleted
// application, or one moved to another cluster, is removed from the cluster it left.
//
// Status follows the cluster by watch: for each cluster in use, one list-then-watch each of
// Deployments, StatefulSets and Pods labelled managed-by=skiff (all namespaces) enqueues the
// application an event concerns. The pod watch also mirrors each pod as an Instance
// (kube_pod_mirror.h). A reconcile whose rendered objects equal what it last applied
// only reads status; everything is applied again at least every 5 minutes, to undo drift.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

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
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override;
  void stop() override;

  struct Watches;  // shared with the watch threads, which outlive this object

 private:
  // Starts the watches of `cluster_name` unless they run.
  void watchCluster(const std::string& cluster_name, const KubeCluster& cluster);

  // Deletes everything rendered for `app` on `cluster`, keeping `keep` ("Kind/name").
  Status prune(KubeCluster& cluster, const std::string& ns, const std::string& app,
               const std::set<std::string>& keep);
  Status removeEverywhere(const ObjectKey& key, const std::string& except_cluster);

  Store& store_;
  const Clock& clock_;
  KubeClients& clients_;
  // What was learnt or done lately ("gateway-api:<cluster>", "tenant:<cluster>/<ns>",
  // "application:<tenant>/<name>") and its value or digest, for skipping repeats.
  static std::string appMemo(const ObjectKey& key);
  std::optional<std::string> recall(const std::string& what, std::chrono::seconds max_age);
  void remember(const std::string& what, std::string value);
  void forget(const std::string& what);

  std::shared_ptr<Watches> watches_;
  struct Memo {
    std::string value;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mu_;
  std::map<std::string, Memo> memo_;  // guarded by mu_
};

}  // namespace skiff
