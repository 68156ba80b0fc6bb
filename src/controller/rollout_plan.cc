#include "controller/rollout_plan.h"

#include <algorithm>
#include <cmath>

namespace skiff {

namespace {

int resolve(const json& value, int desired, bool round_up) {
  if (value.is_number_integer()) return std::max(0, value.get<int>());
  if (value.is_string()) {
    const std::string s = value.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      const double fraction = std::atof(s.c_str()) / 100.0 * desired;
      return static_cast<int>(round_up ? std::ceil(fraction) : std::floor(fraction));
    }
  }
  return 0;
}

}  // namespace

RolloutBudget rolloutBudget(const json& rollout, int desired) {
  RolloutBudget b;
  b.surge = resolve(rollout.value("maxSurge", json("25%")), desired, true);
  b.unavailable = resolve(rollout.value("maxUnavailable", json(0)), desired, false);
  if (b.surge == 0 && b.unavailable == 0) b.unavailable = 1;
  return b;
}

RolloutPlan planRollout(const std::vector<InstanceView>& instances, int desired,
                        const RolloutBudget& budget) {
  RolloutPlan plan;
  std::vector<const InstanceView*> current, old;
  int ready = 0;
  for (const auto& i : instances) {
    (i.current ? current : old).push_back(&i);
    if (i.ready) ++ready;
  }
  // Not-ready first, then by name for a stable order.
  auto retire_order = [](const InstanceView* a, const InstanceView* b) {
    return a->ready != b->ready ? !a->ready : a->name > b->name;
  };
  std::sort(old.begin(), old.end(), retire_order);
  std::sort(current.begin(), current.end(), retire_order);

  const int min_ready = std::max(0, desired - budget.unavailable);
  int total = static_cast<int>(instances.size());

  // Too many of the target revision (a scale-down): retire the extra, not-ready first.
  int excess = static_cast<int>(current.size()) - desired;
  for (int i = 0; i < excess; ++i) {
    plan.retire.push_back(current[i]->name);
    --total;
    if (current[i]->ready) --ready;
  }
  // Old instances: the not-ready ones cost no availability; ready ones only above min_ready.
  const int current_kept = std::min(static_cast<int>(current.size()), desired);
  for (const InstanceView* i : old) {
    if (!i->ready) {
      plan.retire.push_back(i->name);
      --total;
    } else if (ready - 1 >= min_ready) {
      plan.retire.push_back(i->name);
      --total;
      --ready;
    }
  }
  // New instances, within the surge.
  const int missing = desired - current_kept;
  plan.create = std::max(0, std::min(missing, desired + budget.surge - total));
  return plan;
}

void setRolloutConditions(json& status, const RolloutState& state, const std::string& now) {
  const std::string revision = "revision " + std::to_string(state.revision);
  setCondition(status,
               {"Available", state.available ? "True" : "False",
                state.available ? "MinimumInstancesReady" : "InstancesUnavailable",
                state.available ? "every component has its minimum of ready instances"
                                : "some component has fewer ready instances than it may lose",
                ""},
               now);
  // A failing new instance holds the rollout (old instances are only retired for ready new
  // ones), so the revision before keeps serving; the condition says why it holds.
  if (!state.aborted.empty()) {
    setCondition(status,
                 {"Progressing", "False", "RolloutAborted",
                  revision + " was aborted; the stable revision serves: " + state.aborted, ""},
                 now);
  } else if (!state.paused && !state.failures.empty()) {
    setCondition(status,
                 {"Progressing", "False", "InstancesFailing",
                  revision + " cannot progress: " + state.failures, ""},
                 now);
  } else {
    setCondition(
        status,
        {"Progressing", state.paused ? "Unknown" : "True",
         state.paused ? "RolloutPaused" : (state.done ? "RolloutComplete" : "RolloutInProgress"),
         revision + (state.done ? " is rolled out" : " is rolling out"), ""},
        now);
  }
  setCondition(
      status,
      {"Ready", state.done ? "True" : "False", state.done ? "AllInstancesReady" : "NotReady",
       state.done ? "every instance runs " + revision + " and is ready"
                  : "waiting for instances of " + revision,
       ""},
      now);
}

}  // namespace skiff
