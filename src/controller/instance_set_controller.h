// InstanceSetController: turns each Application's latest Revision into Instances, one per
// replica of every long-running component, and moves them to a new revision by rolling update
// (maxSurge / maxUnavailable, new instances ready before old ones retire). Stateful components
// get stable ordinal names (cache-0, cache-1) and start and update one at a time, in order.
// Retiring sets spec.terminating; the node agent drains, stops and deletes the instance.
//
// A service with a canary or blue-green strategy whose instances change since the stable
// revision (status.stableRevision) is released as two sets (release_plan.h): the stable set
// keeps running the stable revision's template at full size while a canary set (label
// skiff.dev/track=canary) runs the new one, sized by the step in force; the route controller
// splits traffic by the step's weight. While the canary takes traffic the gateway's measurements
// of both (observe/revision_traffic.h) are judged about once a second, and a breach aborts.
// After the last step the canary set joins the stable set (a label change: nothing restarts)
// and the rest rolls as usual; blue-green's replaced set stays warm, without traffic, for
// rollout.keepWarm, and a revision that goes back to its template switches to it at once.
//
// Writes Application status: per-component counts, status.release (each released component's
// step, weight, analysis and abort), status.stableRevision, and the Available, Progressing and
// Ready conditions.
#pragma once

#include "model/well_known.h"

#include "controller/controller.h"
#include "controller/release_plan.h"
#include "controller/rollout_plan.h"
#include "observe/revision_traffic.h"

namespace skiff {

// Label on every Instance: a hash of its component's spec without replicas and autoscale.
// Instances whose hash matches the latest revision's are current: scaling replaces nothing,
// and neither does a revision that changed another component.
inline constexpr const char* kTemplateHashLabel = "skiff.dev/template-hash";

// On an Instance of blue-green's replaced set (label skiff.dev/track=warm): until when it keeps
// running without traffic, so that `skiff rollout undo` can switch back to it at once.
inline constexpr const char* kWarmUntilAnnotation = "skiff.dev/warm-until";

// The template hash of a component spec (see kTemplateHashLabel). `config_versions` is the
// revision's spec.configVersions: for an application that follows its configuration, the
// versions of what the component uses count too, so a changed Config replaces its instances.
std::string templateHash(const json& component, const json& config_versions = json::object());

class InstanceSetController final : public Controller {
 public:
  // `traffic` (may be null: no analysis) outlives the controller.
  InstanceSetController(Store& store, const Clock& clock,
                        observe::RevisionTraffic* traffic = nullptr)
      : store_(store), clock_(clock), traffic_(traffic) {}

  std::string name() const override { return "instances"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  using LiveInstances = std::vector<std::pair<StoredObjectPtr, Object>>;
  // One set of a component's instances and what it should be: `desired` instances of template
  // `hash`, new ones made from revision `revision`.
  struct InstanceSet {
    std::string hash;
    int64_t revision = 0;
    int desired = 0;
    bool canary = false;
  };
  Status createInstance(const Object& app, const json& component, const InstanceSet& set,
                        std::optional<int> ordinal);
  Status retire(const StoredObjectPtr& instance);
  // Moves an instance between sets: `track` "" (stable), "canary" or "warm" (until
  // `warm_until`), without touching what it runs.
  Status setTrack(const StoredObjectPtr& instance, const std::string& track,
                  const std::string& warm_until = "");
  // The analysis' HTTP checks against the ready instances of `canary`: the first that fails.
  std::optional<ReleaseAbort> checkCanary(const json& component, const AnalysisSpec& analysis,
                                          const LiveInstances& canary);
  // One rolling-update step of `instances` towards `set` (rollout_plan.h).
  Status rollSet(const Object& app, const json& component, const InstanceSet& set,
                 const LiveInstances& instances, const RolloutBudget& budget);

  Store& store_;
  const Clock& clock_;
  observe::RevisionTraffic* const traffic_;
};

}  // namespace skiff
