// NodeAgent: turns the Instances assigned to this machine into running workloads and reports
// them (the local backend's kubelet). It is a controller over Instance keys:
//   - a new instance is started through the Driver with its component's command, env and
//     ports (each declared port gets a free host port: PORT, PORT_<NAME>), and its readiness,
//     liveness and startup probes are registered with the Prober;
//   - an instance that exited is restarted with exponential backoff (per restartPolicy), its
//     last exit kept in status; a failing liveness probe restarts it;
//   - a retiring instance (spec.terminating) is first taken out of routing (ready=false), then
//     stopped within its grace period, then deleted;
//   - after a control-plane restart, running workloads are adopted, not started again.
// Probe results only record health and enqueue the key; reconcile() writes status.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "controller/controller.h"
#include "runtime/local/driver.h"
#include "runtime/local/exit_watcher.h"
#include "runtime/probe/prober.h"

namespace skiff::runtime {

class NodeAgent final : public Controller {
 public:
  struct Options {
    std::string node = "local";
    // Time between leaving routing and SIGTERM, for the gateway to stop sending requests.
    std::chrono::milliseconds drain{1000};
    std::chrono::milliseconds initial_backoff{500};
    std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
    // An instance that ran this long without exiting starts its backoff afresh.
    std::chrono::milliseconds backoff_reset{std::chrono::minutes(1)};
    // The gateway's proxy address ("HOST:PORT", empty if unknown), given to every instance as
    // SKIFF_GATEWAY_ADDR: components reach each other through it by route host.
    std::function<std::string()> gateway_address;
  };

  NodeAgent(Store& store, Driver& driver, Prober& prober, const Clock& clock, Options options);

  std::string name() const override { return "node-agent"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override {
    requeue_ = std::move(enqueue);
  }

 private:
  struct Health {
    std::optional<bool> readiness, liveness, startup;
    std::string message;
    uint64_t generation = 0;  // bumps on every result, to notice changes
  };

  static std::string driverId(const ObjectKey& key);
  Result<InstanceSpec> buildSpec(const Object& instance, const json& component,
                                 std::map<std::string, int>* ports);
  Status registerProbes(const ObjectKey& key, const json& component,
                        const std::map<std::string, int>& ports);
  void unregisterProbes(const ObjectKey& key);
  Result<ReconcileResult> retire(const ObjectKey& key, Object instance, const json& component);
  Status writeStatus(const Object& instance, json status);

  Store& store_;
  Driver& driver_;
  Prober& prober_;
  const Clock& clock_;
  const Options options_;
  std::function<void(const ObjectKey&)> requeue_;

  std::mutex mu_;
  std::map<ObjectKey, Health> health_;  // guarded by mu_

  // Requeues an instance when its shim exits (the workload ended); declared last so that it
  // stops before what its callback uses goes away.
  ExitWatcher exits_;
};

}  // namespace skiff::runtime
