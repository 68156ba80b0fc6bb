// CronSchedule: a five-field cron expression ("minute hour day-of-month month day-of-week"), the
// one cron grammar of Skiff — the model's "cron" format (model/formats.h) checks schedules with
// parse(), and the autoscaler and cron jobs compute firing times with next().
//
// Grammar, as Vixie cron and Kubernetes' CronJob read it:
//   - each field is '*', a number, a range "1-5", or either with a step ("*/15", "1-30/5",
//     "5/15" = "5-max/15"), or a comma-separated list of those;
//   - months may be named JAN-DEC and days of the week SUN-SAT, in any case; day-of-week 0 and
//     7 are both Sunday;
//   - the macros @hourly, @daily (= @midnight), @weekly, @monthly and @yearly (= @annually);
//   - when both day-of-month and day-of-week are restricted, a day matches if either does
//     ("0 0 1 * MON" fires on the 1st and on Mondays). A field is unrestricted when it is '*'
//     (or "*/1", or a list holding one); any other form, "*/2" included, restricts it.
//
// Times are matched in the local time of a TimeZone (common/time_zone.h), and around changes
// of the clocks a schedule follows the local clock face:
//   - a local time skipped by a gap (Berlin's 02:30 on 2026-03-29) does not fire that day;
//   - a local time repeated by a fold (New York's 01:30 on 2026-11-01) fires once, at its
//     first occurrence.
//
// A CronSchedule is an immutable value; all methods are const and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time_zone.h"

namespace skiff {

class CronSchedule {
 public:
  // How far next() looks before concluding that a schedule never fires: eight years, the
  // longest wait for a real date (February 29 across 2100, which is not a leap year).
  static constexpr int kSearchYears = 8;

  // The schedule `text` describes, or kInvalid with a message naming the field and what is
  // wrong, e.g. "the hour 25 is out of range 0-23" or
  // "expected 5 fields (minute hour day-of-month month day-of-week), found 4".
  static Result<CronSchedule> parse(std::string_view text);

  // The first firing time strictly after `after`, in `zone`'s local time. nullopt when the
  // schedule does not fire within kSearchYears of `after` (an impossible date such as
  // "0 0 30 2 *") or only past what system_clock can represent.
  std::optional<std::chrono::system_clock::time_point> next(
      std::chrono::system_clock::time_point after, const TimeZone& zone) const;

  // Whether a window of length `window` opened by a firing is open at `t`: some firing time f
  // has f <= t < f + window. Never for a window of zero or less; a window longer than
  // kSearchYears counts as that long.
  bool activeAt(std::chrono::system_clock::time_point t, const TimeZone& zone,
                std::chrono::seconds window) const;
  // The text parse() was given.
  const std::string& text() const { return text_; }

 private:
  CronSchedule() = default;
  bool matchesDay(const CivilTime& day) const;

  // Bit n set: value n matches.
  std::string text_;
  uint64_t minutes_ = 0;   // 0-59
  uint64_t hours_ = 0;     // 0-23
  uint64_t days_ = 0;      // 1-31
  uint64_t months_ = 0;    // 1-12
  uint64_t weekdays_ = 0;  // 0-6, 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace skiff
