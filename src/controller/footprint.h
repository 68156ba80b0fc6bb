// Footprint: the most an application can take from its tenant's quota at any one time. Each
// long-running component counts at its largest size (autoscale.max when above replicas) plus
// what a release adds on top (maxSurge; a blue-green release runs both revisions at full
// size), times its cpu and memory requests per instance; volumes count their size per
// instance. Admission compares it with the tenant's quota; the tenant usage controller sums it
// into the tenant's status. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace skiff {

struct Footprint {
  int64_t applications = 0;
  int64_t instances = 0;
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int64_t storage_bytes = 0;

  Footprint& operator+=(const Footprint& other);
  nlohmann::json toJson() const;  // {"applications", "instances", "cpu", "memory", "storage"}
};

// Whether `component` runs all the time (a service or stateful one), as opposed to a job or
// cron job that runs to completion.
bool longRunning(const nlohmann::json& component);

// What one instance of `component` asks for of `resource` ("cpu", "memory"): its `requests`,
// else the shorthand that is both request and limit; null when it asks for none.
nlohmann::json resourceRequest(const nlohmann::json& component, const char* resource);

// The footprint of one application with spec `app_spec` (admitted: defaults filled in).
Footprint footprintOf(const nlohmann::json& app_spec);

// Empty if `wanted` fits in `quota` (a Tenant's spec.quota) next to `used`; else what it
// exceeds, e.g. `instances: application "shop" needs 6 (replicas, autoscaling and rollout
// surge included), the tenant's other applications use 4 and the quota is 8, so 4 remain`.
std::string quotaExceeded(const nlohmann::json& quota, const Footprint& used,
                          const Footprint& wanted, const std::string& application);

}  // namespace skiff
