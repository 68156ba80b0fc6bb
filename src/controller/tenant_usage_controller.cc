#include "controller/tenant_usage_controller.h"

namespace skiff {

namespace {

Footprint minus(Footprint a, const Footprint& b) {
  a.applications -= b.applications;
  a.instances -= b.instances;
  a.cpu_millis -= b.cpu_millis;
  a.memory_bytes -= b.memory_bytes;
  a.storage_bytes -= b.storage_bytes;
  return a;
}

}  // namespace

std::vector<WatchedKind> TenantUsageController::watches() const {
  // A footprint comes from the spec alone.
  return {{"Application", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); },
           /*skip_status_writes=*/true}};
}

Result<ReconcileResult> TenantUsageController::reconcile(const ObjectKey& key) {
  auto stored = store_.get(key);
  if (!stored.ok() && stored.status().code() != StatusCode::kNotFound) return stored.status();
  Footprint total;
  {
    std::lock_guard lock(mu_);
    Tenant& tenant = by_tenant_[key.tenant];
    auto it = counted_.find(key);
    const bool unchanged = stored.ok() && it != counted_.end() &&
                           it->second.uid == (*stored)->metadata.uid &&
                           it->second.generation == (*stored)->metadata.generation;
    if (!unchanged) {
      if (it != counted_.end()) {
        tenant.usage = minus(tenant.usage, it->second.footprint);
        counted_.erase(it);
        tenant.unwritten = true;
      }
      if (stored.ok()) {
        Counted c{(*stored)->metadata.uid, (*stored)->metadata.generation,
                  footprintOf(parsedObject(*stored)->spec)};
        tenant.usage += c.footprint;
        counted_.emplace(key, std::move(c));
        tenant.unwritten = true;
      }
    }
    if (!tenant.unwritten) return ReconcileResult{};
    const auto now = clock_.monotonic();
    if (tenant.last_write && now < *tenant.last_write + kMinWriteInterval) {
      // One key of the tenant comes back for the write (a delayed key is never dropped by
      // the queue); the others need not.
      if (tenant.due) return ReconcileResult{};
      tenant.due = true;
      return ReconcileResult{std::chrono::duration_cast<std::chrono::milliseconds>(
                                 *tenant.last_write + kMinWriteInterval - now) +
                             std::chrono::milliseconds(1)};
    }
    tenant.unwritten = false;
    tenant.due = false;
    tenant.last_write = now;
    total = tenant.usage;
  }
  if (Status s = publish(key.tenant, total); !s.isOk()) {
    std::lock_guard lock(mu_);
    by_tenant_[key.tenant].unwritten = true;  // this key is retried with backoff
    return s;
  }
  return ReconcileResult{};
}

Status TenantUsageController::publish(const std::string& tenant, const Footprint& usage) {
  auto stored = store_.get({"Tenant", "", tenant});
  if (!stored.ok())
    return stored.status().code() == StatusCode::kNotFound ? Status::ok() : stored.status();
  Object object = (*stored)->object();
  const nlohmann::json wanted = usage.toJson();
  if (object.status.is_object() && object.status.value("usage", nlohmann::json()) == wanted)
    return Status::ok();
  if (!object.status.is_object()) object.status = nlohmann::json::object();
  object.status["usage"] = wanted;
  UpdateOptions options;
  options.status_only = true;
  options.unconditional = true;  // the only writer of a tenant's status
  auto written = store_.update(std::move(object), options);
  return written.ok() ? Status::ok() : written.status();
}

}  // namespace skiff
