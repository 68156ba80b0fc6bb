#include "controller/release_plan.h"

#include <algorithm>
#include <cmath>

#include "common/clock.h"
#include "model/formats.h"

namespace skiff {

std::vector<ReleaseStep> releaseSteps(const json& rollout, int replicas) {
  const std::string strategy = rollout.value("strategy", "rolling");
  const bool auto_promote = rollout.value("autoPromote", true);
  std::vector<ReleaseStep> steps;
  if (strategy == "canary") {
    for (const auto& s : rollout.value("steps", json::array())) {
      ReleaseStep step;
      step.weight = s.value("weight", 100);
      // At least one instance, or the canary takes traffic it cannot serve.
      step.canary_replicas =
          replicas == 0 ? 0
                        : std::max(1, static_cast<int>(std::ceil(replicas * step.weight / 100.0)));
      if (s.contains("pause")) {
        const double pause = parseDurationSeconds(s["pause"].get<std::string>()).value_or(0);
        step.pause = std::chrono::seconds(static_cast<int64_t>(std::ceil(pause)));
      }
      steps.push_back(step);
    }
  } else if (strategy == "bluegreen") {
    steps.push_back({0, replicas, std::chrono::seconds(0), false});
    steps.push_back({100, replicas, std::chrono::seconds(0), false});
  }
  // Without autoPromote a person decides when the new set has earned all the traffic: for a
  // canary after its last step, for blue-green before the switch.
  if (!auto_promote && !steps.empty())
    steps[strategy == "bluegreen" ? 0 : steps.size() - 1].await_promote = true;
  return steps;
}

json toJson(const ComponentRelease& release) {
  json out = {{"step", release.step}};
  if (!release.ready_since.empty()) out["readySince"] = release.ready_since;
  return out;
}

ComponentRelease componentReleaseFrom(const json& value) {
  ComponentRelease release;
  if (!value.is_object()) return release;
  release.step = std::max(0, value.value("step", 0));
  release.ready_since = value.value("readySince", "");
  return release;
}

const ReleaseStep& stepInForce(const std::vector<ReleaseStep>& steps,
                               const ComponentRelease& release) {
  return steps[std::min<size_t>(release.step, steps.size() - 1)];
}

ReleaseDecision advanceRelease(const std::vector<ReleaseStep>& steps,
                               const ComponentRelease& current, const ReleaseObservation& seen) {
  ReleaseDecision d{current};
  const int promoting = static_cast<int>(steps.size());
  if (current.step >= promoting) {
    d.next.step = promoting;
    d.done = seen.stable_ready;
    return d;
  }
  // The pause measures a healthy canary: it starts again whenever the set is not ready.
  if (!seen.canary_ready) {
    d.next.ready_since.clear();
    return d;
  }
  auto since = seen.now;
  if (current.ready_since.empty() || !parseTimestamp(current.ready_since, &since))
    d.next.ready_since = formatTimestamp(seen.now);
  if (seen.paused) return d;
  const ReleaseStep& step = steps[current.step];
  const auto elapsed = seen.now - since;
  if (elapsed < step.pause) {
    d.recheck = std::chrono::ceil<std::chrono::seconds>(step.pause - elapsed);
    return d;
  }
  if (step.await_promote && !seen.promoted) return d;
  d.next = ComponentRelease{current.step + 1, ""};
  return d;
}

}  // namespace skiff
