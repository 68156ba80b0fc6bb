#include "controller/event_controller.h"

#include <cstdio>

#include <spdlog/spdlog.h>

#include "model/well_known.h"

namespace skiff {

namespace {

// The key that asks for a sweep of expired events (no object has an empty name).
const ObjectKey kSweepKey{"Event", "", ""};

std::string text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.is_null() ? "" : v.dump();
}

// A stable name per (object, reason): repeats update one Event. FNV-1a keeps it stable
// across builds; the object's name keeps it readable.
std::string eventName(const ObjectKey& about, const std::string& reason) {
  uint32_t h = 2166136261u;
  for (const std::string* part : {&about.kind, &about.name, &reason}) {
    for (unsigned char c : *part) h = (h ^ c) * 16777619u;
    h = (h ^ '/') * 16777619u;
  }
  char tag[9];
  std::snprintf(tag, sizeof tag, "%08x", h);
  std::string base = about.name.substr(0, 44);
  while (!base.empty() && base.back() == '-') base.pop_back();
  return (base.empty() ? "event" : base) + "-" + tag;
}

std::string conditionMessage(const json& status, const char* type) {
  for (const json& c : status.value("conditions", json::array()))
    if (c.is_object() && c.value("type", "") == type) return c.value("message", "");
  return "";
}

std::string conditionReason(const json& status, const char* type) {
  for (const json& c : status.value("conditions", json::array()))
    if (c.is_object() && c.value("type", "") == type) return c.value("reason", "");
  return "";
}

}  // namespace

EventController::EventController(Store& store, const Clock& clock, Options options)
    : store_(store), clock_(clock), options_(options), started_(clock.now()) {}

std::vector<WatchedKind> EventController::watches() const {
  auto key = [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); };
  return {{"Instance", key}, {"Application", key}};
}

void EventController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  enqueue_ = std::move(enqueue);
  enqueue_(kSweepKey);
}

bool EventController::isNew(const Object& object) const {
  std::chrono::system_clock::time_point created;
  return parseTimestamp(object.metadata.created_at, &created) &&
         created >= started_ - std::chrono::seconds(1);
}

std::optional<EventController::Seen> EventController::swap(const ObjectKey& key,
                                                           std::optional<Seen> now) {
  std::lock_guard lock(mu_);
  auto it = seen_.find(key);
  std::optional<Seen> before;
  if (it != seen_.end()) {
    before = std::move(it->second);
    seen_.erase(it);
  }
  if (now) seen_.emplace(key, std::move(*now));
  return before;
}

Result<ReconcileResult> EventController::reconcile(const ObjectKey& key) {
  if (key == kSweepKey) return sweep();
  auto stored = store_.get(key);
  if (!stored.ok() && stored.status().code() != StatusCode::kNotFound) return stored.status();
  const std::shared_ptr<const Object> object = stored.ok() ? parsedObject(*stored) : nullptr;
  const Object* current = object.get();
  if (key.kind == "Instance") observeInstance(key, current);
  if (key.kind == "Application") observeApplication(key, current);
  return ReconcileResult{};
}

