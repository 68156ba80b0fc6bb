#include "alert/rule.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "model/formats.h"
#include "observe/query.h"

namespace skiff::alert {

namespace {

std::chrono::milliseconds durationOr(const json& obj, const char* key,
                                     std::chrono::milliseconds fallback) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return fallback;
  auto seconds = parseDurationSeconds(obj[key].get<std::string>());
  if (!seconds) return fallback;
  return std::chrono::milliseconds(std::llround(*seconds * 1000));
}

Labels stringMap(const json& obj, const char* key) {
  Labels out;
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_object()) return out;
  for (auto it = obj[key].begin(); it != obj[key].end(); ++it)
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  return out;
}

CompareOp opFrom(const std::string& text) {
  if (text == "<") return CompareOp::kLt;
  if (text == ">=") return CompareOp::kGe;
  if (text == "<=") return CompareOp::kLe;
  if (text == "==") return CompareOp::kEq;
  if (text == "!=") return CompareOp::kNe;
  return CompareOp::kGt;
}

}  // namespace

bool compare(double value, CompareOp op, double threshold) {
  switch (op) {
    case CompareOp::kGt:
      return value > threshold;
    case CompareOp::kLt:
      return value < threshold;
    case CompareOp::kGe:
      return value >= threshold;
    case CompareOp::kLe:
      return value <= threshold;
    case CompareOp::kEq:
      return value == threshold;
    case CompareOp::kNe:
      return value != threshold;
  }
  return false;
}

const char* compareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kGt:
      return ">";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kEq:
      return "==";
    case CompareOp::kNe:
      return "!=";
  }
  return "?";
}

Status checkRuleQuery(const json& spec) {
  if (!spec.is_object() || !spec.contains("metric") || !spec["metric"].is_object()) return {};
  const json& metric = spec["metric"];
  if (!metric.contains("query") || !metric["query"].is_string()) return {};
  auto parsed = observe::parseQuery(metric["query"].get<std::string>());
  if (parsed.ok()) return {};
  return Status(StatusCode::kInvalid, "the AlertRule's query is invalid",
                {{"spec.metric.query", "is not a valid query: " + parsed.status().message()}});
}

Result<Rule> ruleFromObject(const Object& object) {
  if (Status s = checkRuleQuery(object.spec); !s.isOk()) return s;
  const json& spec = object.spec;
  Rule rule;
  rule.tenant = object.metadata.tenant;
  rule.name = object.metadata.name;
  rule.disabled = spec.value("disabled", false);
  rule.severity = spec.value("severity", "warning");
  rule.labels = stringMap(spec, "labels");
  rule.annotations = stringMap(spec, "annotations");
  rule.for_duration = durationOr(spec, "for", std::chrono::milliseconds(0));
  if (spec.contains("metric") && spec["metric"].is_object()) {
    const json& m = spec["metric"];
    MetricCondition c;
    c.query = m.value("query", "");
    c.op = opFrom(m.value("op", ">"));
    c.threshold =
        m.contains("threshold") && m["threshold"].is_number() ? m["threshold"].get<double>() : 0.0;
    rule.condition = c;
  } else if (spec.contains("log") && spec["log"].is_object()) {
    const json& l = spec["log"];
    LogCondition c;
    c.application = l.value("application", "");
    c.component = l.value("component", "");
    c.pattern = l.value("pattern", "");
    c.regex = l.value("regex", false);
    c.count = l.value("count", int64_t{1});
    c.window = durationOr(l, "window", c.window);
    rule.condition = c;
  } else if (spec.contains("event") && spec["event"].is_object()) {
    const json& e = spec["event"];
    EventCondition c;
    c.reason = e.value("reason", "");
    c.application = e.value("application", "");
    c.window = durationOr(e, "window", c.window);
    rule.condition = c;
  }
  rule.receivers = stringsAt(spec, "receivers");
  if (spec.contains("groupBy") && spec["groupBy"].is_array())
    rule.group_by = stringsAt(spec, "groupBy");
  rule.group_wait = durationOr(spec, "groupWait", rule.group_wait);
  rule.group_interval = durationOr(spec, "groupInterval", rule.group_interval);
  rule.repeat_interval = durationOr(spec, "repeatInterval", rule.repeat_interval);
  if (spec.contains("inhibits") && spec["inhibits"].is_object())
    rule.inhibits =
        Inhibition{stringsAt(spec["inhibits"], "rules"), stringsAt(spec["inhibits"], "equal")};
  return rule;
}

std::vector<Rule> builtinRules(const std::string& tenant) {
  auto base = [&tenant](const char* name, const char* severity, const char* summary) {
    Rule r;
    r.tenant = tenant;
    r.name = name;
    r.builtin = true;
    r.severity = severity;
    r.annotations["summary"] = summary;
    return r;
  };
  std::vector<Rule> rules;
  {
    Rule r = base("CrashLoopBackOff", "critical",
                  "{{ $labels.application }}/{{ $labels.component }} is crash-looping");
    r.condition = EventCondition{"CrashLoopBackOff", "", std::chrono::minutes(5)};
    rules.push_back(std::move(r));
  }
  {
    // Only applications that have instances have the series, so an application scaled to none
    // on purpose is not alerted on.
    Rule r = base("NoReadyInstance", "critical", "{{ $labels.application }} has no ready instance");
    r.condition = MetricCondition{"sum by (application) (skiff_instance_ready)", CompareOp::kEq, 0};
    r.for_duration = std::chrono::minutes(1);
    rules.push_back(std::move(r));
  }
  {
    Rule r = base("HighErrorRate", "warning",
                  "{{ $labels.application }} answers {{ $value }} of its requests with 5xx");
    r.condition = MetricCondition{
        "sum by (application) (rate(skiff_gateway_responses_total{class=\"5xx\"}[2m])) / "
        "sum by (application) (rate(skiff_gateway_responses_total[2m]))",
        CompareOp::kGt, 0.05};
    r.for_duration = std::chrono::minutes(2);
    rules.push_back(std::move(r));
  }
  {
    // Instances without a memory limit have a limit of 0: left out rather than divided by.
    Rule r = base("MemoryNearLimit", "warning",
                  "instance {{ $labels.instance }} of {{ $labels.application }} uses {{ $value }} "
                  "of its memory limit");
    r.condition = MetricCondition{
        "skiff_instance_memory_working_set_bytes / (skiff_instance_memory_limit_bytes > 0)",
        CompareOp::kGt, 0.9};
    r.for_duration = std::chrono::minutes(5);
    rules.push_back(std::move(r));
  }
  return rules;
}

bool replacesBuiltin(const std::string& object_name, const std::string& builtin_name) {
  if (object_name.size() != builtin_name.size()) return false;
  return std::equal(
      object_name.begin(), object_name.end(), builtin_name.begin(),
      [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
}

}  // namespace skiff::alert
