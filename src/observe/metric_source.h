// MetricSource: one place measurements come from — the instances of this machine, the gateway,
// the node and the control plane. The MetricsCollector asks every source at each period and
// keeps what they answer in the time-series store; the families a source declares are what
// /metrics and the docs describe. Implementations are called from the collector's thread only.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "observe/tsdb.h"  // Labels

namespace skiff::observe {

struct MetricFamily {
  std::string name;
  std::string type;  // "counter", "gauge" or "histogram" (then name_bucket, _sum, _count)
  std::string help;
};

struct CollectedSample {
  std::string name;
  Labels labels;
  double value = 0;
};

class MetricSource {
 public:
  virtual ~MetricSource() = default;
  // A short name for logs ("instances", "gateway").
  virtual std::string name() const = 0;
  virtual std::vector<MetricFamily> families() const = 0;
  // Appends the current values. An error leaves this round without the source's samples (or
  // with those appended before it failed); the collector reports it.
  virtual Status collect(std::vector<CollectedSample>& out) = 0;
};

}  // namespace skiff::observe
