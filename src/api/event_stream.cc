#include "api/http.h"

namespace skiff {

bool EventStream::push(std::string chunk) {
  std::function<void()> wake;
  bool accepted;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    accepted = queued_bytes_ + chunk.size() <= max_queued_bytes_;
    if (accepted) {
      queued_bytes_ += chunk.size();
      queue_.push_back(std::move(chunk));
    } else {
      closed_ = true;
    }
    wake = waker_;
  }
  if (wake) wake();
  return accepted;
}

void EventStream::close() {
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    wake = waker_;
  }
  if (wake) wake();
}

std::vector<std::string> EventStream::take(bool* closed) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.swap(queue_);
  queued_bytes_ = 0;
  *closed = closed_;
  return out;
}

void EventStream::setWaker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  waker_ = std::move(waker);
}

}  // namespace skiff
