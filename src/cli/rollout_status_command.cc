// `skiff rollout status APP`: follows an application's rollout until its latest revision runs
// everywhere and is ready (exit 0), printing a progress line whenever progress changes. Unlike
// kubectl it does not wait on what cannot progress by itself: an instance of the latest
// revision that crash-loops or cannot start, or a paused rollout, ends it with exit 1 at once.
//
// It polls rather than watches: the tenant's application watch would stream every other
// application's changes too. Everything it needs is in the application's status.
#include <chrono>
#include <cstdio>
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

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", rate * 100);
  return buf;
}

// The condition `type` of the application, or an empty object.
json conditionOf(const json& app, const std::string& type) {
  for (const auto& c : objectAt(app, "status").value("conditions", json::array()))
    if (c.is_object() && c.value("type", "") == type) return c;
  return json::object();
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
  std::string last_line;
  for (;;) {
    auto app = ctx.client.get(address);
    if (!app.ok()) return reportError(ctx.err, app.status());
    const int64_t generation = integerAt(*app, "metadata", "generation");
    const int64_t revision = integerAt(*app, "status", "latestRevision");
    std::string line;
    if (revision == 0 || integerAt(*app, "status", "observedGeneration") < generation) {
      line = "Waiting for the server to record the latest change...";
    } else {
      // The Ready condition describes status.observedRevision: only that being the latest
      // revision makes it this rollout's readiness rather than the previous one's.
      const bool ready = conditionStatus(*app, "Ready") == "True" &&
                         integerAt(*app, "status", "observedRevision") == revision;
      if (ready) {
        ctx.out << "rollout of revision " << revision << " complete\n";
        return 0;
      }
      // The controller says when an instance of this revision will not become ready by
      // waiting (it crash-loops or cannot start).
      if (const json progressing = conditionOf(*app, "Progressing");
          integerAt(*app, "status", "observedRevision") == revision &&
          (progressing.value("reason", "") == "InstancesFailing" ||
           progressing.value("reason", "") == "RolloutAborted"))
        return reportError(ctx.err,
                           Status(StatusCode::kConflict, progressing.value("message", "")));
      const auto annotations = metadataMap(*app, "annotations");
      if (auto p = annotations.find(kPausedAnnotation);
          p != annotations.end() && p->second == "true")
        return reportError(ctx.err, Status(StatusCode::kConflict,
                                           "rollout of revision " + std::to_string(revision) +
                                               " is paused: run skiff rollout resume " +
                                               options.application + " to continue"));
      line = progressLine(*app, revision);
      // A canary or blue-green release says where it stands and what it waits for.
      const json released = objectAt(objectAt(objectAt(*app, "status"), "release"), "components");
      for (const auto& [component, state] : released.items())
        if (state.is_object()) {
          line += "\n  " + component + ": " + state.value("message", "in progress");
          if (const json a = objectAt(state, "analysis"); !a.empty())
            line += "\n    analysis over " + std::to_string(a.value("windowSeconds", 0)) +
                    "s: " + std::to_string(a.value("requests", 0)) + " requests, " +
                    percent(a.value("errorRate", 0.0)) + " errors (stable " +
                    percent(a.value("stableErrorRate", 0.0)) + "), p99 " +
                    std::to_string(a.value("p99Ms", 0)) + "ms";
        }
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
