// The alerts of one rule and their states, as Prometheus keeps them: each evaluation says for
// which label sets the rule's condition holds now; a label set that starts holding is an alert
// `pending` since then (activeAt), `firing` once it has held for the rule's `for` (firedAt;
// at once for a `for` of 0), and `resolved` when it stops holding after it fired (resolvedAt).
// A pending alert whose condition stops holding is dropped: it never fired. A resolved alert is
// kept for `keep_resolved` (for notifications and the API), unless it holds again first, when
// it starts over as a new pending alert.
//
// RuleAlerts is a value owned by one thread (the alerting service's evaluation loop); the
// Alert snapshots it hands out are copies.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "alert/rule.h"

namespace skiff::alert {

using TimePoint = std::chrono::system_clock::time_point;

enum class AlertState { kPending, kFiring, kResolved };
const char* alertStateName(AlertState state);  // "pending" | "firing" | "resolved"

struct Alert {
  std::string tenant;
  std::string rule;         // alertname
  Labels labels;            // the series' labels, the rule's, alertname, severity and tenant
  Labels annotations;       // expanded
  std::string fingerprint;  // of the labels: stable identity across evaluations
  AlertState state = AlertState::kPending;
  double value = 0;
  TimePoint active_at{};
  TimePoint fired_at{};     // when it started firing; epoch while pending
  TimePoint resolved_at{};  // epoch unless resolved
};

// One label set the condition holds for, and the value it holds with.
struct ActiveSeries {
  Labels labels;
  double value = 0;
};

// A stable hex digest (16 characters) of a label set.
std::string fingerprintOf(const Labels& labels);

class RuleAlerts {
 public:
  explicit RuleAlerts(std::chrono::milliseconds keep_resolved = std::chrono::minutes(15))
      : keep_resolved_(keep_resolved) {}

  // Applies one evaluation of `rule` at `now`: `active` are the label sets whose condition
  // holds. Returns how many alerts changed state.
  int update(const Rule& rule, const std::vector<ActiveSeries>& active, TimePoint now);
  // Every alert that exists now (pending, firing, or resolved and still kept).
  std::vector<Alert> alerts() const;
  size_t count(AlertState state) const;

 private:
  const std::chrono::milliseconds keep_resolved_;
  std::map<std::string, Alert> alerts_;  // by fingerprint
};

}  // namespace skiff::alert
