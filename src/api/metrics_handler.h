// MetricsHandler: the API's metric endpoints, answered from the embedded time-series store.
//
//   GET /metrics                                  every series' latest value, Prometheus text
//   GET /api/v1/metrics?query=Q                   a query over every tenant (platform scope)
//   GET /api/v1/tenants/{t}/metrics?query=Q       a query confined to tenant t's series
//   query parameters: time (an instant), or start, end and step (a range); a time is RFC 3339
//   or Unix seconds, a step a duration ("15s") or seconds. Without any: the instant now.
//
// A query answers {"resultType": "vector"|"matrix"|"scalar", "result": [...]}, the `data` of
// Prometheus' HTTP API, so its clients and its tests read Skiff's answers alike. Queries run on
// the server's blocking pool. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "api/http.h"
#include "common/clock.h"
#include "observe/metric_source.h"

namespace skiff {

namespace observe {
class TimeSeriesStore;
}

class MetricsHandler {
 public:
  // `families` lists what /metrics describes (the collector's families()). `lookback` is how old
  // the latest sample of a series may be for a query to see it: a few collection periods, so
  // that instances gone since are not counted (the store marks no series stale).
  MetricsHandler(const observe::TimeSeriesStore& series, const Clock& clock,
                 std::function<std::vector<observe::MetricFamily>()> families,
                 std::chrono::milliseconds lookback);

  static bool handles(const HttpRequest& request);
  HttpResponse handle(HttpRequest& request);

 private:
  HttpResponse query(const HttpRequest& request, const std::string& tenant) const;

  const observe::TimeSeriesStore& series_;
  const Clock& clock_;
  const std::function<std::vector<observe::MetricFamily>()> families_;
  const std::chrono::milliseconds lookback_;
};

}  // namespace skiff
