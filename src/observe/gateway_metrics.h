// GatewayMetricSource: the gateway's per-route measurements (requests by status class, the
// latency histogram, requests in flight, failed backend connections), scraped from its /metrics
// and labelled with what the route belongs to. The gateway names a route
// "TENANT/APPLICATION/COMPONENT/INDEX" (controller/route_controller.h); those parts become the
// labels tenant, application and component, so queries and tenant confinement need no
// knowledge of route ids. Called from the collector's thread only.
#pragma once

#include <functional>
#include <string>

#include "observe/metric_source.h"

namespace skiff::observe {

class GatewayMetricSource final : public MetricSource {
 public:
  // `scrape` returns the gateway's /metrics text.
  explicit GatewayMetricSource(std::function<Result<std::string>()> scrape);

  std::string name() const override { return "gateway"; }
  std::vector<MetricFamily> families() const override;
  Status collect(std::vector<CollectedSample>& out) override;

 private:
  const std::function<Result<std::string>()> scrape_;
};

// Adds tenant, application and component from a "route" label of the gateway's form.
void labelRouteOwner(Labels& labels);

}  // namespace skiff::observe
