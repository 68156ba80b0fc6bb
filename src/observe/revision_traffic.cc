#include "observe/revision_traffic.h"

#include <cmath>

#include <spdlog/spdlog.h>

#include "observe/prometheus_text.h"

namespace skiff::observe {
namespace {

// Interest in a prefix lapses after this long without a question; history goes back this far.
constexpr std::chrono::seconds kInterest{60};
constexpr std::chrono::minutes kRetention{10};

// What `later` adds to `earlier`. A counter that went down was reset (the gateway restarted):
// all of it is new.
uint64_t delta(uint64_t later, uint64_t earlier) {
  return later >= earlier ? later - earlier : later;
}

}  // namespace

double histogramQuantile(double q, const std::map<double, uint64_t>& cumulative) {
  if (cumulative.empty()) return 0;
  const uint64_t total = cumulative.rbegin()->second;
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  double lower = 0;
  uint64_t below = 0;
  for (const auto& [bound, count] : cumulative) {
    if (static_cast<double>(count) >= rank) {
      // The +Inf bucket has no upper bound to interpolate to: its lower bound is the answer.
      if (std::isinf(bound)) return lower;
      const uint64_t in_bucket = count - below;
      if (in_bucket == 0) return bound;
      return lower + (bound - lower) * (rank - static_cast<double>(below)) / in_bucket;
    }
    lower = bound;
    below = count;
  }
  return lower;
}

GatewayTrafficRecorder::GatewayTrafficRecorder(std::function<Result<std::string>()> scrape,
                                               std::chrono::milliseconds period)
    : scrape_(std::move(scrape)), period_(period) {}

GatewayTrafficRecorder::~GatewayTrafficRecorder() { stop(); }

void GatewayTrafficRecorder::start() {
  thread_ = std::thread([this] { run(); });
}

void GatewayTrafficRecorder::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GatewayTrafficRecorder::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = Clock::now();
    std::erase_if(asked_, [&](const auto& a) { return now - a.second > kInterest; });
    if (asked_.empty()) {
      history_.clear();
      wake_.wait(lock, [&] { return stopping_ || !asked_.empty(); });
      continue;
    }
    lock.unlock();
    scrapeOnce();
    lock.lock();
    wake_.wait_for(lock, period_, [&] { return stopping_; });
  }
}

void GatewayTrafficRecorder::scrapeOnce() {
  std::vector<std::string> prefixes;
  {
    std::lock_guard lock(mu_);
    for (const auto& [prefix, at] : asked_) prefixes.push_back(prefix);
  }
  auto interesting = [&](const std::string& route) {
    for (const auto& p : prefixes)
      if (route.compare(0, p.size(), p) == 0) return true;
    return false;
  };
  auto text = scrape_();
  if (!text.ok()) {
    spdlog::warn("release analysis cannot read the gateway's metrics: {}", text.status().message());
    return;
  }
  auto samples = parsePrometheusText(*text);
  if (!samples.ok()) {
    spdlog::warn("release analysis cannot read the gateway's metrics: {}",
                 samples.status().message());
    return;
  }
  Snapshot snapshot{Clock::now(), {}};
  for (const MetricSample& s : *samples) {
    auto route = s.labels.find("route");
    if (route == s.labels.end() || !interesting(route->second)) continue;
    auto revision = s.labels.find("revision");
    Counters& c =
        snapshot.series[{route->second, revision == s.labels.end() ? "" : revision->second}];
    const auto count = static_cast<uint64_t>(std::llround(s.value));
    if (s.name == "skiff_gateway_responses_total") {
      c.requests += count;
      auto cls = s.labels.find("class");
      if (cls != s.labels.end() && cls->second == "5xx") c.errors += count;
    } else if (s.name == "skiff_gateway_request_duration_seconds_bucket") {
      auto le = s.labels.find("le");
      if (le == s.labels.end()) continue;
      c.latency[le->second == "+Inf" ? INFINITY : std::atof(le->second.c_str())] = count;
    }
  }
  std::lock_guard lock(mu_);
  history_.push_back(std::move(snapshot));
  while (!history_.empty() && history_.back().at - history_.front().at > kRetention)
    history_.pop_front();
}

RevisionComparison GatewayTrafficRecorder::compare(const std::string& route_prefix,
                                                   const std::string& revision,
                                                   std::chrono::seconds span) {
  std::lock_guard lock(mu_);
  const bool new_interest = !asked_.contains(route_prefix);
  asked_[route_prefix] = Clock::now();
  if (new_interest) wake_.notify_all();
  RevisionComparison out;
  if (history_.size() < 2) return out;
  const Snapshot& latest = history_.back();
  // The oldest snapshot inside the span; the window is what happened since.
  const Snapshot* base = &history_.back();
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (latest.at - it->at > span) break;
    base = &*it;
  }
  out.span = std::chrono::duration_cast<std::chrono::seconds>(latest.at - base->at);
  for (const auto& [series, now] : latest.series) {
    if (series.first.compare(0, route_prefix.size(), route_prefix) != 0) continue;
    TrafficWindow& w = series.second == revision ? out.revision : out.others;
    auto then = base->series.find(series);
    const Counters empty;
    const Counters& before = then == base->series.end() ? empty : then->second;
    w.requests += delta(now.requests, before.requests);
    w.errors += delta(now.errors, before.errors);
    for (const auto& [bound, count] : now.latency) {
      auto b = before.latency.find(bound);
      w.latency[bound] += delta(count, b == before.latency.end() ? 0 : b->second);
    }
  }
  out.revision.p99_seconds = histogramQuantile(0.99, out.revision.latency);
  out.others.p99_seconds = histogramQuantile(0.99, out.others.latency);
  return out;
}

}  // namespace skiff::observe
