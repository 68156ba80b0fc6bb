// Alert rules as the alerting engine reads them: the AlertRule objects of a tenant (admitted by
// model/validation.cc, whose schema in model/schemas.cc documents every field), and the
// built-in rules every application gets without an object (docs/alerting.md).
//
// Each rule has exactly one condition: a metric query compared with a threshold (an alert per
// result series), a pattern counted in an application's log lines over a window, or an Event
// reason seen within a window. Pure functions over immutable values; thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "model/object.h"

namespace skiff::alert {

using Labels = std::map<std::string, std::string>;

enum class CompareOp { kGt, kLt, kGe, kLe, kEq, kNe };
bool compare(double value, CompareOp op, double threshold);
const char* compareOpText(CompareOp op);

struct MetricCondition {
  std::string query;
  CompareOp op = CompareOp::kGt;
  double threshold = 0;
};

struct LogCondition {
  std::string application;
  std::string component;  // empty: every component
  std::string pattern;
  bool regex = false;
  int64_t count = 1;
  std::chrono::milliseconds window{std::chrono::minutes(5)};
};

struct EventCondition {
  std::string reason;
  std::string application;  // empty: every application
  std::chrono::milliseconds window{std::chrono::minutes(5)};
};

struct Inhibition {
  std::vector<std::string> rules;  // alertnames held back
  std::vector<std::string> equal;  // labels whose values must agree
};

struct Rule {
  std::string tenant;
  std::string name;  // the alerts' alertname label
  bool builtin = false;
  bool disabled = false;
  std::string severity = "warning";
  Labels labels;
  Labels annotations;  // templates (alert/template.h)
  std::chrono::milliseconds for_duration{0};
  std::variant<std::monostate, MetricCondition, LogCondition, EventCondition> condition;
  // For a built-in rule: empty; its alerts go to the receivers with defaultRules.
  std::vector<std::string> receivers;
  std::vector<std::string> group_by = {"alertname", "application"};
  std::chrono::milliseconds group_wait{std::chrono::seconds(5)};
  std::chrono::milliseconds group_interval{std::chrono::minutes(1)};
  std::chrono::milliseconds repeat_interval{std::chrono::hours(4)};
  std::optional<Inhibition> inhibits;
};

// The rule an admitted AlertRule object describes. kInvalid (with field paths) for what
// admission lets through but the engine cannot use: a metric query that does not parse.
Result<Rule> ruleFromObject(const Object& object);

// Admission's part the model cannot do (it does not link the query language): the metric
// query parses. kInvalid naming spec.metric.query and the position at fault.
Status checkRuleQuery(const json& spec);

// The built-in rules of a tenant: CrashLoopBackOff, NoReadyInstance, HighErrorRate and
// MemoryNearLimit (docs/alerting.md has their conditions).
std::vector<Rule> builtinRules(const std::string& tenant);
// Whether an AlertRule named `object_name` replaces the built-in rule `builtin_name`: the
// same name lowercased ("crashloopbackoff" for CrashLoopBackOff), since object names are DNS
// labels.
bool replacesBuiltin(const std::string& object_name, const std::string& builtin_name);

}  // namespace skiff::alert
