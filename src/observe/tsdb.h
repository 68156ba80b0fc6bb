// TimeSeriesStore: Skiff's embedded time-series database — the samples of the metrics it
// scrapes, kept in memory in Gorilla-compressed chunks (observe/chunk.h), in two tiers:
//
//  - raw: the last sample of every `raw_step` bucket of a series, for `raw_retention`. A sample
//    whose bucket (floor(t / raw_step)) is the latest sample's replaces it, so scraping faster
//    than raw_step does not grow the store; a raw_step of 0 keeps every sample.
//  - rollup: compact() moves raw chunks older than raw_retention here, keeping the last sample of
//    every `rollup_step` bucket (with its own timestamp), for `rollup_retention`. The last
//    sample is exactly what rate() and increase() of a counter need, so they answer the same
//    over both tiers. Gauges are downsampled by the same rule: avg/min/max_over_time over
//    rollup data see one sample a rollup_step, and may miss a spike shorter than that.
//
// Samples of a series must come in increasing time order; one not after the series' newest
// sample is refused and counted (TsdbStats::out_of_order). A series that has had no sample for
// longer than its retention is removed by compact(), index entry included.
//
// Memory: stats().bytes estimates what the store holds (see TsdbStats). When an append takes it
// over max_bytes, the oldest chunks over all series are dropped until it is under 90% of
// max_bytes, so once append() returns bytes <= max_bytes holds — unless the series index alone
// exceeds it (max_series bounds that). New series beyond max_series are refused and counted.
//
// Thread-safe: appends from a collector thread and queries from API threads run concurrently
// (one writer or many readers at a time). The store owns all its data; select() returns copies.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/status.h"
#include "observe/chunk.h"

namespace skiff::observe {

using Labels = std::map<std::string, std::string>;  // the metric name is not a label here

struct Series {
  std::string name;
  Labels labels;
  std::vector<Sample> samples;  // in time order
  bool operator==(const Series&) const = default;
};

// One condition on a label's value; a label a series lacks has the value "". Regular
// expressions are ECMAScript (std::regex), fully anchored as in Prometheus: `a.*` matches
// "abc", not "xabc" (unlike Prometheus' RE2, `.` does not match a newline). Copyable; the
// compiled expression is shared and immutable.
class LabelMatcher {
 public:
  enum Op { kEq, kNe, kRe, kNre };

  // An error (kBadRequest) for a malformed or too complex regular expression.
  static Result<LabelMatcher> make(std::string name, Op op, std::string value);
  static LabelMatcher equal(std::string name, std::string value);
  static LabelMatcher notEqual(std::string name, std::string value);

  bool matches(const Labels& labels) const;
  const std::string& name() const { return name_; }
  Op op() const { return op_; }
  const std::string& value() const { return value_; }

 private:
  struct Compiled;  // the std::regex, kept out of this header
  LabelMatcher(std::string name, Op op, std::string value)
      : name_(std::move(name)), op_(op), value_(std::move(value)) {}

  std::string name_;
  Op op_;
  std::string value_;
  std::shared_ptr<const Compiled> regex_;  // set for kRe and kNre
};

struct TsdbOptions {
  std::chrono::seconds raw_step{10};  // resolution of the raw tier
  std::chrono::seconds raw_retention{24 * 3600};
  std::chrono::seconds rollup_step{60};  // resolution of the downsampled tier
  std::chrono::seconds rollup_retention{14 * 24 * 3600};
  // Bound on stats().bytes; beyond it the oldest chunks are dropped first (counted).
  size_t max_bytes = 256 << 20;
  size_t max_series = 200000;  // new series beyond this are refused (counted)
  std::string dir;             // empty: memory only; else snapshot() writes here and open() loads
};

struct TsdbStats {
  size_t series = 0;
  size_t samples = 0;
  // Estimate of the memory held: each chunk's object and encoded buffer capacity, each tier's
  // chunk array, and per series its index entry, its label strings and the map nodes holding
  // them (fixed estimates of the allocator's node sizes; malloc's own overhead is not counted).
  size_t bytes = 0;
  size_t dropped_chunks = 0;  // to keep within max_bytes
  size_t refused_series = 0;  // beyond max_series
  size_t out_of_order = 0;    // samples refused for not being after their series' newest
  int64_t oldest_ms = 0;      // 0 and 0 when the store is empty
  int64_t newest_ms = 0;
};

class TimeSeriesStore {
 public:
  explicit TimeSeriesStore(TsdbOptions options);
  ~TimeSeriesStore();
  TimeSeriesStore(const TimeSeriesStore&) = delete;
  TimeSeriesStore& operator=(const TimeSeriesStore&) = delete;

  // A store with options.dir's snapshot loaded, if there is one (the directory is created if
  // missing). A corrupt or unreadable snapshot is an error naming the file.
  static Result<std::unique_ptr<TimeSeriesStore>> open(TsdbOptions options);

  void append(const std::string& name, const Labels& labels, int64_t t_ms, double v);
  // Appends many samples of one scrape under one lock: (name, labels, value) at t_ms.
  void appendBatch(const std::vector<std::tuple<std::string, Labels, double>>& samples,
                   int64_t t_ms);

  // The series named `name` whose labels match every matcher, each with its samples in
  // [start_ms, end_ms]: from the rollup tier before the series' raw tier begins, from the raw
  // tier after. Series without samples in the interval are left out. Sorted by labels.
  std::vector<Series> select(const std::string& name, const std::vector<LabelMatcher>& matchers,
                             int64_t start_ms, int64_t end_ms) const;
  std::vector<std::string> names() const;  // metric names known, sorted
  TsdbStats stats() const;

  // Persists everything to options.dir/tsdb.snapshot, atomically (temporary file, fsync,
  // rename). An error for a memory-only store or when the file cannot be written.
  Status snapshot() const;
  std::string snapshotPath() const;

  // Moves raw chunks older than now - raw_retention into the rollup tier, drops rollup data
  // older than now - rollup_retention and removes series left without samples. Call it
  // periodically (every few minutes); it holds the write lock for one pass over the series.
  void compact(int64_t now_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::observe
