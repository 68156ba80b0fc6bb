// The rolling-update arithmetic of one component, kept free of I/O so it can be tested on its
// own: given the instances that exist and which are ready, which instances to create and which
// to retire next, within maxSurge and maxUnavailable (Kubernetes Deployment semantics).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "model/object.h"

namespace skiff {

struct InstanceView {
  std::string name;
  bool current = false;  // runs the target template
  bool ready = false;
};

struct RolloutPlan {
  int create = 0;                   // new instances of the target revision to add now
  std::vector<std::string> retire;  // instances to drain and stop now
};

// maxSurge / maxUnavailable of `desired` replicas: an integer, or "N%" (surge rounds up,
// unavailable rounds down). When both come out 0, unavailable becomes 1, as in Kubernetes.
struct RolloutBudget {
  int surge = 0;
  int unavailable = 0;
};
RolloutBudget rolloutBudget(const json& rollout, int desired);

// One step towards `desired` ready instances of the target template. Instances of other
// templates are retired only while at least desired - unavailable instances stay ready, and
// new ones are added only while the total stays within desired + surge. Not-ready old
// instances go first: they serve nothing.
RolloutPlan planRollout(const std::vector<InstanceView>& instances, int desired,
                        const RolloutBudget& budget);

// Where an application's rollout stands, as either backend sees it; setRolloutConditions()
// writes it as the Available, Progressing and Ready conditions of its status.
struct RolloutState {
  int64_t revision = 0;
  bool available = false;  // every component has the ready instances it must keep
  bool done = false;       // every instance runs `revision` and is ready
  bool paused = false;
  std::string failures;  // why `revision` cannot progress (instances failing); empty if none
  std::string aborted;   // why its release was aborted (release_plan.h); empty if it was not
};
void setRolloutConditions(json& status, const RolloutState& state, const std::string& now);

}  // namespace skiff
