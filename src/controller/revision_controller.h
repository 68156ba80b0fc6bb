// RevisionController: every change of an Application's spec becomes the next immutable,
// numbered Revision holding the full spec; an application whose spec equals its latest
// revision's gets none. Revisions of a deleted application are garbage-collected.
// Writes Application status: observedGeneration, latestRevision and the Accepted condition.
#pragma once

#include "controller/controller.h"
#include "model/well_known.h"

namespace skiff {

// Name of revision `n` of `application`: "shop-3".
std::string revisionName(const std::string& application, int64_t n);

class RevisionController final : public Controller {
 public:
  RevisionController(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  std::string name() const override { return "revisions"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  Store& store_;
  const Clock& clock_;
};

}  // namespace skiff
