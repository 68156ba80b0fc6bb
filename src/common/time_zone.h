// TimeZone: an IANA time zone ("Europe/Berlin", "America/New_York", "UTC") read from the
// system's compiled TZif files (RFC 8536) in /usr/share/zoneinfo, for the code that acts at a
// local time of day (cron schedules, common/cron.h).
//
// A zone is its table of transitions (from the 64-bit data of a version 2+ file) plus the POSIX
// TZ rule in the file's footer, which gives the offsets after the last transition: Debian may
// build tzdata "slim", without explicit transitions past the current rules, so instants from
// today on can depend on the footer alone. Leap-second ("right/") zones are refused.
//
// Local (civil) times are proleptic Gregorian, computed with std::chrono's calendar arithmetic
// rather than TZ/localtime_r, which read process-wide state. A TimeZone is immutable after
// load(): copies share the parsed tables, and every method is const and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff {

// A broken-down local date and time of day, without a zone.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
  int hour = 0;
  int minute = 0;
  int second = 0;

  // 0 = Sunday ... 6 = Saturday.
  int weekday() const;
  auto operator<=>(const CivilTime&) const = default;
};

class TimeZone {
 public:
  // Where load() looks for zones.
  static constexpr const char* kZoneDirectory = "/usr/share/zoneinfo";

  // The zone named `name`, from kZoneDirectory. Names are IANA names: letters, digits and
  // "/_+-", no "..", not absolute. Errors (kInvalid) say which rule a name broke or that no such
  // zone is installed; a file that is not valid TZif is kInternal. "UTC" and "Etc/UTC" always
  // load, even without tzdata.
  static Result<TimeZone> load(const std::string& name);
  // A zone from the contents of a TZif file; `name` is only for name() and messages.
  static Result<TimeZone> fromTzif(std::string name, std::string_view data);
  // Coordinated Universal Time, built in.
  static TimeZone utc();

  const std::string& name() const;

  // The offset from UTC (local - UTC) in force at `t`.
  std::chrono::seconds utcOffset(std::chrono::system_clock::time_point t) const;
  // Whether daylight-saving time is in force at `t`, per the zone's data.
  bool isDst(std::chrono::system_clock::time_point t) const;
  // The local time at `t` (fractions of a second dropped).
  CivilTime toLocal(std::chrono::system_clock::time_point t) const;

  // Every instant whose local time is `civil`, earliest first: none when `civil` falls in a gap
  // (clocks jumped over it), two when it falls in a fold (clocks went back over it), else one.
  // Fields out of range are normalised first (month 13 is January of the next year, minute -1
  // the previous minute, ...).
  std::vector<std::chrono::system_clock::time_point> instantsOf(const CivilTime& civil) const;
  // The instant of `civil`, choosing in a fold the earlier instant (the first time the clocks
  // show it) and in a gap the instant the gap ends (Berlin's 2026-03-29 02:30 gives 03:00 CEST,
  // 01:00 UTC: the first instant after the skipped hour).
  std::chrono::system_clock::time_point fromLocal(const CivilTime& civil) const;

  struct Data;  // the parsed tables, defined in time_zone.cc

 private:
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

  // Constant after construction; shared between copies.
  std::shared_ptr<const Data> data_;
};

}  // namespace skiff
