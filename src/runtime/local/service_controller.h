// ServiceController: gives every component that runs as containers a stable virtual address
// inside its tenant, load-balanced over its ready instances (the local backend's kube-proxy).
// It reconciles Application keys: for each component with ports whose instances run in their
// own network namespace, the service "APP/COMPONENT" gets one ServicePort per declared port
// with the ready instances' addresses; components that are gone (or whose application is, or
// has moved to a Kubernetes cluster) lose their service. The node agent names the same
// services in each container's /etc/hosts, so `cache:6379` reaches the cache component from
// anywhere in the application.
//
// Reconciles run on the controller manager's workers; the Network serialises host changes.
#pragma once

#include "controller/controller.h"
#include "runtime/local/network/network.h"

namespace skiff::runtime {

// The service key of a component: "APP/COMPONENT".
std::string serviceKey(const std::string& application, const std::string& component);

class ServiceController final : public Controller {
 public:
  ServiceController(Store& store, network::Network& network);

  std::string name() const override { return "services"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  Store& store_;
  network::Network& network_;
};

}  // namespace skiff::runtime
