#include "controller/autoscale_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/clock.h"
#include "model/formats.h"

namespace skiff {
namespace {

// More replicas than any component could run; keeps the arithmetic in int.
constexpr int kReplicaCeiling = 1'000'000;
// Products like 2 × 0.6 / 0.3 come out a hair above the integer they are; so do ratios at the
// edge of the tolerance (77 / 70 - 1).
constexpr double kEpsilon = 1e-9;

int ceilReplicas(double x) {
  if (!(x > 0)) return 0;
  return static_cast<int>(std::min<double>(std::ceil(x - kEpsilon), kReplicaCeiling));
}

std::string number(double v) {
  char buf[64];
  if (std::fabs(v - std::round(v)) < kEpsilon && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string out = buf;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

// "cpu 142% of 70% target", "p99 0.6s of 0.3s target".
std::string describeMetric(const MetricSample& m) {
  std::string unit;
  if (m.name == kMetricCpu || m.name == kMetricMemory) unit = "%";
  if (m.name == kMetricP99) unit = "s";
  return m.name + " " + number(m.current) + unit + " of " + number(m.target) + unit + " target";
}

std::string arrow(int from, int to) {
  return std::to_string(from) + " \u2192 " + std::to_string(to);
}

struct Want {
  int replicas = 0;
  std::string clause;
};

Want wantOf(const MetricSample& m, int current, int ready, double tolerance) {
  const double ratio = m.current / m.target;
  const std::string what = describeMetric(m);
  if (current == 0) {
    const int n = ceilReplicas(ratio);
    return {n, what + ": " + arrow(0, n)};
  }
  if (std::fabs(ratio - 1) <= tolerance + kEpsilon)
    return {current, "within tolerance (" + what + ")"};
  if (ratio > 1 && ready < current) {
    // Instances that are not ready yet count as idle: they will take load once ready.
    if (ratio * ready / current <= 1 + tolerance + kEpsilon)
      return {current, what + " over " + std::to_string(ready) + " of " + std::to_string(current) +
                           " instances ready: waiting for the rest"};
    const int n = ceilReplicas(ratio * ready);
    return {n, what + " over " + std::to_string(ready) + " of " + std::to_string(current) +
                   " instances ready: " + arrow(current, n)};
  }
  const int n = ceilReplicas(m.current * current / m.target);
  return {n, what + ": " + arrow(current, n)};
}

std::string seconds(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

std::string describeLimit(const ScalingLimit& limit, char sign) {
  std::string out = "at most ";
  if (limit.percent > 0) out += sign + std::to_string(limit.percent) + "%";
  if (limit.percent > 0 && limit.pods > 0) out += " or ";
  if (limit.pods > 0) out += sign + std::to_string(limit.pods) + " replicas";
  return out + " per " + seconds(limit.period);
}

// The most replicas a scale-up may reach: per period, the larger of percent% more and pods more
// than the count at the period's start (the current count less what the period added).
int scaleUpLimit(const ScalingLimit& limit, int current, int64_t added) {
  const int64_t start = std::max<int64_t>(0, current - added);
  int64_t most = start;
  if (limit.percent > 0) most = std::max(most, (start * (100 + int64_t{limit.percent}) + 99) / 100);
  if (limit.pods > 0) most = std::max(most, start + limit.pods);
  return static_cast<int>(std::clamp<int64_t>(most, current, kReplicaCeiling));
}

// The fewest replicas a scale-down may reach, the same way down.
int scaleDownLimit(const ScalingLimit& limit, int current, int64_t removed) {
  const int64_t start = int64_t{current} + removed;
  int64_t fewest = start;
  if (limit.percent > 0)
    fewest = std::min(fewest, start * (100 - std::min(limit.percent, 100)) / 100);
  if (limit.pods > 0) fewest = std::min(fewest, start - limit.pods);
  return static_cast<int>(std::clamp<int64_t>(fewest, 0, current));
}

struct Bounds {
  int min = 1;
  int max = 1;
  const AutoscaleSchedule* min_from = nullptr;  // the schedule that set min, if one did
  const AutoscaleSchedule* max_from = nullptr;
};

Bounds boundsAt(const AutoscalePolicy& policy, std::chrono::system_clock::time_point now) {
  Bounds b{policy.min, policy.max};
  for (const AutoscaleSchedule& s : policy.schedules) {
    if (!s.min && !s.max) continue;
    if (!s.cron.activeAt(now, s.zone, s.duration)) continue;
    if (s.min && (b.min_from == nullptr || *s.min > b.min)) {
      b.min = *s.min;
      b.min_from = &s;
    }
    if (s.max && (b.max_from == nullptr || *s.max > b.max)) {
      b.max = *s.max;
      b.max_from = &s;
    }
  }
  if (b.min > b.max) {
    if (b.max_from != nullptr && b.min_from == nullptr) {
      b.min = b.max;
    } else {
      b.max = b.min;
      b.max_from = b.min_from;
    }
  }
  return b;
}

// Readers of the autoscale object that never throw; a wrong type is a field error.
class SpecReader {
 public:
  SpecReader(const json& object, std::string path, std::vector<FieldError>& errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  const json* member(const char* key) const {
    if (!object_.is_object()) return nullptr;
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string path(const std::string& key) const { return path_ + "." + key; }
  void fail(const std::string& key, std::string message) const {
    errors_.push_back({path(key), std::move(message)});
  }

  std::optional<int> integer(const char* key, int64_t min, int64_t max) const {
    const json* v = member(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer() || v->get<int64_t>() < min || v->get<int64_t>() > max) {
      fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", got " + v->dump(-1, ' ', false, json::error_handler_t::replace));
      return std::nullopt;
    }
    return static_cast<int>(v->get<int64_t>());
  }

  std::optional<double> positive(const char* key) const {
    const json* v = member(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number() || !(v->get<double>() > 0) || !std::isfinite(v->get<double>())) {
      fail(key, "must be a number above 0, got " +
                    v->dump(-1, ' ', false, json::error_handler_t::replace));
      return std::nullopt;
    }
    return v->get<double>();
  }

  std::optional<std::string> string(const char* key) const {
    const json* v = member(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      fail(key, "must be a string, got " + v->dump(-1, ' ', false, json::error_handler_t::replace));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  // A duration string in whole seconds (rounded up), above 0.
  std::optional<double> duration(const char* key) const {
    auto text = string(key);
    if (!text) return std::nullopt;
    auto s = parseDurationSeconds(*text);
    if (!s || !(*s > 0)) {
      fail(key, "must be a duration above 0 like \"300ms\", \"30s\" or \"1h\", got " +
                    json(*text).dump(-1, ' ', false, json::error_handler_t::replace));
      return std::nullopt;
    }
    return *s;
  }

 private:
  const json& object_;
  std::string path_;
  std::vector<FieldError>& errors_;
};

constexpr int64_t kMaxSeconds = int64_t{366} * 24 * 3600 * CronSchedule::kSearchYears;

}  // namespace

Result<AutoscalePolicy> autoscalePolicy(const json& autoscale, const std::string& path) {
  std::vector<FieldError> errors;
  if (!autoscale.is_object())
    return Status(StatusCode::kInvalid, "autoscale is invalid (1 problem)",
                  {{path, "must be an object"}});
  SpecReader spec(autoscale, path, errors);
  AutoscalePolicy policy;
  policy.min = spec.integer("min", 0, kReplicaCeiling).value_or(1);
  if (auto max = spec.integer("max", 1, kReplicaCeiling)) {
    policy.max = *max;
    if (policy.min > policy.max)
      spec.fail("min", "must not exceed max (" + std::to_string(policy.max) + "), got " +
                           std::to_string(policy.min));
  } else if (spec.member("max") == nullptr) {
    spec.fail("max", "is required");
  }
  static const std::pair<const char*, const char*> kTargets[] = {
      {"targetCPU", kMetricCpu},
      {"targetMemory", kMetricMemory},
      {"targetRequestsPerSecond", kMetricRequestsPerSecond},
  };
  for (const auto& [key, metric] : kTargets)
    if (auto target = spec.positive(key)) policy.targets[metric] = *target;
  if (auto p99 = spec.duration("targetP99")) policy.targets[kMetricP99] = *p99;
  if (auto s = spec.integer("scaleDownStabilizationSeconds", 0, kMaxSeconds))
    policy.behavior.scale_down_stabilization = std::chrono::seconds(*s);
  if (auto s = spec.integer("scaleUpStabilizationSeconds", 0, kMaxSeconds))
    policy.behavior.scale_up_stabilization = std::chrono::seconds(*s);
  if (const json* t = spec.member("tolerance")) {
    if (!t->is_number() || !(t->get<double>() >= 0 && t->get<double>() < 1))
      spec.fail("tolerance", "must be a number from 0 to below 1 (0.1 is 10%), got " +
                                 t->dump(-1, ' ', false, json::error_handler_t::replace));
    else
      policy.tolerance = t->get<double>();
  }

  if (const json* schedules = spec.member("schedules")) {
    if (!schedules->is_array()) spec.fail("schedules", "must be an array");
    for (size_t i = 0; schedules->is_array() && i < schedules->size(); ++i) {
      const std::string at = spec.path("schedules") + "[" + std::to_string(i) + "]";
      const json& entry = (*schedules)[i];
      if (!entry.is_object()) {
        errors.push_back({at, "must be an object"});
        continue;
      }
      SpecReader s(entry, at, errors);
      const size_t errors_before = errors.size();
      std::optional<CronSchedule> cron;
      if (auto text = s.string("cron")) {
        auto parsed = CronSchedule::parse(*text);
        if (parsed.ok())
          cron = std::move(parsed).value();
        else
          s.fail("cron", "must be a cron schedule: " + parsed.status().message());
      } else if (s.member("cron") == nullptr) {
        s.fail("cron", "is required");
      }
      std::optional<TimeZone> zone = TimeZone::utc();
      if (auto name = s.string("timeZone")) {
        auto loaded = TimeZone::load(*name);
        if (loaded.ok())
          zone = std::move(loaded).value();
        else
          s.fail("timeZone", loaded.status().message());
      }
      const double duration = s.duration("duration").value_or(3600);
      const auto min = s.integer("min", 0, kReplicaCeiling);
      const auto max = s.integer("max", 1, kReplicaCeiling);
      if (min && max && *min > *max)
        s.fail("min",
               "must not exceed max (" + std::to_string(*max) + "), got " + std::to_string(*min));
      if (errors.size() != errors_before || !cron) continue;
      const auto window = std::chrono::seconds(
          static_cast<int64_t>(std::ceil(std::min<double>(duration, kMaxSeconds))));
      policy.schedules.push_back({std::move(*cron), std::move(*zone), window, min, max});
    }
  }
  if (!errors.empty()) {
    const std::string count =
        errors.size() == 1 ? "1 problem" : std::to_string(errors.size()) + " problems";
    return Status(StatusCode::kInvalid, "autoscale is invalid (" + count + ")", std::move(errors));
  }
  return policy;
}

std::vector<MetricSample> metricSamples(const AutoscalePolicy& policy,
                                        const std::map<std::string, double>& measured) {
  std::vector<MetricSample> out;
  for (const auto& [name, target] : policy.targets) {
    auto it = measured.find(name);
    if (it != measured.end()) out.push_back({name, it->second, target});
  }
  return out;
}

AutoscaleDecision decideReplicas(const AutoscaleInput& in, AutoscaleHistory& history,
                                 std::chrono::system_clock::time_point now) {
  const AutoscalePolicy& policy = in.policy;
  const Behavior& behavior = policy.behavior;
  const int current = std::clamp(in.current_replicas, 0, kReplicaCeiling);
  const int ready = std::clamp(in.ready_replicas, 0, current);
  AutoscaleDecision out;
  std::vector<std::string> clauses;

  // 1. What the metrics want: the most any of them wants.
  bool all_zero = true;
  std::optional<Want> best;
  for (const MetricSample& m : in.metrics) {
    if (!std::isfinite(m.current) || m.current < 0 || !std::isfinite(m.target) || !(m.target > 0))
      continue;
    out.metrics[m.name] = m.current;
    if (m.current != 0) all_zero = false;
    Want want = wantOf(m, current, ready, policy.tolerance);
    if (!best || want.replicas > best->replicas) best = std::move(want);
  }
  out.recommendation = best ? best->replicas : current;
  clauses.push_back(best ? best->clause : "no metrics");

  // 2. Stabilisation over the recommendations still inside their windows.
  const auto keep_recommendations =
      std::max(behavior.scale_up_stabilization, behavior.scale_down_stabilization);
  std::erase_if(history.recommendations,
                [&](const auto& r) { return r.at <= now - keep_recommendations; });
  int up = out.recommendation;
  int down = out.recommendation;
  for (const auto& r : history.recommendations) {
    if (r.at > now - behavior.scale_up_stabilization) up = std::min(up, r.replicas);
    if (r.at > now - behavior.scale_down_stabilization) down = std::max(down, r.replicas);
  }
  // An older recommendation equal to the new one can no longer decide a window's min or max:
  // dropping it keeps the history small without changing any decision.
  std::erase_if(history.recommendations,
                [&](const auto& r) { return r.replicas == out.recommendation && r.at <= now; });
  history.recommendations.push_back({now, out.recommendation});
  // As the HPA: from the current count, up to the smallest recent recommendation above it or
  // down to the largest recent one below it.
  int desired = std::min(std::max(current, up), down);
  if (desired != out.recommendation) {
    out.limited_by_stabilization = true;
    const bool holding = desired == current;
    if (out.recommendation < current)
      clauses.push_back(std::string(holding ? "held" : "limited") +
                        " by scale-down stabilisation (max recommendation " + std::to_string(down) +
                        " in the last " + seconds(behavior.scale_down_stabilization) + ")");
    else
      clauses.push_back(std::string(holding ? "held" : "limited") +
                        " by scale-up stabilisation (min recommendation " + std::to_string(up) +
                        " in the last " + seconds(behavior.scale_up_stabilization) + ")");
  }

  // 3. Rate limits, counting what the current periods already changed.
  const auto keep_events = std::max(behavior.scale_up.period, behavior.scale_down.period);
  std::erase_if(history.events, [&](const auto& e) { return e.at <= now - keep_events; });
  if (desired > current) {
    int64_t added = 0;
    for (const auto& e : history.events)
      if (e.at > now - behavior.scale_up.period && e.to > e.from) added += e.to - e.from;
    const int limit = scaleUpLimit(behavior.scale_up, current, added);
    if (desired > limit) {
      desired = limit;
      out.limited_by_rate = true;
      clauses.push_back("scale-up limited to " + std::to_string(limit) + " (" +
                        describeLimit(behavior.scale_up, '+') + ")");
    }
  } else if (desired < current) {
    int64_t removed = 0;
    for (const auto& e : history.events)
      if (e.at > now - behavior.scale_down.period && e.to < e.from) removed += e.from - e.to;
    const int limit = scaleDownLimit(behavior.scale_down, current, removed);
    if (desired < limit) {
      desired = limit;
      out.limited_by_rate = true;
      clauses.push_back("scale-down limited to " + std::to_string(limit) + " (" +
                        describeLimit(behavior.scale_down, '-') + ")");
    }
  }

  // 4. Bounds, at once.
  const Bounds bounds = boundsAt(policy, now);
  const bool may_idle = bounds.min == 0 && all_zero;
  const int floor = may_idle ? 0 : std::max(bounds.min, 1);
  if (desired < floor) {
    desired = floor;
    out.limited_by_bounds = true;
    if (bounds.min_from != nullptr) {
      out.schedule = bounds.min_from->describe();
      clauses.push_back("raised to schedule minimum " + std::to_string(floor) + " (schedule " +
                        out.schedule + ")");
    } else if (bounds.min == 0) {
      clauses.push_back("raised to 1 (min 0 allows no replicas only while every metric reads 0)");
    } else {
      clauses.push_back("raised to minimum " + std::to_string(floor));
    }
  }
  if (desired > bounds.max) {
    desired = bounds.max;
    out.limited_by_bounds = true;
    if (bounds.max_from != nullptr) {
      out.schedule = bounds.max_from->describe();
      clauses.push_back("lowered to schedule maximum " + std::to_string(desired) + " (schedule " +
                        out.schedule + ")");
    } else {
      clauses.push_back("lowered to maximum " + std::to_string(desired));
    }
  }

  // 5. The tenant's quota, over everything.
  if (in.quota && desired > std::max(*in.quota, 0)) {
    desired = std::max(*in.quota, 0);
    out.limited_by_quota = true;
    clauses.push_back("capped at " + std::to_string(desired) + " by the tenant's quota");
  }

  out.replicas = desired;
  out.changed = desired != current;
  if (out.changed) history.events.push_back({now, current, desired});
  for (size_t i = 0; i < clauses.size(); ++i) out.reason += (i == 0 ? "" : "; ") + clauses[i];
  return out;
}

json toJson(const AutoscaleHistory& history) {
  auto time = [](std::chrono::system_clock::time_point t) {
    const auto whole = std::chrono::floor<std::chrono::seconds>(t);
    std::string text = formatTimestamp(whole);
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t - whole).count();
    if (nanos != 0) {
      char fraction[16];
      std::snprintf(fraction, sizeof fraction, ".%09lld", static_cast<long long>(nanos));
      std::string digits = fraction;
      while (digits.back() == '0') digits.pop_back();
      text.insert(text.size() - 1, digits);
    }
    return text;
  };
  json out = {{"recommendations", json::array()}, {"events", json::array()}};
  for (const auto& r : history.recommendations)
    out["recommendations"].push_back({{"at", time(r.at)}, {"replicas", r.replicas}});
  for (const auto& e : history.events)
    out["events"].push_back({{"at", time(e.at)}, {"from", e.from}, {"to", e.to}});
  return out;
}

AutoscaleHistory autoscaleHistoryFrom(const json& value) {
  AutoscaleHistory history;
  if (!value.is_object()) return history;
  auto time = [](const json& entry, std::chrono::system_clock::time_point* out) {
    auto it = entry.find("at");
    return it != entry.end() && it->is_string() &&
           parsePreciseTimestamp(it->get<std::string>(), out);
  };
  auto count = [](const json& entry, const char* key, int* out) {
    auto it = entry.find(key);
    if (it == entry.end() || !it->is_number_integer()) return false;
    const int64_t n = it->get<int64_t>();
    if (n < 0 || n > kReplicaCeiling) return false;
    *out = static_cast<int>(n);
    return true;
  };
  auto list = [&](const char* key) {
    auto it = value.find(key);
    return it != value.end() && it->is_array() ? *it : json::array();
  };
  for (const json& entry : list("recommendations")) {
    AutoscaleHistory::Recommendation r;
    if (entry.is_object() && time(entry, &r.at) && count(entry, "replicas", &r.replicas))
      history.recommendations.push_back(r);
  }
  for (const json& entry : list("events")) {
    AutoscaleHistory::ScaleEvent e;
    if (entry.is_object() && time(entry, &e.at) && count(entry, "from", &e.from) &&
        count(entry, "to", &e.to))
      history.events.push_back(e);
  }
  return history;
}

}  // namespace skiff