void EventController::observeInstance(const ObjectKey& key, const Object* instance) {
  std::optional<Seen> now;
  if (instance != nullptr) {
    const json& st = instance->status;
    const json last_exit = st.value("lastExit", json::object());
    // A restart within the second it started keeps startedAt (seconds): the pid tells it apart.
    now = Seen{
        {{"startedAt", text(st.value("startedAt", json())) + "/" + text(st.value("pid", json()))},
         {"phase", text(st.value("phase", json()))},
         {"ready", st.value("ready", false) ? "true" : "false"},
         {"finishedAt", text(last_exit.value("finishedAt", json()))},
         {"crashes", text(st.value("consecutiveCrashes", json()))},
         {"readyReason", conditionReason(st, "Ready")},
         {"terminating", instance->spec.value("terminating", false) ? "true" : "false"}}};
  }
  if (now) {
    now->facts["application"] = instance->spec.value("application", "");
    now->facts["component"] = instance->spec.value("component", "");
  }
  const std::optional<Seen> before = swap(key, now);
  // A removed instance's events keep the application and component it had.
  const Seen& latest = now ? *now : before ? *before : Seen{};
  auto add = [&](const char* type, const char* reason, const std::string& message) {
    auto fact = [&](const char* name) {
      auto it = latest.facts.find(name);
      return it == latest.facts.end() ? std::string() : it->second;
    };
    if (Status s = record(key, fact("application"), fact("component"), type, reason, message);
        !s.isOk())
      spdlog::warn("events: cannot record {} of {}/{}: {}", reason, key.tenant, key.name,
                   s.toString());
  };
  if (!before) {
    if (instance != nullptr && isNew(*instance))
      add("Normal", "Scheduled",
          "assigned to node " + instance->spec.value("node", std::string("local")) + " (revision " +
              std::to_string(instance->spec.value("revision", int64_t{0})) + ")");
    return;
  }
  if (instance == nullptr) {
    add("Normal", "Removed", "the instance was deleted");
    return;
  }
  const auto& was = before->facts;
  const auto& is = now->facts;
  const json& st = instance->status;
  auto changed = [&](const char* fact) { return was.at(fact) != is.at(fact); };

  if (changed("finishedAt") && !is.at("finishedAt").empty()) {
    const json last_exit = st.value("lastExit", json::object());
    const std::string reason = last_exit.value("reason", "");
    const int code = last_exit.value("exitCode", -1);
    const std::string message = last_exit.value("message", "");
    const std::string detail = message.empty() ? "" : ": " + message;
    if (reason == "OOMKilled")
      add("Warning", "OOMKilled", "killed by the kernel for going over its memory limit" + detail);
    else if (reason == "LivenessProbeFailed")
      add("Warning", "Unhealthy", "restarted after its liveness probe failed" + detail);
    else
      add(code == 0 ? "Normal" : "Warning", "Exited",
          "exited with code " + std::to_string(code) + (reason.empty() ? "" : " (" + reason + ")") +
              detail);
  }
  if (changed("crashes") && is.at("phase") == "Backoff" && std::atoi(is.at("crashes").c_str()) >= 3)
    add("Warning", "CrashLoopBackOff", conditionMessage(st, "Ready"));
  if (is.at("phase") == "Failed" && is.at("readyReason") == "StartFailed" &&
      (changed("crashes") || changed("phase")))
    add("Warning", "StartFailed", conditionMessage(st, "Ready"));
  if (changed("startedAt") && st.contains("startedAt") && is.at("phase") == "Running") {
    std::string message = "started with the " + st.value("driver", std::string("process")) +
                          " driver, pid " + std::to_string(st.value("pid", -1));
    const json image = st.value("image", json::object());
    if (image.is_object() && image.contains("reference"))
      message += ", image " + text(image["reference"]);
    add("Normal", "Started", message);
  }
  if (is.at("phase") == "Running" && !changed("startedAt") && changed("ready")) {
    if (is.at("ready") == "true")
      add("Normal", "Ready", "its probes pass: it receives traffic");
    else
      add("Warning", "NotReady",
          "taken out of routing: " + st.value("message", std::string("a probe failed")));
  }
  if (changed("terminating") && is.at("terminating") == "true")
    add("Normal", "Stopping", "retiring: out of routing, then stopped within its grace period");
}

