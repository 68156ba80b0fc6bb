// DeployPlan: what deploying a spec would do to an application, worked out without changing
// anything (`skiff rollout plan`, POST .../applications/{name}/plan): which fields change
// against the current revision, and per component how it would be released — the strategy's
// steps with their traffic weights, pauses and gates, the instances started and stopped at
// each, the analysis that judges them — and whether the tenant's quota allows the surge. The
// times are the least a release takes: each step also waits for its instances to be ready.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "model/object.h"

namespace skiff {

struct PlanInput {
  std::string application;
  json current;  // the latest revision's template (spec); null for a new application
  int64_t current_revision = 0;
  json next;                  // the spec to deploy, admitted (defaults filled in)
  std::string quota_problem;  // why the tenant's quota refuses it; "" when it allows it
};

// {"application", "currentRevision", "nextRevision" (null: nothing changes), "changes":
//  [{"path", "from", "to"}], "components": [{"name", "change", "strategy", "replicas",
//  "steps": [...], "analysis", "minimumSeconds"}], "quota": {"allowed", "problem"}}
json deployPlan(const PlanInput& input);

// The fields in which `to` differs from `from`, as paths ("components[web].image"; array items
// with a name are named, others numbered), each with its old and new value (null: absent).
json changedFields(const json& from, const json& to);

}  // namespace skiff
