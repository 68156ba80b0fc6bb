// Gateway metrics: per-route request counters by status code, a latency histogram, requests in
// flight and upstream connect errors; failed TLS handshakes. A route's requests are counted per
// revision of the backend that answered them (Backend::revision), so that a release can compare
// the new revision with the old; what the gateway answers itself has no revision.
//
// Each worker thread owns a ThreadMetrics and is its only writer, so counting a request is a few
// plain increments with no shared cache line. A scrape asks every worker (on its own event loop)
// for a copy, sums the copies with MetricsSnapshot::merge() and renders the Prometheus text.
// A route's counters live as long as something holds them: the worker's route table, or a
// request still running on an older one. The series of routes and revisions that left the
// table then end, so a gateway that lives through many releases does not keep them all.
// Nothing here is thread-safe; the hand-off between threads is the caller's (see ProxyWorker).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace skiff::gateway {

// Upper bounds in seconds of the latency histogram (+Inf is implicit).
inline constexpr std::array<double, 13> kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

struct RouteStats {
  // Responses by status code, ordered by code. A route sees a handful of codes, and a table of
  // thousands of routes has one RouteStats per route and worker: an array of every code would
  // be 4 KB each.
  std::vector<std::pair<int, uint64_t>> by_code;
  std::array<uint64_t, kLatencyBuckets.size() + 1> latency_buckets{};  // not cumulative
  double latency_sum_seconds = 0;
  uint64_t latency_count = 0;
  int64_t in_flight = 0;
  uint64_t proxied = 0;  // requests that went on to a backend (each counted in in_flight)
  uint64_t connect_errors = 0;

  void recordResponse(int status, double seconds);
  void merge(const RouteStats& other);
  uint64_t responses(int status) const;
  // Whether anything was ever counted. Unused routes get no series: a table of thousands of
  // routes, most of them idle, would otherwise be thousands of zero series in every scrape.
  bool used() const { return latency_count != 0 || proxied != 0 || connect_errors != 0; }
};

// Requests that matched no route are counted under this route id.
inline constexpr const char* kNoRoute = "_no_route";

// Whose requests a RouteStats counts: a route, and the revision of the backend that answered
// ("" for answers of the gateway's own and backends without a revision).
struct StatsKey {
  std::string route;
  std::string revision;
  auto operator<=>(const StatsKey&) const = default;
};

struct MetricsSnapshot {
  std::map<StatsKey, RouteStats> routes;
  uint64_t tls_handshake_failures = 0;
  void merge(const MetricsSnapshot& other);
  std::string renderPrometheus() const;
};

class ThreadMetrics {
 public:
  // The counters of a route (and revision): the ones already held, or new ones.
  std::shared_ptr<RouteStats> route(const std::string& id, const std::string& revision = "");
  // The counters still held.
  MetricsSnapshot snapshot() const;
  // Forgets the counters nothing holds any more.
  void prune();

  // Handshakes that failed, an unknown server name included (no route to count them under).
  uint64_t tls_handshake_failures = 0;

 private:
  std::map<StatsKey, std::weak_ptr<RouteStats>> routes_;
};

}  // namespace skiff::gateway
