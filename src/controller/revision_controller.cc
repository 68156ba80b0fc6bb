#include "controller/revision_controller.h"

#include <algorithm>
#include <charconv>

namespace skiff {

std::string revisionName(const std::string& application, int64_t n) {
  return application + "-" + std::to_string(n);
}

namespace {

// {"config/NAME": resourceVersion, "secret/NAME": ...} of every Config and Secret the
// application's components use; 0 for one that does not exist (yet).
json configVersions(const Store& store, const std::string& tenant, const json& spec) {
  json versions = json::object();
  for (const json& c : spec.value("components", json::array())) {
    for (const std::string& ref : configRefs(c)) {
      const size_t slash = ref.find('/');
      const ObjectKey key{ref.substr(0, slash) == "secret" ? "Secret" : "Config", tenant,
                          ref.substr(slash + 1)};
      auto got = store.get(key);
      versions[ref] = got.ok() ? (*got)->resourceVersion() : 0;
    }
  }
  return versions;
}

// "config/app 12 -> 15, secret/db 0 -> 3": what changed between two configVersions.
std::string versionChanges(const json& before, const json& after) {
  std::string out;
  for (auto it = after.begin(); it != after.end(); ++it) {
    const int64_t was = before.value(it.key(), int64_t{0});
    if (was == it->get<int64_t>()) continue;
    out += (out.empty() ? "" : ", ") + it.key() + " " + std::to_string(was) + " -> " +
           std::to_string(it->get<int64_t>());
  }
  return out;
}

}  // namespace

json revisionComponent(const Store& store, const ObjectKey& application, int64_t revision,
                       const std::string& component) {
  auto stored =
      store.get({"Revision", application.tenant, revisionName(application.name, revision)});
  if (!stored.ok()) return json();
  const json spec = parsedObject(*stored)->spec.value("template", json::object());
  for (const auto& c : spec.value("components", json::array()))
    if (c.value("name", "") == component) return c;
  return json();
}

std::vector<std::string> configRefs(const json& component) {
  std::vector<std::string> refs;
  auto note = [&](const json& holder) {
    for (const char* kind : {"config", "secret"}) {
      auto it = holder.find(kind);
      if (it == holder.end()) continue;
      const std::string name = it->is_string() ? it->get<std::string>() : it->value("name", "");
      if (!name.empty()) refs.push_back(std::string(kind) + "/" + name);
    }
  };
  for (const json& e : component.value("env", json::array()))
    note(e.value("valueFrom", json::object()));
  for (const json& e : component.value("envFrom", json::array())) note(e);
  for (const json& v : component.value("volumes", json::array()))
    note(v.value("source", json::object()));
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  return refs;
}

std::vector<WatchedKind> RevisionController::watches() const {
  auto self = [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); };
  // Revisions come from the spec (and annotations); the application's status is only written.
  return {{"Application", self, /*skip_status_writes=*/true},
          {"Revision", owningApplication},
          {"Config", self},
          {"Secret", self}};
}

Result<ReconcileResult> RevisionController::reconcile(const ObjectKey& key) {
  if (key.kind == "Config" || key.kind == "Secret") {
    enqueueFollowers(key);
    return ReconcileResult{};
  }
  return reconcileApplication(key);
}

void RevisionController::enqueueFollowers(const ObjectKey& config) {
  if (!enqueue_) return;
  ListOptions options;
  options.tenant = config.tenant;
  const std::string ref =
      std::string(config.kind == "Secret" ? "secret/" : "config/") + config.name;
  for (const auto& app : store_.list("Application", options).items) {
    const json& spec = app->object().spec;
    if (spec.value("rolloutOnConfigChange", false) &&
        configVersions(store_, config.tenant, spec).contains(ref))
      enqueue_(app->key());
  }
}

Result<ReconcileResult> RevisionController::reconcileApplication(const ObjectKey& key) {
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
  const auto parsed_application = parsedObject(*app);
  const Object& application = *parsed_application;

  // The latest revision has the highest number in its name (revisionName): only it is parsed.
  StoredObjectPtr latest_snapshot;
  int64_t latest_number = 0;
  for (const auto& r : revisions.items) {
    const std::string& name = r->metadata.name;
    int64_t n = 0;
    auto [end, error] =
        std::from_chars(name.data() + key.name.size() + 1, name.data() + name.size(), n);
    if (error == std::errc() && end == name.data() + name.size() && n > latest_number) {
      latest_number = n;
      latest_snapshot = r;
    }
  }
  const std::shared_ptr<const Object> latest =
      latest_snapshot ? parsedObject(latest_snapshot) : nullptr;
  int64_t number = latest ? latest->spec.value("revision", int64_t{0}) : 0;
  const bool follows_config = application.spec.value("rolloutOnConfigChange", false);
  const json versions =
      follows_config ? configVersions(store_, key.tenant, application.spec) : json::object();
  const json latest_versions =
      latest ? latest->spec.value("configVersions", json::object()) : json::object();
  const bool spec_changed = !latest || latest->spec.value("template", json()) != application.spec;
  const bool config_changed = follows_config && latest && latest_versions != versions;
  if (spec_changed || config_changed) {
    ++number;
    Object revision;
    revision.kind = "Revision";
    revision.metadata.name = revisionName(key.name, number);
    revision.metadata.tenant = key.tenant;
    revision.metadata.labels[kApplicationLabel] = key.name;
    if (!spec_changed) {
      revision.metadata.annotations[kChangeCauseAnnotation] =
          "configuration changed: " + versionChanges(latest_versions, versions);
      revision.metadata.annotations[kChangedByAnnotation] = "skiff (configuration follower)";
    } else {
      for (const char* key : {kChangeCauseAnnotation, kChangedByAnnotation})
        if (auto it = application.metadata.annotations.find(key);
            it != application.metadata.annotations.end())
          revision.metadata.annotations[key] = it->second;
    }
    revision.spec = {{"application", key.name},
                     {"revision", number},
                     {"applicationGeneration", application.metadata.generation},
                     {"template", application.spec}};
    if (follows_config) revision.spec["configVersions"] = versions;
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
