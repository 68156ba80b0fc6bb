#include "controller/cluster_controller.h"

namespace skiff {

std::vector<WatchedKind> ClusterController::watches() const {
  return {{"Cluster", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); }}};
}

Result<ReconcileResult> ClusterController::reconcile(const ObjectKey& key) {
  auto stored = store_.get(key);
  if (!stored.ok())
    return stored.status().code() == StatusCode::kNotFound
               ? Result<ReconcileResult>(ReconcileResult{})
               : stored.status();
  auto cluster = clients_.get(key.name);
  if (!cluster.ok()) return cluster.status();
  auto version = cluster->client->version();
  Object object = (*stored)->object();
  json status = object.status.is_object() ? object.status : json::object();
  status["reachable"] = version.ok();
  if (version.ok()) {
    status["version"] = version->value("gitVersion", "");
    status.erase("lastError");
  } else {
    status["lastError"] = version.status().message();
  }
  const auto now = clock_.now();
  Condition ready{"Ready", "True", "Reachable", "the API server answers with these credentials",
                  ""};
  if (!version.ok()) ready = {"Ready", "False", "Unreachable", version.status().message(), ""};
  status.erase("credentialsExpireAt");
  if (cluster->expiry) status["credentialsExpireAt"] = formatTimestamp(cluster->expiry->at);
  if (std::string expired = cluster->expired(now); !expired.empty()) {
    ready = {"Ready", "False", "CredentialsExpired", expired, ""};
    status["lastError"] = expired;
  }
  setCondition(status, ready, formatTimestamp(now));
  if (status != object.status) {
    object.status = std::move(status);
    UpdateOptions options;
    options.status_only = true;
    options.unconditional = true;  // the only writer of a cluster's status
    auto written = store_.update(std::move(object), options);
    if (!written.ok() && written.status().code() != StatusCode::kNotFound) return written.status();
  }
  auto recheck = std::chrono::milliseconds(std::chrono::seconds(30));
  // An expiry within the period is shown when it happens.
  if (cluster->expiry && cluster->expiry->at > now)
    recheck =
        std::min(recheck, std::chrono::ceil<std::chrono::milliseconds>(cluster->expiry->at - now));
  return ReconcileResult{recheck};
}

}  // namespace skiff
