#include "controller/revision_controller.h"

namespace skiff {

std::string revisionName(const std::string& application, int64_t n) {
  return application + "-" + std::to_string(n);
}

std::vector<WatchedKind> RevisionController::watches() const {
  return {
      {"Application", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); }},
      {"Revision", owningApplication},
  };
}

Result<ReconcileResult> RevisionController::reconcile(const ObjectKey& key) {
  // Revisions are named "<application>-<n>" (revisionName); the label still decides ownership,
  // since "shop-canary-1" also starts with "shop-".
  ObjectList revisions = listOwnedBy(store_, "Revision", key, key.name + "-");

  auto app = store_.get(key);
  if (!app.ok()) {
    if (app.status().code() != StatusCode::kNotFound) return app.status();
    for (const auto& r : revisions.items) {
      auto removed = store_.remove(r->key());
      if (!removed.ok() && removed.status().code() != StatusCode::kNotFound)
        return removed.status();
    }
    return ReconcileResult{};
  }
  const Object application = (*app)->object();

  std::optional<Object> latest;
  for (const auto& r : revisions.items) {
    Object revision = r->object();
    if (!latest ||
        revision.spec.value("revision", int64_t{0}) > latest->spec.value("revision", int64_t{0}))
      latest = std::move(revision);
  }
  int64_t number = latest ? latest->spec.value("revision", int64_t{0}) : 0;
  const bool changed = !latest || latest->spec.value("template", json()) != application.spec;
  if (changed) {
    ++number;
    Object revision;
    revision.kind = "Revision";
    revision.metadata.name = revisionName(key.name, number);
    revision.metadata.tenant = key.tenant;
    revision.metadata.labels[kApplicationLabel] = key.name;
    if (auto cause = application.metadata.annotations.find(kChangeCauseAnnotation);
        cause != application.metadata.annotations.end())
      revision.metadata.annotations[kChangeCauseAnnotation] = cause->second;
    revision.spec = {{"application", key.name},
                     {"revision", number},
                     {"applicationGeneration", application.metadata.generation},
                     {"template", application.spec}};
    auto created = store_.create(std::move(revision));
    if (!created.ok()) return created.status();
  }

  Object updated = application;
  json& status = updated.status;
  status["observedGeneration"] = application.metadata.generation;
  status["latestRevision"] = number;
  setCondition(status,
               {"Accepted", "True", "RevisionReady",
                "revision " + std::to_string(number) + " holds the current spec", ""},
               formatTimestamp(clock_.now()));
  if (updated.status != application.status) {
    UpdateOptions update;
    update.status_only = true;
    auto written = store_.update(std::move(updated), update);
    if (!written.ok()) return written.status();
  }
  return ReconcileResult{};
}

}  // namespace skiff
