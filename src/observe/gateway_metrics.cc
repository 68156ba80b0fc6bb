#include "observe/gateway_metrics.h"

#include <set>

#include "observe/prometheus_text.h"

namespace skiff::observe {

namespace {

const std::vector<MetricFamily>& gatewayFamilies() {
  static const std::vector<MetricFamily> families = {
      {"skiff_gateway_responses_total", "counter",
       "Requests answered, by route, backend revision and status class (2xx..5xx)."},
      {"skiff_gateway_request_duration_seconds", "histogram",
       "Time from request head to response end, by route and backend revision."},
      {"skiff_gateway_requests_in_flight", "gauge", "Requests being proxied now, by route."},
      {"skiff_gateway_upstream_connect_errors_total", "counter",
       "Failed connections to backends, by route."},
      {"skiff_gateway_tls_handshake_failures_total", "counter",
       "TLS handshakes that failed (an unknown name, a bad client)."},
  };
  return families;
}

}  // namespace

void labelRouteOwner(Labels& labels) {
  auto route = labels.find("route");
  if (route == labels.end()) return;
  const std::string& id = route->second;
  size_t a = id.find('/'), b = a == std::string::npos ? a : id.find('/', a + 1),
         c = b == std::string::npos ? b : id.find('/', b + 1);
  if (c == std::string::npos) return;
  labels["tenant"] = id.substr(0, a);
  labels["application"] = id.substr(a + 1, b - a - 1);
  labels["component"] = id.substr(b + 1, c - b - 1);
}

GatewayMetricSource::GatewayMetricSource(std::function<Result<std::string>()> scrape)
    : scrape_(std::move(scrape)) {}

std::vector<MetricFamily> GatewayMetricSource::families() const { return gatewayFamilies(); }

Status GatewayMetricSource::collect(std::vector<CollectedSample>& out) {
  auto text = scrape_();
  if (!text.ok()) return text.status();
  auto samples = parsePrometheusText(*text);
  if (!samples.ok()) return samples.status();
  static const std::set<std::string> kept = [] {
    std::set<std::string> names;
    for (const auto& f : gatewayFamilies()) {
      if (f.type != "histogram") {
        names.insert(f.name);
        continue;
      }
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(f.name + suffix);
    }
    return names;
  }();
  for (MetricSample& s : *samples) {
    if (!kept.count(s.name)) continue;
    labelRouteOwner(s.labels);
    out.push_back({std::move(s.name), std::move(s.labels), s.value});
  }
  return Status::ok();
}

}  // namespace skiff::observe