void EventController::observeApplication(const ObjectKey& key, const Object* app) {
  std::optional<Seen> now;
  if (app != nullptr) {
    const json& st = app->status;
    Seen seen;
    seen.facts["observedRevision"] = text(st.value("observedRevision", json()));
    seen.facts["stableRevision"] = text(st.value("stableRevision", json()));
    const json release = st.value("release", json::object()).value("components", json::object());
    for (auto it = release.begin(); it != release.end(); ++it)
      if (it->is_object() && it->contains("aborted"))
        seen.facts["aborted/" + it.key()] = text((*it)["aborted"].value("at", json()));
    const json scaled = st.value("autoscale", json::object()).value("components", json::object());
    for (auto it = scaled.begin(); it != scaled.end(); ++it)
      if (it->is_object()) seen.facts["replicas/" + it.key()] = text(it->value("replicas", json()));
    now = std::move(seen);
  }
  const std::optional<Seen> before = swap(key, now);
  if (!before || app == nullptr) return;
  auto add = [&](const char* type, const char* reason, const std::string& component,
                 const std::string& message) {
    if (Status s = record(key, key.name, component, type, reason, message); !s.isOk())
      spdlog::warn("events: cannot record {} of {}/{}: {}", reason, key.tenant, key.name,
                   s.toString());
  };
  const auto& was = before->facts;
  auto previous = [&](const std::string& fact) {
    auto it = was.find(fact);
    return it == was.end() ? std::string() : it->second;
  };
  const json& st = app->status;
  for (const auto& [fact, value] : now->facts) {
    if (previous(fact) == value || value.empty()) continue;
    if (fact == "observedRevision" && !previous(fact).empty()) {
      add("Normal", "RolloutStarted", "", "rolling out revision " + value);
    } else if (fact == "stableRevision" && !previous(fact).empty()) {
      add("Normal", "RolloutComplete", "", "revision " + value + " runs everywhere");
    } else if (fact.rfind("aborted/", 0) == 0) {
      const std::string component = fact.substr(8);
      const json aborted = st["release"]["components"][component]["aborted"];
      add("Warning", "RolloutAborted", component, aborted.value("message", "aborted"));
    } else if (fact.rfind("replicas/", 0) == 0) {
      const std::string component = fact.substr(9);
      const json entry = st["autoscale"]["components"][component];
      const json decisions = entry.value("decisions", json::array());
      const std::string why =
          decisions.empty() ? "" : ": " + decisions.back().value("reason", std::string());
      add("Normal", "Scaled", component,
          component + " scaled from " + (previous(fact).empty() ? "?" : previous(fact)) + " to " +
              value + " instances" + why);
    }
  }
}

Status EventController::record(const ObjectKey& about, const std::string& application,
                               const std::string& component, const std::string& type,
                               const std::string& reason, const std::string& message) {
  const std::string now = formatTimestamp(clock_.now());
  const ObjectKey key{"Event", about.tenant, eventName(about, reason)};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto existing = store_.get(key);
    if (existing.ok()) {
      Object event = (*existing)->object();
      event.spec["count"] = event.spec.value("count", 1) + 1;
      event.spec["lastAt"] = now;
      event.spec["message"] = message.substr(0, 4096);
      event.spec["type"] = type;
      auto updated = store_.update(std::move(event));
      if (updated.ok()) return Status::ok();
      if (updated.status().code() != StatusCode::kConflict) return updated.status();
      continue;
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    Object event;
    event.kind = "Event";
    event.metadata.tenant = about.tenant;
    event.metadata.name = key.name;
    if (!application.empty()) event.metadata.labels[kApplicationLabel] = application;
    if (!component.empty()) event.metadata.labels[kComponentLabel] = component;
    event.spec = {{"object", {{"kind", about.kind}, {"name", about.name}}},
                  {"type", type},
                  {"reason", reason},
                  {"message", message.substr(0, 4096)},
                  {"count", 1},
                  {"firstAt", now},
                  {"lastAt", now},
                  {"source", about.kind == "Instance" ? "node-agent" : "controllers"}};
    if (!application.empty()) event.spec["application"] = application;
    if (!component.empty()) event.spec["component"] = component;
    auto created = store_.create(std::move(event));
    if (created.ok()) return Status::ok();
    if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  }
  return Status(StatusCode::kConflict, "event " + key.name + " kept changing");
}

Result<ReconcileResult> EventController::sweep() {
  const auto cutoff = clock_.now() - options_.retention;
  for (const StoredObjectPtr& stored : store_.list("Event", {}).items) {
    std::chrono::system_clock::time_point last;
    if (parseTimestamp(stored->object().spec.value("lastAt", ""), &last) && last >= cutoff)
      continue;
    auto removed = store_.remove(stored->key(), stored->metadata.resource_version);
    if (!removed.ok() && removed.status().code() != StatusCode::kNotFound &&
        removed.status().code() != StatusCode::kConflict)
      return removed.status();
  }
  return ReconcileResult{options_.sweep_every};
}

}  // namespace skiff
