#include "observe/collector.h"

#include <time.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "observe/tsdb.h"

namespace skiff::observe {

namespace {

double threadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

const std::vector<MetricFamily>& ownFamilies() {
  static const std::vector<MetricFamily> families = {
      {"skiff_metrics_collect_cpu_seconds_total", "counter",
       "Cpu time the collector spent reading sources and storing their samples."},
      {"skiff_metrics_collect_duration_seconds", "gauge", "How long the last round took."},
      {"skiff_metrics_source_up", "gauge",
       "Whether a source answered in the last round (1) or not."},
      {"skiff_tsdb_series", "gauge", "Series kept in the time-series store."},
      {"skiff_tsdb_samples", "gauge", "Samples kept in the time-series store, over both tiers."},
      {"skiff_tsdb_bytes", "gauge", "Memory the time-series store holds, chunks and index."},
      {"skiff_tsdb_dropped_chunks_total", "counter",
       "Chunks dropped before their retention to keep the store within its memory bound."},
      {"skiff_tsdb_refused_series_total", "counter",
       "New series refused because the store held its maximum number of series."},
  };
  return families;
}

}  // namespace

MetricsCollector::MetricsCollector(TimeSeriesStore& series, const Clock& clock, Options options)
    : series_(series), clock_(clock), options_(options), last_snapshot_(clock.monotonic()) {}

MetricsCollector::~MetricsCollector() { stop(); }

void MetricsCollector::add(std::unique_ptr<MetricSource> source) {
  sources_.push_back(std::move(source));
}

void MetricsCollector::afterEachRound(std::function<void()> callback) {
  after_round_.push_back(std::move(callback));
}

std::vector<MetricFamily> MetricsCollector::families() const {
  std::vector<MetricFamily> out = ownFamilies();
  for (const auto& source : sources_) {
    auto more = source->families();
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

void MetricsCollector::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void MetricsCollector::stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (Status s = series_.snapshot(); !s.isOk())
    spdlog::warn("metrics: cannot write the snapshot: {}", s.toString());
}

void MetricsCollector::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    collectOnce();
    lock.lock();
    wake_.wait_for(lock, options_.period, [this] { return stopping_; });
  }
}

void MetricsCollector::collectOnce() {
  std::lock_guard round(round_mu_);
  const double cpu_before = threadCpuSeconds();
  const auto started = clock_.monotonic();
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
          .count();
  std::vector<CollectedSample> samples;
  std::vector<std::string> failing;
  for (const auto& source : sources_) {
    Status s = source->collect(samples);
    const bool up = s.isOk();
    samples.push_back({"skiff_metrics_source_up", {{"source", source->name()}}, up ? 1.0 : 0.0});
    if (up) continue;
    failing.push_back(source->name());
    // Logged when a source starts failing, not every period while it does.
    if (std::find(failing_.begin(), failing_.end(), source->name()) == failing_.end())
      spdlog::warn("metrics: source {} failed: {}", source->name(), s.toString());
  }
  failing_ = std::move(failing);

  std::vector<std::tuple<std::string, Labels, double>> batch;
  batch.reserve(samples.size() + 8);
  for (auto& s : samples) batch.emplace_back(std::move(s.name), std::move(s.labels), s.value);
  series_.appendBatch(batch, now_ms);
  series_.compact(now_ms);

  const TsdbStats stats = series_.stats();
  const double elapsed = std::chrono::duration<double>(clock_.monotonic() - started).count();
  cpu_seconds_ += threadCpuSeconds() - cpu_before;
  series_.appendBatch(
      {{"skiff_metrics_collect_cpu_seconds_total", {}, cpu_seconds_},
       {"skiff_metrics_collect_duration_seconds", {}, elapsed},
       {"skiff_tsdb_series", {}, static_cast<double>(stats.series)},
       {"skiff_tsdb_samples", {}, static_cast<double>(stats.samples)},
       {"skiff_tsdb_bytes", {}, static_cast<double>(stats.bytes)},
       {"skiff_tsdb_dropped_chunks_total", {}, static_cast<double>(stats.dropped_chunks)},
       {"skiff_tsdb_refused_series_total", {}, static_cast<double>(stats.refused_series)}},
      now_ms);

  for (const auto& callback : after_round_) callback();

  if (clock_.monotonic() - last_snapshot_ >= options_.snapshot_every) {
    last_snapshot_ = clock_.monotonic();
    if (Status s = series_.snapshot(); !s.isOk())
      spdlog::warn("metrics: cannot write the snapshot: {}", s.toString());
  }
}

}  // namespace skiff::observe
