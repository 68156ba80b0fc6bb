// RevisionController: every change of an Application's spec becomes the next immutable,
// numbered Revision holding the full spec; an application whose spec equals its latest
// revision's gets none. Revisions of a deleted application are garbage-collected.
// Writes Application status: observedGeneration, latestRevision and the Accepted condition.
//
// An application with spec.rolloutOnConfigChange also gets a new revision when a Config or
// Secret its components use changes: each revision records the resourceVersions it was
// released with (spec.configVersions), never the values.
#pragma once

#include "controller/controller.h"
#include "model/well_known.h"

namespace skiff {

// Name of revision `n` of `application`: "shop-3".
std::string revisionName(const std::string& application, int64_t n);

// The Configs and Secrets a component uses (env valueFrom, envFrom, volumes), as
// "config/NAME" and "secret/NAME", sorted, without duplicates.
std::vector<std::string> configRefs(const json& component);

// Component `component` of revision `revision` of application `application`, as that revision
// holds it; null when the revision or the component is gone.
json revisionComponent(const Store& store, const ObjectKey& application, int64_t revision,
                       const std::string& component);

class RevisionController final : public Controller {
 public:
  RevisionController(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  std::string name() const override { return "revisions"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;
  void bindQueue(std::function<void(const ObjectKey&)> enqueue) override {
    enqueue_ = std::move(enqueue);
  }

 private:
  Result<ReconcileResult> reconcileApplication(const ObjectKey& key);
  // A Config or Secret changed: enqueue the applications of its tenant that follow it.
  void enqueueFollowers(const ObjectKey& config);

  std::function<void(const ObjectKey&)> enqueue_;
  Store& store_;
  const Clock& clock_;
};

}  // namespace skiff
