// The Prometheus text format (version 0.0.4) of what the time-series store holds now: for every
// declared family, the latest sample of each series, with its timestamp, so that a Prometheus
// scraping Skiff stores each value at the time Skiff measured it and both answer a query alike.
// Pure over the store; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "observe/metric_source.h"

namespace skiff::observe {

class TimeSeriesStore;

// Series whose latest sample is older than `freshness` (an instance gone, a route removed) are
// left out, as Prometheus would mark them stale.
std::string renderExposition(const TimeSeriesStore& series,
                             const std::vector<MetricFamily>& families, int64_t now_ms,
                             std::chrono::milliseconds freshness);

// A sample's value as the text format (and Prometheus' HTTP API) writes it: shortest exact
// decimal, NaN, +Inf, -Inf.
std::string formatSampleValue(double v);

// A label value escaped for the text format (backslash, double quote, newline).
std::string escapeLabelValue(const std::string& value);

}  // namespace skiff::observe
