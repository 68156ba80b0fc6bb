// ControlPlaneMetricSource: the health and size of the control plane itself — the store's
// revision and object counts, the server process's memory and cpu. Called from the metrics
// collector's thread only.
#pragma once

#include "observe/metric_source.h"
#include "store/store.h"

namespace skiff::observe {

class ControlPlaneMetricSource final : public MetricSource {
 public:
  explicit ControlPlaneMetricSource(const Store& store) : store_(store) {}

  std::string name() const override { return "control-plane"; }
  std::vector<MetricFamily> families() const override;
  Status collect(std::vector<CollectedSample>& out) override;

 private:
  const Store& store_;
};

}  // namespace skiff::observe
