// ClusterController: checks every Cluster's API server every 30 s (and when the Cluster
// changes) and writes what it found to status: reachable, the server's version, the last
// error, and the Ready condition. A check is GET /version with the Cluster's own credentials,
// so a wrong CA, an expired token or a down server each show as what they are.
//
// Thread-safe.
#pragma once

#include "controller/controller.h"
#include "controller/kube_clients.h"

namespace skiff {

class ClusterController final : public Controller {
 public:
  ClusterController(Store& store, const Clock& clock, KubeClients& clients)
      : store_(store), clock_(clock), clients_(clients) {}

  std::string name() const override { return "clusters"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  Store& store_;
  const Clock& clock_;
  KubeClients& clients_;
};

}  // namespace skiff
