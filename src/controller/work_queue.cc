#include "controller/work_queue.h"

#include <algorithm>

namespace skiff {

WorkQueue::WorkQueue(Duration base_backoff, Duration max_backoff)
    : base_backoff_(base_backoff),
      max_backoff_(max_backoff),
      delay_thread_([this] { delayLoop(); }) {}

WorkQueue::~WorkQueue() {
  shutDown();
  delay_thread_.join();
}

void WorkQueue::add(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  if (shut_down_ || !dirty_.insert(key).second) return;
  if (processing_.count(key) != 0) return;  // done() queues it again
  queue_.push_back(key);
  ready_cv_.notify_one();
}

void WorkQueue::addAfter(const ObjectKey& key, Duration delay) {
  if (delay <= Duration::zero()) return add(key);
  std::lock_guard lock(mu_);
  if (shut_down_) return;
  delayed_.emplace(std::chrono::steady_clock::now() + delay, key);
  delay_cv_.notify_one();
}

void WorkQueue::addRateLimited(const ObjectKey& key) {
  Duration delay;
  {
    std::lock_guard lock(mu_);
    int n = failures_[key]++;
    delay = base_backoff_ * (int64_t{1} << std::min(n, 30));
    if (delay > max_backoff_ || delay <= Duration::zero()) delay = max_backoff_;
  }
  addAfter(key, delay);
}

void WorkQueue::forget(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

std::optional<ObjectKey> WorkQueue::get() {
  std::unique_lock lock(mu_);
  ready_cv_.wait(lock, [this] { return shut_down_ || !queue_.empty(); });
  if (shut_down_) return std::nullopt;
  ObjectKey key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

void WorkQueue::done(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) != 0 && !shut_down_) {
    queue_.push_back(key);
    ready_cv_.notify_one();
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  ready_cv_.notify_all();
  delay_cv_.notify_all();
}

size_t WorkQueue::length() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WorkQueue::delayLoop() {
  std::unique_lock lock(mu_);
  while (!shut_down_) {
    if (delayed_.empty()) {
      delay_cv_.wait(lock);
      continue;
    }
    auto first = delayed_.begin();
    if (first->first > std::chrono::steady_clock::now()) {
      delay_cv_.wait_until(lock, first->first);
      continue;
    }
    ObjectKey key = first->second;
    delayed_.erase(first);
    if (dirty_.insert(key).second && processing_.count(key) == 0) {
      queue_.push_back(std::move(key));
      ready_cv_.notify_one();
    }
  }
}

}  // namespace skiff
