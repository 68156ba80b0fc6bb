// RevisionTraffic: what a release's analysis asks of the gateway's measurements — over a recent
// window, how many requests the backends of one revision answered, how many failed, and how
// slowly, beside the same figures for the route's other backends.
//
// GatewayTrafficRecorder implements it by scraping the gateway's /metrics (the Prometheus text
// format, counted per route and backend revision; docs/gateway.md) once a second. It scrapes
// only while somebody asked in the last minute and keeps history only for the routes asked
// about, so a platform with no release in flight pays nothing. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace skiff::observe {

struct TrafficWindow {
  uint64_t requests = 0;
  uint64_t errors = 0;     // 5xx answers (502/504 for backends that failed included)
  double p99_seconds = 0;  // from the latency histogram; 0 without requests
  // Cumulative request counts per latency bucket upper bound (seconds; +Inf last).
  std::map<double, uint64_t> latency;
  double errorRate() const { return requests == 0 ? 0 : static_cast<double>(errors) / requests; }
};

struct RevisionComparison {
  TrafficWindow revision;        // answered by backends of the revision asked about
  TrafficWindow others;          // answered by the route's other backends
  std::chrono::seconds span{0};  // how much time the figures cover (less than asked, early on)
};

class RevisionTraffic {
 public:
  virtual ~RevisionTraffic() = default;
  // The requests of the routes whose id starts with `route_prefix` over the last `span`.
  virtual RevisionComparison compare(const std::string& route_prefix, const std::string& revision,
                                     std::chrono::seconds span) = 0;
};

// The p99 of a cumulative latency histogram (bucket upper bound -> count), interpolated within
// its bucket as Prometheus' histogram_quantile() does; 0 for an empty one.
double histogramQuantile(double q, const std::map<double, uint64_t>& cumulative);

class GatewayTrafficRecorder final : public RevisionTraffic {
 public:
  // `scrape` returns the gateway's /metrics text. `period` is the time between scrapes.
  explicit GatewayTrafficRecorder(std::function<Result<std::string>()> scrape,
                                  std::chrono::milliseconds period = std::chrono::seconds(1));
  ~GatewayTrafficRecorder() override;

  void start();
  void stop();  // waits for a scrape in progress

  RevisionComparison compare(const std::string& route_prefix, const std::string& revision,
                             std::chrono::seconds span) override;

 private:
  using Clock = std::chrono::steady_clock;
  // A series: one route, answered by one backend revision ("" the gateway's own answers).
  using Series = std::pair<std::string, std::string>;
  struct Counters {
    uint64_t requests = 0, errors = 0;
    std::map<double, uint64_t> latency;  // cumulative, as scraped
  };
  struct Snapshot {
    Clock::time_point at;
    std::map<Series, Counters> series;
  };

  void run();
  void scrapeOnce();

  // --- constant after construction
  const std::function<Result<std::string>()> scrape_;
  const std::chrono::milliseconds period_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                           // guarded by mu_
  std::map<std::string, Clock::time_point> asked_;  // route prefix -> last asked; guarded by mu_
  std::deque<Snapshot> history_;                    // oldest first; guarded by mu_
  std::thread thread_;
};

}  // namespace skiff::observe
