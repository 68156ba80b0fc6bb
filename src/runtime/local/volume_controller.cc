#include "runtime/local/volume_controller.h"

#include "model/formats.h"

namespace skiff::runtime {

namespace {
// How often a bound volume's usage is measured again.
constexpr std::chrono::seconds kUsageRefresh(60);
}  // namespace

VolumeController::VolumeController(Store& store, VolumeStore& volumes, const Clock& clock)
    : store_(store), volumes_(volumes), clock_(clock) {}

std::vector<WatchedKind> VolumeController::watches() const {
  return {{"Volume", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); }}};
}

void VolumeController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  for (const auto& [tenant, name] : volumes_.list()) enqueue({"Volume", tenant, name});
}

bool VolumeController::inUse(const ObjectKey& key) const {
  ListOptions options;
  options.tenant = key.tenant;
  for (const auto& item : store_.list("Instance", options).items) {
    const Object instance = item->object();
    for (const auto& v : instance.status.value("volumes", json::array()))
      if (v.is_string() && v.get<std::string>() == key.name) return true;
  }
  return false;
}

Result<ReconcileResult> VolumeController::reconcile(const ObjectKey& key) {
  auto got = store_.get(key);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    if (inUse(key)) return ReconcileResult{std::chrono::seconds(2)};
    if (Status s = volumes_.remove(key.tenant, key.name); !s.isOk()) return s;
    return ReconcileResult{};
  }
  Object volume = (*got)->object();
  const int64_t size =
      volume.spec.contains("size") ? parseMemoryBytes(volume.spec["size"]).value_or(0) : 0;
  json status = volume.status;
  auto info = volumes_.ensure(key.tenant, key.name, size);
  if (!info.ok()) {
    setCondition(status, {"Ready", "False", "ProvisioningFailed", info.status().message(), ""},
                 formatTimestamp(clock_.now()));
  } else {
    status["capacityBytes"] = info->size_enforced ? info->capacity_bytes : size;
    status["usedBytes"] = info->used_bytes;
    status["sizeEnforced"] = info->size_enforced;
    setCondition(status,
                 {"Ready", "True", "Provisioned",
                  info->size_enforced ? "an ext4 filesystem of its own: the size is a hard limit"
                                      : "a directory on the host: the size is not enforced",
                  ""},
                 formatTimestamp(clock_.now()));
  }
  status["observedGeneration"] = volume.metadata.generation;
  if (status != volume.status) {
    volume.status = std::move(status);
    UpdateOptions options;
    options.status_only = true;
    auto written = store_.update(std::move(volume), options);
    if (!written.ok() && written.status().code() != StatusCode::kConflict) return written.status();
  }
  return ReconcileResult{kUsageRefresh};
}

}  // namespace skiff::runtime
