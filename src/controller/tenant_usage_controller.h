// TenantUsageController: keeps each tenant's status.usage — the sum of its applications'
// footprints (controller/footprint.h) — next to its quota, so `skiff describe tenant` shows
// what is used and what remains. It reconciles Application keys and keeps each application's
// footprint (recomputed only when its spec's generation changes) and each tenant's total in
// memory, so a status write of an application costs a map lookup, not a pass over the tenant.
//
// Thread-safe; meant to run with one worker (the totals are updated in key order anyway).
#pragma once

#include <map>
#include <mutex>

#include "controller/controller.h"
#include "controller/footprint.h"

namespace skiff {

class TenantUsageController final : public Controller {
 public:
  explicit TenantUsageController(Store& store) : store_(store) {}

  std::string name() const override { return "tenant-usage"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  struct Counted {
    std::string uid;
    int64_t generation = 0;
    Footprint footprint;
  };
  // Writes `tenant`'s status.usage when it differs from `usage`.
  Status publish(const std::string& tenant, const Footprint& usage);

  Store& store_;
  std::mutex mu_;
  std::map<ObjectKey, Counted> counted_;        // guarded by mu_
  std::map<std::string, Footprint> by_tenant_;  // guarded by mu_
};

}  // namespace skiff
