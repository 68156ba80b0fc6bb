// The progressive part of a release, kept free of I/O like rollout_plan.h. A component whose
// rollout strategy is canary or bluegreen is released as two workload sets: the stable set
// keeps the stable revision's template while a canary set runs the new one, and routed traffic
// moves between them step by step.
//
//   canary:    per step, the canary set gets weight% of the component's replicas (at least one)
//              and weight% of the routed traffic; once all its instances are ready and the
//              step's pause has passed, the next step.
//   bluegreen: the new set comes up at full size with no traffic, then takes all of it at once.
//
// After the last step (and `skiff rollout promote` when autoPromote is false) the component is
// promoting: the stable set is updated to the new template while the canary set keeps its
// share; once the stable set has rolled out the canary set goes and the release is done.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "model/object.h"

namespace skiff {

struct ReleaseStep {
  int weight = 0;  // % of the routed traffic the canary set takes
  int canary_replicas = 0;
  std::chrono::seconds pause{0};  // held this long after the canary set is ready
  bool await_promote = false;     // then held until `skiff rollout promote`
};

// The steps of `rollout` (a component's rollout, defaults applied) for `replicas` replicas;
// empty for the rolling strategy.
std::vector<ReleaseStep> releaseSteps(const json& rollout, int replicas);

// Where one component's release stands; kept in the application's status.release.
struct ComponentRelease {
  int step = 0;             // index into the steps; == their number: promoting
  std::string ready_since;  // when the canary set was first seen ready at this step; "" not yet
};
json toJson(const ComponentRelease& release);
ComponentRelease componentReleaseFrom(const json& value);

// What the backend sees of the component's two sets now.
struct ReleaseObservation {
  bool canary_ready = false;  // the canary set has the step's replicas, all current and ready
  bool stable_ready = false;  // the stable set runs the new template and is rolled out
  bool paused = false;        // `skiff rollout pause`
  bool promoted = false;      // `skiff rollout promote` for the revision being released
  std::chrono::system_clock::time_point now;
};

struct ReleaseDecision {
  ComponentRelease next;
  bool done = false;  // the stable set runs the new template; the canary set can go
  // When to look again if nothing changes meanwhile (a pause running out); 0: not needed.
  std::chrono::seconds recheck{0};
};

// The next state of a component's release from where it stands and what is observed.
ReleaseDecision advanceRelease(const std::vector<ReleaseStep>& steps,
                               const ComponentRelease& current, const ReleaseObservation& seen);

// The weight and canary size in force at `release`'s step (the last step's while promoting).
const ReleaseStep& stepInForce(const std::vector<ReleaseStep>& steps,
                               const ComponentRelease& release);

}  // namespace skiff
