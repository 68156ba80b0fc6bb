// TenantUsageController: keeps each tenant's status.usage — the sum of its applications'
// footprints (controller/footprint.h) — next to its quota, so `skiff describe tenant` shows
// what is used and what remains. It reconciles Application keys and keeps each application's
// footprint (recomputed only when its spec's generation changes) and each tenant's total in
// memory, so a status write of an application costs a map lookup, not a pass over the tenant.
// A tenant's usage is written at most once per kMinWriteInterval: a burst of applications (an
// import of thousands) becomes a few tenant writes rather than one per application, each of
// which would also be a version of the tenant in the watch history.
//
// Thread-safe; meant to run with one worker (the totals are updated in key order anyway).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include "common/clock.h"
#include "controller/controller.h"
#include "controller/footprint.h"

namespace skiff {

class TenantUsageController final : public Controller {
 public:
  static constexpr std::chrono::milliseconds kMinWriteInterval{1000};

  TenantUsageController(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  std::string name() const override { return "tenant-usage"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  struct Counted {
    std::string uid;
    int64_t generation = 0;
    Footprint footprint;
  };
  struct Tenant {
    Footprint usage;
    bool unwritten = false;  // usage changed since the last write
    bool due = false;        // a key of the tenant is queued to come back for the write
    std::optional<std::chrono::steady_clock::time_point> last_write;
  };
  // Writes `tenant`'s status.usage when it differs from `usage`.
  Status publish(const std::string& tenant, const Footprint& usage);

  Store& store_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<ObjectKey, Counted> counted_;     // guarded by mu_
  std::map<std::string, Tenant> by_tenant_;  // guarded by mu_
};

}  // namespace skiff
