// `skiff rollout status APP`: follows an application's rollout until its latest revision runs
// everywhere and is ready (exit 0), printing a progress line whenever progress changes. Unlike
// kubectl it does not wait on what cannot progress by itself: an instance of the latest
// revision that crash-loops or cannot start, or a paused rollout, ends it with exit 1 at once.
//
// It polls rather than watches: the tenant's application watch would stream every other
// application's changes too, and the instances must be read alongside anyway.
#include <chrono>
#include <ostream>
#include <thread>

#include "cli/output.h"
#include "cli/resource_table.h"
#include "cli/revisions.h"
#include "cli/subcommands.h"
#include "model/formats.h"

namespace skiff::cli {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(200);

// The object at `key`, or an empty one: the server leaves out (or nulls) what is not set yet.
json objectAt(const json& parent, const char* key) {
  if (!parent.is_object()) return json::object();
  auto it = parent.find(key);
  return it != parent.end() && it->is_object() ? *it : json::object();
}

int64_t integerOr0(const json& object, const char* field) {
  const json v = object.is_object() ? object.value(field, json()) : json();
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

int64_t integerAt(const json& object, const char* section, const char* field) {
  return integerOr0(objectAt(object, section), field);
}

// Whether status.components agrees with the spec's replica counts: the Ready condition is
// written after latestRevision, so just after a change it can still describe the revision
// before; counts written for another spec give that away.
bool countsMatchSpec(const json& app) {
  const json components = objectAt(objectAt(app, "status"), "components");
  for (const auto& c : objectAt(app, "spec").value("components", json::array())) {
    auto counts = components.find(c.value("name", ""));
    if (counts == components.end()) continue;  // not long-running: no instances to count
    const int64_t replicas = c.contains("replicas") ? integerOr0(c, "replicas") : 1;
    if (integerOr0(*counts, "desired") != replicas) return false;
  }
  return true;
}

// "Waiting for rollout of revision 3: 1 of 3 updated instances are ready...", from the
// controller's counts summed over components (most pressing step first, as kubectl does).
std::string progressLine(const json& app, int64_t revision) {
  int64_t desired = 0, current = 0, ready = 0, updated = 0;
  const json components = objectAt(objectAt(app, "status"), "components");
  for (const auto& [name, c] : components.items()) {
    desired += integerOr0(c, "desired");
    current += integerOr0(c, "current");
    ready += integerOr0(c, "ready");
    updated += integerOr0(c, "updated");
  }
  const std::string prefix = "Waiting for rollout of revision " + std::to_string(revision) + ": ";
  if (updated < desired)
    return prefix + std::to_string(updated) + " of " + std::to_string(desired) +
           " instances have been updated...";
  if (current > updated)
    return prefix + std::to_string(current - updated) + " old instances are pending termination...";
  return prefix + std::to_string(ready) + " of " + std::to_string(desired) +
         " updated instances are ready...";
}

// An instance of `revision` that will not become ready by waiting, described for the user,
// or empty.
std::string stuckInstance(const json& instances, int64_t revision) {
  for (const auto& i : instances.value("items", json::array())) {
    const json spec = objectAt(i, "spec");
    if (integerOr0(spec, "revision") != revision || spec.value("terminating", json()) == true)
      continue;
    const json status = objectAt(i, "status");
    for (const auto& c : status.value("conditions", json::array())) {
      if (!c.is_object()) continue;
      const std::string reason = c.value("reason", "");
      if (reason != "CrashLoopBackOff" && reason != "StartFailed") continue;
      std::string text = "instance " + metadataString(i, "name") + " (component " +
                         spec.value("component", "") + "): " + reason;
      if (const std::string message = c.value("message", ""); !message.empty())
        text += ": " + message;
      if (const json exit = objectAt(status, "lastExit"); !exit.empty()) {
        text += " (last exit: code " + std::to_string(integerOr0(exit, "exitCode"));
        if (int64_t signal = integerOr0(exit, "signal"); signal != 0)
          text += ", signal " + std::to_string(signal);
        text += ", " + std::to_string(integerOr0(status, "restarts")) + " restarts)";
      }
      return text;
    }
  }
  return "";
}

}  // namespace

int runRolloutStatus(CommandContext& ctx, const RolloutStatusOptions& options) {
  const auto timeout_seconds = parseDurationSeconds(options.timeout);
  if (!timeout_seconds || *timeout_seconds <= 0)
    return reportError(ctx.err, badRequest("--timeout \"" + options.timeout +
                                           "\" is not a positive duration (e.g. 90s, 5m)"));
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(*timeout_seconds * 1000));
  const std::string& tenant = options.tenant.effective();
  const ObjectAddress address{findKind("Application"), tenant, options.application};
  ListQuery instance_query;
  instance_query.kind = findKind("Instance");
  instance_query.tenant = tenant;
  instance_query.label_selector = std::string(kApplicationLabel) + "=" + options.application;

  std::string last_line;
  int64_t ready_seen_for = 0;  // revision last seen Ready on the previous poll
  for (;;) {
    auto app = ctx.client.get(address);
    if (!app.ok()) return reportError(ctx.err, app.status());
    const int64_t generation = integerAt(*app, "metadata", "generation");
    const int64_t revision = integerAt(*app, "status", "latestRevision");
    std::string line;
    if (revision == 0 || integerAt(*app, "status", "observedGeneration") < generation) {
      line = "Waiting for the server to record the latest change...";
    } else {
      const bool ready = conditionStatus(*app, "Ready") == "True" && countsMatchSpec(*app);
      // Seen twice in a row: a stale Ready from the previous revision lasts only until the
      // controller's next write, well within one poll interval.
      if (ready && ready_seen_for == revision) {
        ctx.out << "rollout of revision " << revision << " complete\n";
        return 0;
      }
      ready_seen_for = ready ? revision : 0;
      auto instances = ctx.client.list(instance_query);
      if (!instances.ok()) return reportError(ctx.err, instances.status());
      if (std::string stuck = stuckInstance(*instances, revision); !stuck.empty())
        return reportError(ctx.err, Status(StatusCode::kConflict,
                                           "rollout of revision " + std::to_string(revision) +
                                               " cannot progress: " + stuck));
      const auto annotations = metadataMap(*app, "annotations");
      if (!ready) {
        if (auto p = annotations.find(kPausedAnnotation);
            p != annotations.end() && p->second == "true")
          return reportError(ctx.err, Status(StatusCode::kConflict,
                                             "rollout of revision " + std::to_string(revision) +
                                                 " is paused: run skiff rollout resume " +
                                                 options.application + " to continue"));
      }
      line = ready ? last_line : progressLine(*app, revision);
    }
    if (line != last_line) {
      ctx.out << line << "\n" << std::flush;
      last_line = line;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return reportError(ctx.err,
                         Status(StatusCode::kUnavailable,
                                "timed out after " + options.timeout + " (" +
                                    (last_line.empty() ? "no progress" : last_line) + ")"));
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace skiff::cli
