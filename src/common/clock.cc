#include "common/clock.h"

#include <ctime>

namespace skiff {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

std::string formatTimestamp(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool parseTimestamp(const std::string& text, std::chrono::system_clock::time_point* out) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') return false;
  *out = std::chrono::system_clock::from_time_t(timegm(&tm));
  return true;
}

bool parsePreciseTimestamp(const std::string& text, std::chrono::system_clock::time_point* out) {
  if (parseTimestamp(text, out)) return true;
  const size_t dot = text.find('.');
  if (dot == std::string::npos || text.empty() || text.back() != 'Z') return false;
  const std::string digits = text.substr(dot + 1, text.size() - dot - 2);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  if (!parseTimestamp(text.substr(0, dot) + "Z", out)) return false;
  int64_t nanos = std::stoll(digits);
  for (size_t i = digits.size(); i < 9; ++i) nanos *= 10;
  *out += std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(nanos));
  return true;
}

}  // namespace skiff
