#include "alert/delivery.h"

namespace skiff::alert {

DeliveryOutcome deliverWithRetry(const std::function<AttemptResult()>& attempt,
                                 const RetryPolicy& policy, const Sleeper& sleep) {
  DeliveryOutcome outcome;
  std::chrono::milliseconds backoff = policy.first_backoff;
  for (int i = 1; i <= std::max(1, policy.attempts); ++i) {
    if (i > 1) {
      if (!sleep(backoff)) {
        outcome.error += " (gave up: shutting down)";
        return outcome;
      }
      backoff *= 2;
    }
    const AttemptResult r = attempt();
    outcome.attempts = i;
    outcome.ok = r.ok;
    outcome.code = r.code;
    outcome.error = r.error;
    if (r.ok || !r.retryable) return outcome;
  }
  return outcome;
}

AttemptResult httpAttempt(const HttpSend& send, const net::ClientRequest& request) {
  AttemptResult r;
  auto answer = send(request);
  if (!answer.ok()) {
    r.retryable = answer.status().code() == StatusCode::kUnavailable;
    r.error = answer.status().message();
    return r;
  }
  r.code = answer->status;
  r.ok = r.code >= 200 && r.code < 300;
  r.retryable = r.code >= 500 || r.code == 408 || r.code == 429;
  if (!r.ok) {
    std::string body = answer->body.substr(0, 200);
    r.error = "HTTP " + std::to_string(r.code) + (body.empty() ? "" : ": " + body);
  }
  return r;
}

DeliveryQueue::DeliveryQueue(int workers) : workers_(std::max(1, workers)) {}

DeliveryQueue::~DeliveryQueue() { stop(); }

void DeliveryQueue::start() {
  std::lock_guard lock(mu_);
  if (!threads_.empty() || stopping_) return;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { work(); });
}

void DeliveryQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [lane, jobs] : lanes_) jobs.clear();
    ready_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

bool DeliveryQueue::push(const std::string& lane, std::function<void(const Sleeper&)> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    auto& jobs = lanes_[lane];
    jobs.push_back(std::move(job));
    if (jobs.size() == 1 && busy_.count(lane) == 0) ready_.push_back(lane);
  }
  wake_.notify_all();
  return true;
}

size_t DeliveryQueue::pending() const {
  std::lock_guard lock(mu_);
  size_t n = running_;
  for (const auto& [lane, jobs] : lanes_) n += jobs.size();
  return n;
}

bool DeliveryQueue::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void DeliveryQueue::work() {
  const Sleeper sleeper = [this](std::chrono::milliseconds d) { return sleepFor(d); };
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    const std::string lane = ready_.front();
    ready_.pop_front();
    auto& jobs = lanes_[lane];
    if (jobs.empty()) continue;
    auto job = std::move(jobs.front());
    jobs.pop_front();
    busy_.insert(lane);
    ++running_;
    lock.unlock();
    job(sleeper);
    lock.lock();
    --running_;
    busy_.erase(lane);
    auto it = lanes_.find(lane);
    if (it != lanes_.end() && !it->second.empty())
      ready_.push_back(lane);
    else if (it != lanes_.end())
      lanes_.erase(it);
  }
}

}  // namespace skiff::alert
