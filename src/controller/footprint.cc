#include "controller/footprint.h"

#include <algorithm>
#include <optional>

#include "controller/rollout_plan.h"
#include "model/formats.h"

namespace skiff {

namespace {

using nlohmann::json;

// The request of one instance: requests.X, else the X shorthand (request = limit), else 0.
std::string cpuText(int64_t millis) {
  return millis % 1000 == 0 ? std::to_string(millis / 1000) : std::to_string(millis) + "m";
}

std::string bytesText(int64_t bytes) {
  if (bytes % (int64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "Gi";
  if (bytes % (int64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "Mi";
  return std::to_string(bytes);
}

}  // namespace

Footprint& Footprint::operator+=(const Footprint& other) {
  applications += other.applications;
  instances += other.instances;
  cpu_millis += other.cpu_millis;
  memory_bytes += other.memory_bytes;
  storage_bytes += other.storage_bytes;
  return *this;
}

json Footprint::toJson() const {
  return {{"applications", applications},
          {"instances", instances},
          {"cpu", cpuText(cpu_millis)},
          {"memory", bytesText(memory_bytes)},
          {"storage", bytesText(storage_bytes)}};
}

bool longRunning(const json& component) {
  const std::string type = component.value("type", "service");
  return type == "service" || type == "stateful";
}

json resourceRequest(const json& component, const char* resource) {
  const json resources = component.value("resources", json::object());
  if (!resources.is_object()) return json();
  const json requests = resources.value("requests", json::object());
  if (requests.is_object() && requests.contains(resource)) return requests[resource];
  return resources.value(resource, json());
}

Footprint footprintOf(const json& app_spec) {
  Footprint f;
  f.applications = 1;
  for (const json& c : app_spec.value("components", json::array())) {
    if (!c.is_object()) continue;
    // Jobs run one instance at a time (cron jobs do not overlap).
    int64_t largest = 1;
    if (longRunning(c)) {
      largest = c.value("replicas", 1);
      const json autoscale = c.value("autoscale", json::object());
      if (autoscale.is_object()) {
        largest = std::max<int64_t>(largest, autoscale.value("max", 0));
        // A schedule may raise the maximum for its window.
        for (const json& s : autoscale.value("schedules", json::array()))
          if (s.is_object()) largest = std::max<int64_t>(largest, s.value("max", 0));
      }
      const json rollout = c.value("rollout", json::object());
      if (c.value("type", "service") == "service") {
        largest += rollout.value("strategy", "rolling") == "bluegreen"
                       ? largest
                       : rolloutBudget(rollout, static_cast<int>(largest)).surge;
      }
    }
    f.instances += largest;
    f.cpu_millis += largest * parseCpuMillis(resourceRequest(c, "cpu")).value_or(0);
    f.memory_bytes += largest * parseMemoryBytes(resourceRequest(c, "memory")).value_or(0);
    for (const json& v : c.value("volumes", json::array()))
      if (v.is_object() && v.contains("size"))
        f.storage_bytes += largest * parseMemoryBytes(v["size"]).value_or(0);
  }
  return f;
}

std::string quotaExceeded(const json& quota, const Footprint& used, const Footprint& wanted,
                          const std::string& application) {
  if (!quota.is_object()) return "";
  struct Dimension {
    const char* name;
    int64_t used, wanted;
    std::optional<int64_t> limit;
    std::string (*text)(int64_t);
  };
  auto count = [](int64_t n) { return std::to_string(n); };
  auto limitOf = [&](const char* key, std::optional<int64_t> (*parse)(const json&)) {
    return quota.contains(key) ? parse(quota[key]) : std::nullopt;
  };
  auto integer = [](const json& v) -> std::optional<int64_t> {
    return v.is_number_integer() ? std::optional(v.get<int64_t>()) : std::nullopt;
  };
  const Dimension dimensions[] = {
      {"applications", used.applications, wanted.applications, limitOf("applications", integer),
       +count},
      {"instances", used.instances, wanted.instances, limitOf("instances", integer), +count},
      {"cpu", used.cpu_millis, wanted.cpu_millis, limitOf("cpu", parseCpuMillis), cpuText},
      {"memory", used.memory_bytes, wanted.memory_bytes, limitOf("memory", parseMemoryBytes),
       bytesText},
      {"storage", used.storage_bytes, wanted.storage_bytes, limitOf("storage", parseMemoryBytes),
       bytesText},
  };
  for (const Dimension& d : dimensions) {
    if (!d.limit || d.used + d.wanted <= *d.limit) continue;
    const int64_t remaining = std::max<int64_t>(0, *d.limit - d.used);
    return std::string(d.name) + ": application \"" + application + "\" needs " + d.text(d.wanted) +
           (std::string(d.name) == "applications"
                ? ""
                : " (replicas, autoscaling and rollout surge included)") +
           ", the tenant's other applications use " + d.text(d.used) + " and the quota is " +
           d.text(*d.limit) + ", so " + d.text(remaining) + " remain";
  }
  return "";
}

}  // namespace skiff
