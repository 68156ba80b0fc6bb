// The progressive part of a release, kept free of I/O like rollout_plan.h. A component whose
// rollout strategy is canary or bluegreen is released as two workload sets: the stable set
// keeps the stable revision's template while a canary set runs the new one, and routed traffic
// moves between them step by step.
//
//   canary:    per step, the canary set gets weight% of the component's replicas (at least one)
//              and weight% of the routed traffic; once all its instances are ready and the
//              step's pause has passed, the next step.
//   bluegreen: the new set comes up at full size with no traffic (but its preview's), then takes
//              all of it at once — with an analysis, after one interval without a breach.
//
// After the last step (and `skiff rollout promote` when autoPromote is false) the component is
// promoting: the stable set is updated to the new template while the canary set keeps its
// share; once the stable set has rolled out the canary set goes and the release is done.
//
// While the canary set takes traffic, its answers are judged against the stable set's
// (AnalysisSpec, judge()): a breach aborts the release, as `skiff rollout abort` does. An
// aborted release sends all traffic back to the stable set and removes the canary set; it stays
// aborted until the application gets another revision.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <functional>

#include "model/object.h"
#include "observe/revision_traffic.h"

namespace skiff {

// Whether a component is released as two sets: a service whose strategy is not rolling.
bool progressive(const json& component);

// The fields that make a component's instances what they are; a change elsewhere (replicas,
// autoscaling, routes, the rollout itself) applies to both sets without a release.
json podShape(json component);

struct ReleaseStep {
  int weight = 0;  // % of the routed traffic the canary set takes
  int canary_replicas = 0;
  std::chrono::seconds pause{0};  // held this long after the canary set is ready
  bool await_promote = false;     // then held until `skiff rollout promote`
};

// The steps of `rollout` (a component's rollout, defaults applied) for `replicas` replicas;
// empty for the rolling strategy.
std::vector<ReleaseStep> releaseSteps(const json& rollout, int replicas);

// Why a release was aborted: a metric that breached its threshold, or a person.
struct ReleaseAbort {
  std::string metric;  // "errorRate", "p99" or "manual"
  double value = 0;
  double threshold = 0;
  std::string at;       // RFC 3339
  std::string message;  // for people: what was measured over what, or who aborted
};

// Where one component's release stands; kept in the application's status.release.
struct ComponentRelease {
  int step = 0;             // index into the steps; == their number: promoting
  std::string ready_since;  // when the canary set was first seen ready at this step; "" not yet
  int failures = 0;         // consecutive analysis checks that breached
  std::optional<ReleaseAbort> aborted;
};
json toJson(const ComponentRelease& release);
ComponentRelease componentReleaseFrom(const json& value);

// The release of `component` (as revision `target` has it) that goes on from its entry in
// status.release (`previous`, null if none): that entry's, when it was brought by `target` or
// by an earlier revision whose pods are the same (`component_at(revision)` returns that
// revision's component, null when gone); otherwise a fresh one brought by `target`.
struct CarriedRelease {
  ComponentRelease state;
  int64_t revision = 0;  // the revision that brought the canary set's template
};
CarriedRelease carriedRelease(const json& previous, int64_t target, const json& component,
                              const std::function<json(int64_t revision)>& component_at);

// What the backend sees of the component's two sets now.
// An HTTP GET each ready canary instance must answer with `expect_status`.
struct AnalysisCheck {
  std::string path;
  json port;  // a port name or number of the component
  int expect_status = 200;
};

// How the canary set's answers are judged (a component's rollout.analysis, defaults applied).
struct AnalysisSpec {
  std::vector<AnalysisCheck> checks;
  std::chrono::seconds interval{30};     // the window judged
  std::optional<double> max_error_rate;  // absolute; unset: the stable set's rate + 1 point
  double max_error_increase = 0.01;
  std::optional<double> max_p99_seconds;
  uint64_t min_requests = 20;  // fewer in the window: not judged yet
  int failure_limit = 1;       // consecutive breaching checks that abort
};
AnalysisSpec analysisSpec(const json& rollout);

// The first threshold the canary set's window breaches, if any (`at` left empty).
std::optional<ReleaseAbort> judge(const AnalysisSpec& spec,
                                  const observe::RevisionComparison& traffic);

struct ReleaseObservation {
  bool canary_ready = false;   // the canary set has the step's replicas, all current and ready
  bool stable_ready = false;   // the stable set runs the new template and is rolled out
  bool paused = false;         // `skiff rollout pause`
  bool promoted = false;       // `skiff rollout promote` for the revision being released
  bool promoted_full = false;  // `skiff rollout promote --full`: skip the remaining steps
  std::optional<ReleaseAbort> abort;  // `skiff rollout abort`, or the analysis' breach
  int failure_limit = 1;              // breaches in a row that abort (AnalysisSpec)
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
