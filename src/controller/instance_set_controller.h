// InstanceSetController: turns each Application's latest Revision into Instances, one per
// replica of every long-running component, and moves them to a new revision by rolling update
// (maxSurge / maxUnavailable, new instances ready before old ones retire). Stateful components
// get stable ordinal names (cache-0, cache-1) and start and update one at a time, in order.
// Retiring sets spec.terminating; the node agent drains, stops and deletes the instance.
// Writes Application status: per-component counts and the Available, Progressing and Ready
// conditions.
#pragma once

#include "model/well_known.h"

#include "controller/controller.h"

namespace skiff {

// Label on every Instance: a hash of its component's spec without replicas and autoscale.
// Instances whose hash matches the latest revision's are current: scaling replaces nothing,
// and neither does a revision that changed another component.
inline constexpr const char* kTemplateHashLabel = "skiff.dev/template-hash";

// The template hash of a component spec (see kTemplateHashLabel). `config_versions` is the
// revision's spec.configVersions: for an application that follows its configuration, the
// versions of what the component uses count too, so a changed Config replaces its instances.
std::string templateHash(const json& component, const json& config_versions = json::object());

class InstanceSetController final : public Controller {
 public:
  InstanceSetController(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  std::string name() const override { return "instances"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  Status createInstance(const Object& app, const json& component, int64_t revision,
                        const std::string& hash, std::optional<int> ordinal);
  Status retire(const StoredObjectPtr& instance);

  Store& store_;
  const Clock& clock_;
};

}  // namespace skiff
