#include "observe/component_load.h"

#include <cmath>

#include "observe/query.h"
#include "observe/tsdb.h"

namespace skiff::observe {

TsdbComponentLoad::TsdbComponentLoad(const TimeSeriesStore& series, const Clock& clock,
                                     std::chrono::milliseconds window,
                                     std::chrono::milliseconds lookback)
    : series_(series), clock_(clock), window_(window), lookback_(lookback) {}

std::map<std::string, double> TsdbComponentLoad::measure(const std::string& tenant,
                                                         const std::string& application,
                                                         const std::string& component) {
  QueryOptions options;
  // The selectors below name no labels: the component is chosen by confinement, which no
  // label value (however quoted) can escape.
  options.confine = {LabelMatcher::equal("tenant", tenant),
                     LabelMatcher::equal("application", application),
                     LabelMatcher::equal("component", component)};
  options.lookback = lookback_;
  const std::string w = "[" + std::to_string(window_.count()) + "ms]";
  const std::map<std::string, std::string> queries = {
      {"cpu", "100 * sum(rate(skiff_instance_cpu_usage_seconds_total" + w +
                  ")) / sum(skiff_instance_cpu_request_cores)"},
      {"memory",
       "100 * sum(skiff_instance_memory_working_set_bytes) / "
       "sum(skiff_instance_memory_request_bytes)"},
      {"requestsPerSecond",
       "sum(rate(skiff_gateway_responses_total" + w + ")) / sum(skiff_instance_ready)"},
      {"p99",
       "histogram_quantile(0.99, sum by (le) (rate(skiff_gateway_request_duration_seconds_bucket" +
           w + ")))"},
  };
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
          .count();
  std::map<std::string, double> out;
  for (const auto& [metric, text] : queries) {
    auto result = instantQuery(series_, text, now_ms, options);
    if (!result.ok() || result->kind != QueryResult::kVector || result->series.size() != 1 ||
        result->series[0].samples.empty())
      continue;
    const double v = result->series[0].samples.back().v;
    if (std::isfinite(v)) out[metric] = v;
  }
  return out;
}

}  // namespace skiff::observe
