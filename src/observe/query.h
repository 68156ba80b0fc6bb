// Queries over a TimeSeriesStore in a subset of PromQL, evaluated as Prometheus does:
//
//  - selectors `name{l="v", l2!="v", l3=~"re.*", l4!~"x"}` (the metric name is required);
//    an instant selector takes each series' latest sample in (t - lookback, t], lookback 5m;
//    a range selector `x[5m]` (units ms s m h d w y, combinable: 1h30m) takes the samples in
//    (t - 5m, t] and is only allowed as a function argument;
//  - functions rate, irate, increase, delta (Prometheus' extrapolation to the window's edges and
//    counter-reset handling included), avg/min/max/sum/count/last_over_time,
//    histogram_quantile(φ, v) (interpolating within a bucket of `le`-labelled cumulative
//    counts), abs, ceil, floor, scalar, vector, time;
//  - aggregations sum, avg, min, max, count, with `by (a, b)` or `without (a)` before or after
//    the argument (`sum by (app) (x)` and `sum(x) by (app)`);
//  - binary + - * / % ^ between scalars and vectors; vector/vector operations match one-to-one
//    on identical label sets (the metric name aside; no on/ignoring/group_left); comparisons
//    == != > < >= <= filter, or give 0/1 with `bool`; set operations and, or, unless;
//  - number literals (Inf and NaN included), unary minus, parentheses, # comments.
// Functions, aggregations and arithmetic drop the metric name (Series::name ""); comparison
// filters and set operations keep it. Results are sorted by labels, then name.
//
// QueryOptions::confine confines a query: every selector also requires those matchers, at
// evaluation, whatever the query says — this is how a tenant is kept to its own series.
//
// Pure functions: thread-safe as far as the store is (it is).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "observe/tsdb.h"

namespace skiff::observe {

struct QueryResult {
  enum Kind { kVector, kMatrix, kScalar } kind = kVector;
  // kVector: one sample each, at the query's time; kMatrix: a sample per step where defined.
  std::vector<Series> series;
  double scalar = 0;  // kScalar
};

struct QueryOptions {
  // Every selector of the query also requires all of these (e.g. tenant="acme").
  std::vector<LabelMatcher> confine;
  std::chrono::milliseconds lookback{std::chrono::minutes(5)};
  size_t max_points_per_series = 11000;  // of a range query: (end - start) / step + 1
  // Loaded from the store by one query (16 bytes each); checked after each selector's load.
  size_t max_samples = 10'000'000;
};

// A parsed query. Only parseQuery() makes them; immutable once made.
class Expr {
 public:
  enum class Type { kScalar, kVector, kMatrix };
  virtual ~Expr() = default;
  virtual Type type() const = 0;
  // The query in canonical form: binary operations parenthesised, durations normalised
  // (`sum by (a) ((x / y))`); parsing it gives the same expression.
  virtual std::string toString() const = 0;

 protected:
  Expr() = default;
};

// An error (kBadRequest) names the 1-based byte position and what was expected there, e.g.
// `at 14: expected ")", found end of query`.
Result<std::unique_ptr<Expr>> parseQuery(std::string_view text);

// The query's value at t_ms: kVector (each series one sample at t_ms) or kScalar.
Result<QueryResult> instantQuery(const TimeSeriesStore& store, std::string_view query, int64_t t_ms,
                                 const QueryOptions& options = {});
Result<QueryResult> instantQuery(const TimeSeriesStore& store, const Expr& query, int64_t t_ms,
                                 const QueryOptions& options = {});

// The query's value at start_ms, start_ms + step_ms, ... up to end_ms: kMatrix (a scalar query
// gives one series without name or labels). More than options.max_points_per_series steps is
// an error.
Result<QueryResult> rangeQuery(const TimeSeriesStore& store, std::string_view query,
                               int64_t start_ms, int64_t end_ms, int64_t step_ms,
                               const QueryOptions& options = {});
Result<QueryResult> rangeQuery(const TimeSeriesStore& store, const Expr& query, int64_t start_ms,
                               int64_t end_ms, int64_t step_ms, const QueryOptions& options = {});

}  // namespace skiff::observe
