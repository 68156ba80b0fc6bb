// Conditions: for which label sets a rule's condition holds now, read from where Skiff keeps
// what it observes — the metrics' time series, the instances' logs, the Event objects.
//
//  - MetricConditions runs the rule's query at `now`, confined to the rule's tenant's series
//    (tenant="<tenant>", whatever the query says), and keeps each result series whose value
//    compares true with the threshold. A query is parsed once and kept while rules use it.
//  - LogConditions follows the logs of the rule's application's instances (a cursor per
//    instance, kept between evaluations, so each line is read once) and counts the lines
//    matching the pattern within the window, by the time each line was written. It holds, with
//    the count as its value, while the count reaches the rule's.
//  - EventConditions looks for Events of the rule's reason (and application) whose lastAt is
//    within the window: an alert per application and component, valued by the events' count.
//
// Not thread-safe: the alerting service's evaluation thread owns them.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alert/alert_state.h"
#include "alert/rule.h"
#include "common/status.h"
#include "observe/query.h"
#include "observe/tsdb.h"
#include "runtime/local/log_search.h"
#include "runtime/log_source.h"
#include "store/store.h"

namespace skiff::alert {

class MetricConditions {
 public:
  MetricConditions(const observe::TimeSeriesStore& series, std::chrono::milliseconds lookback)
      : series_(series), lookback_(lookback) {}
  Result<std::vector<ActiveSeries>> evaluate(const Rule& rule, const MetricCondition& condition,
                                             TimePoint now);
  // Forgets parsed queries no rule evaluated since the last call.
  void sweep();

 private:
  const observe::TimeSeriesStore& series_;
  const std::chrono::milliseconds lookback_;
  struct Parsed {
    std::unique_ptr<observe::Expr> expr;
    bool used = false;
  };
  std::map<std::string, Parsed> parsed_;
};

class LogConditions {
 public:
  explicit LogConditions(runtime::LogSource& logs) : logs_(logs) {}
  Result<std::vector<ActiveSeries>> evaluate(const Rule& rule, const LogCondition& condition,
                                             TimePoint now);
  // Closes the cursors of rules not evaluated since the last call.
  void sweep();

 private:
  struct Followed {
    std::string signature;                       // the condition it follows; a change starts over
    std::optional<runtime::LogMatcher> matcher;  // the same matching as `skiff logs --grep`
    std::map<std::string, std::unique_ptr<runtime::LogCursor>> cursors;  // by instance
    std::deque<TimePoint> matches;  // when matching lines were written, oldest first
    bool used = false;
  };
  runtime::LogSource& logs_;
  std::map<std::string, Followed> followed_;  // by "tenant/rule"
};

class EventConditions {
 public:
  explicit EventConditions(const Store& store) : store_(store) {}
  std::vector<ActiveSeries> evaluate(const Rule& rule, const EventCondition& condition,
                                     TimePoint now);

 private:
  const Store& store_;
};

}  // namespace skiff::alert
