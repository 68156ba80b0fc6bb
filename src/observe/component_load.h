// ComponentLoad: what the autoscaler asks of the measurements — how loaded one component's
// instances are now, per metric it can target:
//   "cpu"               cpu used as a percentage of what the instances request
//   "memory"            memory working set as a percentage of what they request
//   "requestsPerSecond" requests answered per second, per ready instance
//   "p99"               the 99th percentile of the gateway's latency, in seconds
// A metric that cannot be measured (no requests declared, no traffic yet) is absent.
//
// TsdbComponentLoad answers from the time-series store, over a window of recent samples.
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/clock.h"

namespace skiff::observe {

class TimeSeriesStore;

class ComponentLoad {
 public:
  virtual ~ComponentLoad() = default;
  virtual std::map<std::string, double> measure(const std::string& tenant,
                                                const std::string& application,
                                                const std::string& component) = 0;
};

class TsdbComponentLoad final : public ComponentLoad {
 public:
  // `window`: how far back rates and the latency histogram look; `lookback`: how old a gauge's
  // latest sample may be (a few collection periods, so instances gone since do not count).
  TsdbComponentLoad(const TimeSeriesStore& series, const Clock& clock,
                    std::chrono::milliseconds window, std::chrono::milliseconds lookback);

  std::map<std::string, double> measure(const std::string& tenant, const std::string& application,
                                        const std::string& component) override;

 private:
  const TimeSeriesStore& series_;
  const Clock& clock_;
  const std::chrono::milliseconds window_;
  const std::chrono::milliseconds lookback_;
};

}  // namespace skiff::observe
