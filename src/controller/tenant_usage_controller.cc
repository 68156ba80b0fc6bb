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
  return {{"Application", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); }}};
}

Result<ReconcileResult> TenantUsageController::reconcile(const ObjectKey& key) {
  auto stored = store_.get(key);
  if (!stored.ok() && stored.status().code() != StatusCode::kNotFound) return stored.status();
  Footprint total;
  {
    std::lock_guard lock(mu_);
    Footprint& tenant = by_tenant_[key.tenant];
    auto it = counted_.find(key);
    const bool unchanged = stored.ok() && it != counted_.end() &&
                           it->second.uid == (*stored)->metadata.uid &&
                           it->second.generation == (*stored)->metadata.generation;
    if (unchanged) return ReconcileResult{};
    if (it != counted_.end()) {
      tenant = minus(tenant, it->second.footprint);
      counted_.erase(it);
    }
    if (stored.ok()) {
      Counted c{(*stored)->metadata.uid, (*stored)->metadata.generation,
                footprintOf((*stored)->object().spec)};
      tenant += c.footprint;
      counted_.emplace(key, std::move(c));
    }
    total = tenant;
  }
  if (Status s = publish(key.tenant, total); !s.isOk()) return s;
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
