// AutoscaleController: keeps the replica count of every autoscaled component of the local
// runtime where its load and schedules want it (controller/autoscale_plan.h has the algorithm).
// It reconciles an Application: per long-running component with `autoscale`, it reads the
// component's load (observe/component_load.h), decides, and writes the result to the
// Application's status:
//
//   status.autoscale.components.<name>:
//     replicas       what the InstanceSetController runs (it reads autoscaledReplicas())
//     recommendation what the metrics alone want; metrics: the values measured
//     decisions      the last scaling decisions, newest last: at, from, to, reason, metrics
//     history        the recommendations and scale events the stabilisation windows and rate
//                    limits need, so a restarted server goes on where it was
//
// measured() enqueues every autoscaled application: the metrics collector calls it after each
// round, so a decision follows a measurement at once; each application is also looked at every
// `resync`, for schedules and stabilisation windows that open and close without new data.
// Status is written only when a decision changes or `resync` passed, so the controller's own
// writes do not feed it.
// Applications on a Kubernetes cluster are left to the cluster's HorizontalPodAutoscaler.
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>

#include "controller/autoscale_plan.h"
#include "controller/controller.h"
#include "observe/component_load.h"

namespace skiff {

// How many instances the InstanceSetController runs of `component`: for an autoscaled one, the
// autoscaler's count in `app_status` kept within min..max (its initial count is replicas so
// kept), else its replicas.
int autoscaledReplicas(const json& component, const json& app_status);

class AutoscaleController final : public Controller {
 public:
  struct Options {
    // Also how stale the metrics shown in status may get: status is written when a decision
    // changes, and otherwise at most this often (every write is an event for other controllers).
    std::chrono::milliseconds resync{std::chrono::seconds(15)};
    size_t decisions_kept = 10;
  };

  AutoscaleController(Store& store, const Clock& clock, observe::ComponentLoad& load,
                      Options options);

  std::string name() const override { return "autoscaler"; }
  std::vector<WatchedKind> watches() const override;
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

  // New measurements are in: look at every autoscaled application now.
  void measured();

 private:
  // --- constant after construction
  Store& store_;
  const Clock& clock_;
  observe::ComponentLoad& load_;
  const Options options_;
  std::function<void(const ObjectKey&)> enqueue_;  // set before start, then read-only

  // Per application and component: the history the algorithm keeps between decisions, and
  // when status last showed it. Seeded from status, so a restart goes on where it was.
  struct Kept {
    AutoscaleHistory history;
    std::chrono::steady_clock::time_point written{};
  };
  std::mutex mu_;
  std::map<ObjectKey, std::map<std::string, Kept>> kept_;  // guarded by mu_
};

}  // namespace skiff
