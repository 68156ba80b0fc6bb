// Clock: where Skiff reads the time, so tests can inject it. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace skiff {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps users read (createdAt, lastTransitionTime).
  virtual std::chrono::system_clock::time_point now() const = 0;
  // Monotonic time, for timeouts, backoff and latency.
  virtual std::chrono::steady_clock::time_point monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  // The process-wide instance.
  static const SystemClock& instance();
};

// RFC 3339 in UTC with seconds, e.g. "2026-11-22T05:09:30Z".
std::string formatTimestamp(std::chrono::system_clock::time_point t);
// Inverse of formatTimestamp (fractions and offsets other than Z are rejected); false if malformed.
bool parseTimestamp(const std::string& text, std::chrono::system_clock::time_point* out);
// RFC 3339 in UTC with or without a fraction of a second, up to nanoseconds
// ("2026-11-22T05:09:30Z", "2026-11-22T05:09:30.123456789Z"); false if malformed.
bool parsePreciseTimestamp(const std::string& text, std::chrono::system_clock::time_point* out);

}  // namespace skiff
