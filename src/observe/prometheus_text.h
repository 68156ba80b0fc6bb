// Reading the Prometheus text exposition format (version 0.0.4): the samples of a scrape, as
// the gateway's /metrics writes them and as any exporter would. Comments (# HELP, # TYPE) are
// skipped; timestamps after the value are accepted and dropped. Pure, thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::observe {

struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The samples of `text`, in order. A malformed line is an error naming its line number and
// what was wrong; nothing is returned for a text with one.
Result<std::vector<MetricSample>> parsePrometheusText(std::string_view text);

}  // namespace skiff::observe
