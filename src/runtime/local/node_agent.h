// NodeAgent: turns the Instances assigned to this machine into running workloads and reports
// them (the local backend's kubelet). It is a controller over Instance keys:
//   - a component with an image runs as a container (Options::containers): the image is
//     resolved (pulled when missing), the instance gets a network namespace and an address of
//     its own in its tenant's network, its declared ports as they are (PORT, PORT_<NAME>), the
//     application's components by name in /etc/hosts, and its volumes mounted at their paths;
//   - a component with only `run` runs as a host process through the process Driver: each
//     declared port gets a free host port, volumes are directories named by SKIFF_VOLUME_<NAME>;
//   - either way its readiness, liveness and startup probes are registered with the Prober;
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
#include "runtime/local/image_source.h"
#include "runtime/local/network/network.h"
#include "runtime/local/volume_store.h"
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
    // Components with an image run through `containers`, on `network`, from `images`; when
    // containers cannot run here, `containers` is null and their instances fail with
    // `containers_unavailable` as the reason.
    Driver* containers = nullptr;
    network::Network* network = nullptr;
    ImageSource* images = nullptr;
    std::string containers_unavailable = "this server runs no container driver";
    // Persistent volumes (Volume objects); null: components with one cannot start.
    VolumeStore* volumes = nullptr;
    // Where emptyDir volumes of instances live (one directory per instance), removed with it.
    std::string scratch_dir;
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
  // The driver that runs the component's instances: containers for an image.
  Result<Driver*> driverFor(const json& component) const;
  // The spec to start the instance with. Writes where it will be reachable (address, ports,
  // network) and, for a container, the image that runs into `status`. A container is attached
  // to the network last, so a failure before leaves nothing to release.
  Result<InstanceSpec> buildSpec(const Object& instance, const json& component,
                                 std::map<std::string, int>* ports, json* status);
  // A container's image: root filesystem, command, environment, user, working directory.
  Status addImage(const Object& instance, const json& component, InstanceSpec* spec, json* status);
  // A container's address in its tenant's network and the application's names in /etc/hosts.
  Status attachNetwork(const Object& instance, InstanceSpec* spec, json* status);
  // Persistent and emptyDir volumes: ensured on disk (a Volume object per persistent volume),
  // mounted into containers or named by SKIFF_VOLUME_<NAME> for processes.
  // Records the Volume names in status["volumes"] (what VolumeController checks before deleting).
  Status addVolumes(const Object& instance, const json& component, InstanceSpec* spec,
                    json* status);
  // Everything an instance holds on the host beyond its driver state: network, scratch.
  void releaseHost(const std::string& id);
  // Stops and removes the workload in whichever driver has it.
  Status stopAndRemove(const std::string& id, std::chrono::milliseconds grace);
  Status registerProbes(const ObjectKey& key, const json& component,
                        const std::map<std::string, int>& ports, const std::string& host);
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
