// ManualClock: a Clock for unit tests that moves only when told to, wall and monotonic time
// together. Thread-safe, since the code under test may read it from its own threads.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "common/assert.h"
#include "common/clock.h"

namespace skiff::testing {

class ManualClock final : public Clock {
 public:
  // Starts at `rfc3339` (e.g. "2026-01-01T00:00:00Z").
  explicit ManualClock(const std::string& rfc3339 = "2026-01-01T00:00:00Z") {
    SKIFF_ASSERT(parseTimestamp(rfc3339, &now_), "ManualClock needs an RFC 3339 time");
  }
  std::chrono::system_clock::time_point now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point monotonic() const override {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void advance(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point now_;
};

}  // namespace skiff::testing
