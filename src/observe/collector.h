// MetricsCollector: every period, asks each MetricSource for its current values and appends
// them, stamped with one time, to the time-series store; compacts the store's tiers and writes
// its snapshot now and then. It also measures itself (cpu time spent collecting, how long a
// round took, which sources answered, the store's size), so the cost of observing is observed.
//
// Sources are added before start(); start() runs the rounds on a thread of the collector's
// own, stop() waits for a round in progress and writes a last snapshot. collectOnce() and
// families() are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "observe/metric_source.h"

namespace skiff::observe {

class TimeSeriesStore;

class MetricsCollector {
 public:
  struct Options {
    std::chrono::milliseconds period{10000};
    std::chrono::seconds snapshot_every{300};
  };

  MetricsCollector(TimeSeriesStore& series, const Clock& clock, Options options);
  ~MetricsCollector();

  void add(std::unique_ptr<MetricSource> source);
  // Called after each round's samples are stored (before start()): consumers that decide on
  // fresh measurements (the autoscaler) hear of them at once.
  void afterEachRound(std::function<void()> callback);
  void start();
  void stop();

  // One round now, stamped with the clock's time.
  void collectOnce();
  // Every family the sources and the collector itself produce.
  std::vector<MetricFamily> families() const;

 private:
  void run();

  // --- constant after construction (sources_: after start())
  TimeSeriesStore& series_;
  const Clock& clock_;
  const Options options_;
  std::vector<std::unique_ptr<MetricSource>> sources_;
  std::vector<std::function<void()>> after_round_;

  std::mutex round_mu_;  // one round at a time; guards what follows
  double cpu_seconds_ = 0;
  std::vector<std::string> failing_;  // sources whose last round failed, to log changes only
  std::chrono::steady_clock::time_point last_snapshot_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace skiff::observe
