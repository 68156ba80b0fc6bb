// Tenant limits, like Kubernetes' LimitRange: resources for components that ask for none, and
// a ceiling per instance. A Tenant's spec.limits holds
//   defaultRequest: {cpu, memory}   requests of a component that sets none
//   default:        {cpu, memory}   limits of a component that sets none
//   max:            {cpu, memory}   the most one instance may be given (limit, else request)
// Admission applies them to an Application before the quota check, so the defaults are what
// quota and the runtime then see. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace skiff {

// Fills in `app_spec`'s missing component resources from `tenant_spec`.limits and refuses
// (kInvalid, naming each component's field and the tenant's maximum) any above limits.max.
Status applyTenantLimits(const nlohmann::json& tenant_spec, const std::string& tenant,
                         nlohmann::json& app_spec);

}  // namespace skiff
