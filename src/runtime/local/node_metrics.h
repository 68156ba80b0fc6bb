// NodeMetricSource: what this machine's instances use (cpu, throttling, memory working set,
// restarts, readiness, network bytes) and what the machine has and has promised (capacity,
// requested cpu and memory). Instances are those the store assigns to this node with a running
// workload; each is read through its pid (runtime/local/instance_usage.h), so both drivers'
// instances are measured alike. Called from the metrics collector's thread only.
#pragma once

#include <string>

#include "observe/metric_source.h"
#include "store/store.h"

namespace skiff::runtime {

class NodeMetricSource final : public observe::MetricSource {
 public:
  NodeMetricSource(const Store& store, std::string node);

  std::string name() const override { return "node"; }
  std::vector<observe::MetricFamily> families() const override;
  Status collect(std::vector<observe::CollectedSample>& out) override;

 private:
  const Store& store_;
  const std::string node_;
};

}  // namespace skiff::runtime
