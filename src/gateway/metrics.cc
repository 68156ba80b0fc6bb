#include "gateway/metrics.h"

#include <algorithm>
#include <cstdio>

namespace skiff::gateway {
namespace {

// Label values are route ids chosen by the control plane; escape what the text format needs.
std::string escapeLabel(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// The labels that name a series' route and revision: route="...",revision="..." (no revision
// label when there is none).
std::string routeLabels(const StatsKey& key) {
  std::string out = "route=\"" + escapeLabel(key.route) + "\"";
  if (!key.revision.empty()) out += ",revision=\"" + escapeLabel(key.revision) + "\"";
  return out;
}

std::string formatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Adds `n` responses of `status` to counts ordered by code.
void addResponses(std::vector<std::pair<int, uint64_t>>& by_code, int status, uint64_t n) {
  auto it = std::lower_bound(by_code.begin(), by_code.end(), status,
                             [](const auto& entry, int code) { return entry.first < code; });
  if (it != by_code.end() && it->first == status)
    it->second += n;
  else
    by_code.insert(it, {status, n});
}

}  // namespace

void RouteStats::recordResponse(int status, double seconds) {
  if (status >= 100 && status < 600) addResponses(by_code, status, 1);
  size_t b = 0;
  while (b < kLatencyBuckets.size() && seconds > kLatencyBuckets[b]) ++b;
  ++latency_buckets[b];
  latency_sum_seconds += seconds;
  ++latency_count;
}

void RouteStats::merge(const RouteStats& other) {
  for (const auto& [code, n] : other.by_code) addResponses(by_code, code, n);
  for (size_t i = 0; i < latency_buckets.size(); ++i)
    latency_buckets[i] += other.latency_buckets[i];
  latency_sum_seconds += other.latency_sum_seconds;
  latency_count += other.latency_count;
  in_flight += other.in_flight;
  proxied += other.proxied;
  connect_errors += other.connect_errors;
}

uint64_t RouteStats::responses(int status) const {
  for (const auto& [code, n] : by_code)
    if (code == status) return n;
  return 0;
}

void MetricsSnapshot::merge(const MetricsSnapshot& other) {
  for (const auto& [id, stats] : other.routes) routes[id].merge(stats);
  tls_handshake_failures += other.tls_handshake_failures;
}

std::string MetricsSnapshot::renderPrometheus() const {
  std::string out;
  out += "# HELP skiff_gateway_requests_total Requests answered, by route and status code.\n";
  out += "# TYPE skiff_gateway_requests_total counter\n";
  for (const auto& [key, s] : routes) {
    const std::string labels = routeLabels(key);
    for (const auto& [code, n] : s.by_code)
      out += "skiff_gateway_requests_total{" + labels + ",code=\"" + std::to_string(code) +
             "\",class=\"" + std::to_string(code / 100) + "xx\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP skiff_gateway_responses_total Requests answered, by route and status class.\n";
  out += "# TYPE skiff_gateway_responses_total counter\n";
  for (const auto& [key, s] : routes) {
    uint64_t classes[6] = {};
    for (const auto& [code, n] : s.by_code) classes[code / 100] += n;
    for (int c = 1; c <= 5; ++c) {
      if (classes[c] == 0) continue;
      out += "skiff_gateway_responses_total{" + routeLabels(key) + ",class=\"" + std::to_string(c) +
             "xx\"} " + std::to_string(classes[c]) + "\n";
    }
  }
  out += "# HELP skiff_gateway_request_duration_seconds Time from request head to response end.\n";
  out += "# TYPE skiff_gateway_request_duration_seconds histogram\n";
  for (const auto& [key, s] : routes) {
    if (s.latency_count == 0) continue;
    const std::string labels = routeLabels(key);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < s.latency_buckets.size(); ++b) {
      cumulative += s.latency_buckets[b];
      std::string le = b < kLatencyBuckets.size() ? formatDouble(kLatencyBuckets[b]) : "+Inf";
      out += "skiff_gateway_request_duration_seconds_bucket{" + labels + ",le=\"" + le + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "skiff_gateway_request_duration_seconds_sum{" + labels + "} " +
           formatDouble(s.latency_sum_seconds) + "\n";
    out += "skiff_gateway_request_duration_seconds_count{" + labels + "} " +
           std::to_string(s.latency_count) + "\n";
  }
  out += "# HELP skiff_gateway_requests_in_flight Requests being proxied now.\n";
  out += "# TYPE skiff_gateway_requests_in_flight gauge\n";
  for (const auto& [key, s] : routes)
    // Counted per route: a request is in flight before its backend.
    if (key.revision.empty() && s.used())
      out += "skiff_gateway_requests_in_flight{" + routeLabels(key) + "} " +
             std::to_string(s.in_flight) + "\n";
  out += "# HELP skiff_gateway_upstream_connect_errors_total Failed connections to backends.\n";
  out += "# TYPE skiff_gateway_upstream_connect_errors_total counter\n";
  for (const auto& [key, s] : routes)
    if (s.used())
      out += "skiff_gateway_upstream_connect_errors_total{" + routeLabels(key) + "} " +
             std::to_string(s.connect_errors) + "\n";
  out +=
      "# HELP skiff_gateway_tls_handshake_failures_total TLS handshakes that failed (an unknown "
      "server name included).\n";
  out += "# TYPE skiff_gateway_tls_handshake_failures_total counter\n";
  out +=
      "skiff_gateway_tls_handshake_failures_total " + std::to_string(tls_handshake_failures) + "\n";
  return out;
}

std::shared_ptr<RouteStats> ThreadMetrics::route(const std::string& id,
                                                 const std::string& revision) {
  std::weak_ptr<RouteStats>& slot = routes_[StatsKey{id, revision}];
  std::shared_ptr<RouteStats> stats = slot.lock();
  if (!stats) {
    stats = std::make_shared<RouteStats>();
    slot = stats;
  }
  return stats;
}

MetricsSnapshot ThreadMetrics::snapshot() const {
  MetricsSnapshot snap;
  for (const auto& [id, slot] : routes_)
    if (auto stats = slot.lock()) snap.routes[id] = *stats;
  snap.tls_handshake_failures = tls_handshake_failures;
  return snap;
}

void ThreadMetrics::prune() {
  std::erase_if(routes_, [](const auto& e) { return e.second.expired(); });
}

}  // namespace skiff::gateway
