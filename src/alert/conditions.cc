#include "alert/conditions.h"

#include <algorithm>

#include "common/clock.h"

namespace skiff::alert {

namespace {

int64_t millisOf(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// What one evaluation reads of one instance's log at most: a flood of lines is counted over
// the next evaluations rather than stalling this one.
constexpr size_t kReadPerEvaluation = 4 << 20;

}  // namespace

Result<std::vector<ActiveSeries>> MetricConditions::evaluate(const Rule& rule,
                                                             const MetricCondition& condition,
                                                             TimePoint now) {
  Parsed& parsed = parsed_[condition.query];
  if (!parsed.expr) {
    auto expr = observe::parseQuery(condition.query);
    if (!expr.ok()) {
      parsed_.erase(condition.query);
      return expr.status();
    }
    parsed.expr = std::move(expr).value();
  }
  parsed.used = true;
  observe::QueryOptions options;
  options.confine = {observe::LabelMatcher::equal("tenant", rule.tenant)};
  options.lookback = lookback_;
  auto result = observe::instantQuery(series_, *parsed.expr, millisOf(now), options);
  if (!result.ok()) return result.status();
  std::vector<ActiveSeries> active;
  if (result->kind == observe::QueryResult::kScalar) {
    if (compare(result->scalar, condition.op, condition.threshold))
      active.push_back({{}, result->scalar});
    return active;
  }
  for (const observe::Series& s : result->series) {
    if (s.samples.empty()) continue;
    const double v = s.samples.back().v;
    if (compare(v, condition.op, condition.threshold)) active.push_back({s.labels, v});
  }
  return active;
}

void MetricConditions::sweep() {
  for (auto it = parsed_.begin(); it != parsed_.end();) {
    if (!it->second.used) {
      it = parsed_.erase(it);
      continue;
    }
    it->second.used = false;
    ++it;
  }
}

Result<std::vector<ActiveSeries>> LogConditions::evaluate(const Rule& rule,
                                                          const LogCondition& condition,
                                                          TimePoint now) {
  const std::string key = rule.tenant + "/" + rule.name;
  const std::string signature = condition.application + "\n" + condition.component + "\n" +
                                condition.pattern + "\n" + (condition.regex ? "re" : "text") +
                                "\n" + std::to_string(condition.window.count());
  Followed& f = followed_[key];
  if (f.signature != signature) {
    f = Followed{};
    f.signature = signature;
    auto matcher = runtime::LogMatcher::compile(condition.pattern, condition.regex, false);
    if (!matcher.ok()) {
      followed_.erase(key);
      return Status(StatusCode::kInvalid, "spec.log.pattern: " + matcher.status().message());
    }
    f.matcher = std::move(matcher).value();
  }
  f.used = true;

  auto instances = logs_.instancesOf(rule.tenant, condition.application);
  if (!instances.ok()) return instances.status();
  std::map<std::string, bool> listed;
  for (const runtime::LoggedInstance& i : *instances)
    if (condition.component.empty() || i.component == condition.component) listed[i.name] = true;
  for (auto it = f.cursors.begin(); it != f.cursors.end();)
    it = listed.count(it->first) > 0 ? std::next(it) : f.cursors.erase(it);

  const TimePoint since = now - std::chrono::duration_cast<TimePoint::duration>(condition.window);
  std::vector<runtime::LogLine> lines;
  for (const auto& [name, live] : listed) {
    auto it = f.cursors.find(name);
    if (it == f.cursors.end()) {
      runtime::LogQuery query;
      query.since = since;
      query.follow = true;
      auto opened = logs_.open(rule.tenant, name, query);
      // Not there (yet, or any more): looked for again at the next evaluation.
      if (!opened.ok()) continue;
      it = f.cursors.emplace(name, std::move(opened).value()).first;
    }
    // An ended cursor stays, so a deleted instance's kept log is not read (and counted) again.
    if (!it->second) continue;
    size_t read = 0;
    while (read < kReadPerEvaluation) {
      lines.clear();
      auto state = it->second->read(&lines, 256 << 10);
      for (const runtime::LogLine& line : lines) {
        read += line.text.size() + 1;
        if (line.time < since) continue;
        if (f.matcher->matches(line.text)) f.matches.push_back(line.time);
      }
      if (!state.ok() || *state == runtime::LogCursor::State::kEnd) {
        it->second.reset();
        break;
      }
      if (*state == runtime::LogCursor::State::kIdle) break;
    }
  }
  f.matches.erase(
      std::remove_if(f.matches.begin(), f.matches.end(), [&](TimePoint t) { return t < since; }),
      f.matches.end());
  const auto count = static_cast<int64_t>(f.matches.size());
  if (count < condition.count) return std::vector<ActiveSeries>{};
  Labels labels{{"application", condition.application}};
  if (!condition.component.empty()) labels["component"] = condition.component;
  return std::vector<ActiveSeries>{{labels, static_cast<double>(count)}};
}

void LogConditions::sweep() {
  for (auto it = followed_.begin(); it != followed_.end();) {
    if (!it->second.used) {
      it = followed_.erase(it);
      continue;
    }
    it->second.used = false;
    ++it;
  }
}

std::vector<ActiveSeries> EventConditions::evaluate(const Rule& rule,
                                                    const EventCondition& condition,
                                                    TimePoint now) {
  ListOptions options;
  options.tenant = rule.tenant;
  const std::string quoted = "\"" + condition.reason + "\"";
  std::map<std::pair<std::string, std::string>, double> counts;
  for (const StoredObjectPtr& stored : store_.list("Event", options).items) {
    // Parsing every event of the tenant each evaluation would cost more than the rule.
    if (stored->jsonText().find(quoted) == std::string::npos) continue;
    const Object event = stored->object();
    const json& spec = event.spec;
    if (spec.value("reason", "") != condition.reason) continue;
    const std::string application = spec.value("application", "");
    if (!condition.application.empty() && application != condition.application) continue;
    TimePoint last;
    if (!parseTimestamp(spec.value("lastAt", ""), &last)) continue;
    if (now - last > condition.window) continue;
    counts[{application, spec.value("component", "")}] += spec.value("count", 1);
  }
  std::vector<ActiveSeries> active;
  for (const auto& [where, count] : counts) {
    Labels labels;
    if (!where.first.empty()) labels["application"] = where.first;
    if (!where.second.empty()) labels["component"] = where.second;
    active.push_back({labels, count});
  }
  return active;
}

}  // namespace skiff::alert
