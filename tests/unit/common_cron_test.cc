#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/cron.h"
#include "common/time_zone.h"

namespace skiff {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

TimePoint at(const std::string& rfc3339) {
  TimePoint t;
  EXPECT_TRUE(parseTimestamp(rfc3339, &t)) << rfc3339;
  return t;
}

std::string show(const std::optional<TimePoint>& t) {
  return t ? formatTimestamp(*t) : std::string("never");
}

TimeZone zone(const std::string& name) {
  auto z = TimeZone::load(name);
  EXPECT_TRUE(z.ok()) << z.status().toString();
  return z.ok() ? *z : TimeZone::utc();
}

CronSchedule cron(const std::string& text) {
  auto c = CronSchedule::parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status().toString();
  return c.ok() ? *c : *CronSchedule::parse("* * * * *");
}

std::string cronError(const std::string& text) {
  auto c = CronSchedule::parse(text);
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalid);
  return c.status().message();
}

// The next firing after `after` (RFC 3339), in UTC unless a zone is given.
std::string next(const std::string& schedule, const std::string& after,
                 const TimeZone& z = TimeZone::utc()) {
  return show(cron(schedule).next(at(after), z));
}

// A TZif version 2 file: a minimal version 1 block, then the 64-bit data and the footer.
std::string tzif(const std::vector<int64_t>& times, const std::vector<uint8_t>& type_of,
                 const std::vector<std::pair<int32_t, bool>>& types, const std::string& footer) {
  auto be = [](std::string& out, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  auto header = [&](std::string& out, uint32_t timecnt, uint32_t typecnt) {
    out += "TZif2";
    out += std::string(15, '\0');
    for (uint32_t count : {0u, 0u, 0u, timecnt, typecnt, 1u}) be(out, count, 4);
  };
  std::string out;
  header(out, 0, 1);
  be(out, 0, 4);  // one ttinfo: UTC, no DST, abbreviation 0
  out += std::string(2, '\0');
  out += '\0';  // the abbreviations: ""
  header(out, static_cast<uint32_t>(times.size()), static_cast<uint32_t>(types.size()));
  for (int64_t t : times) be(out, static_cast<uint64_t>(t), 8);
  for (uint8_t i : type_of) out += static_cast<char>(i);
  for (const auto& [offset, dst] : types) {
    be(out, static_cast<uint32_t>(offset), 4);
    out += static_cast<char>(dst ? 1 : 0);
    out += '\0';
  }
  out += '\0';
  return out + "\n" + footer + "\n";
}

TimeZone footerZone(const std::string& footer) {
  auto z = TimeZone::fromTzif("Test/" + footer, tzif({}, {}, {{0, false}}, footer));
  EXPECT_TRUE(z.ok()) << z.status().toString();
  return z.ok() ? *z : TimeZone::utc();
}

int64_t offsetAt(const TimeZone& z, const std::string& t) { return z.utcOffset(at(t)).count(); }

// --- TimeZone ---------------------------------------------------------------------------------

TEST(TimeZoneTest, Utc) {
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(utc.name(), "UTC");
  EXPECT_EQ(offsetAt(utc, "2026-07-01T12:00:00Z"), 0);
  EXPECT_EQ(utc.toLocal(at("2026-02-28T23:59:59Z")), (CivilTime{2026, 2, 28, 23, 59, 59}));
  EXPECT_EQ(utc.fromLocal({2026, 2, 28, 23, 59, 59}), at("2026-02-28T23:59:59Z"));
  EXPECT_EQ(offsetAt(zone("UTC"), "2040-07-01T00:00:00Z"), 0);
  EXPECT_EQ(offsetAt(zone("Etc/UTC"), "1950-07-01T00:00:00Z"), 0);
}

TEST(TimeZoneTest, BerlinAroundTransitions) {
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(offsetAt(berlin, "2026-01-15T12:00:00Z"), 3600);
  EXPECT_EQ(offsetAt(berlin, "2026-07-15T12:00:00Z"), 7200);
  // Spring forward: 2026-03-29 01:00 UTC, 02:00 CET becomes 03:00 CEST.
  EXPECT_EQ(offsetAt(berlin, "2026-03-29T00:59:59Z"), 3600);
  EXPECT_EQ(offsetAt(berlin, "2026-03-29T01:00:00Z"), 7200);
  EXPECT_FALSE(berlin.isDst(at("2026-03-29T00:59:59Z")));
  EXPECT_TRUE(berlin.isDst(at("2026-03-29T01:00:00Z")));
  // Fall back: 2026-10-25 01:00 UTC, 03:00 CEST becomes 02:00 CET.
  EXPECT_EQ(offsetAt(berlin, "2026-10-25T00:59:59Z"), 7200);
  EXPECT_EQ(offsetAt(berlin, "2026-10-25T01:00:00Z"), 3600);
  EXPECT_EQ(berlin.toLocal(at("2026-03-29T01:00:00Z")), (CivilTime{2026, 3, 29, 3, 0, 0}));
  // Berlin in 1945 had double summer time (UTC+3).
  EXPECT_EQ(offsetAt(berlin, "1945-06-15T12:00:00Z"), 10800);
}

TEST(TimeZoneTest, FarFutureFollowsTheFooterRule) {
  // Past 2037 even a "fat" file has no transitions: the footer's rule decides.
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(offsetAt(berlin, "2040-03-25T00:59:59Z"), 3600);  // last Sunday of March
  EXPECT_EQ(offsetAt(berlin, "2040-03-25T01:00:00Z"), 7200);
  EXPECT_EQ(offsetAt(berlin, "2040-10-28T00:59:59Z"), 7200);  // last Sunday of October
  EXPECT_EQ(offsetAt(berlin, "2040-10-28T01:00:00Z"), 3600);
  EXPECT_EQ(offsetAt(berlin, "2040-12-31T23:00:00Z"), 3600);
  const TimeZone new_york = zone("America/New_York");
  EXPECT_EQ(offsetAt(new_york, "2040-03-11T06:59:59Z"), -5 * 3600);  // second Sunday of March
  EXPECT_EQ(offsetAt(new_york, "2040-03-11T07:00:00Z"), -4 * 3600);
  EXPECT_EQ(offsetAt(new_york, "2040-11-04T05:59:59Z"), -4 * 3600);  // first Sunday of November
  EXPECT_EQ(offsetAt(new_york, "2040-11-04T06:00:00Z"), -5 * 3600);
  EXPECT_EQ(new_york.fromLocal({2040, 11, 4, 1, 30, 0}), at("2040-11-04T05:30:00Z"));
}

TEST(TimeZoneTest, FooterRulesAlone) {
  // A "slim" file: no transitions, only the footer.
  const TimeZone cet = footerZone("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(offsetAt(cet, "2026-03-29T00:59:59Z"), 3600);
  EXPECT_EQ(offsetAt(cet, "2026-03-29T01:00:00Z"), 7200);
  EXPECT_EQ(offsetAt(cet, "2026-10-25T00:59:59Z"), 7200);
  EXPECT_EQ(offsetAt(cet, "2026-10-25T01:00:00Z"), 3600);
  // Explicit DST offset and signed times (Greenland): both changes at 01:00 UTC as in the EU.
  const TimeZone nuuk = footerZone("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
  EXPECT_EQ(offsetAt(nuuk, "2026-03-29T00:59:59Z"), -7200);
  EXPECT_EQ(offsetAt(nuuk, "2026-03-29T01:00:00Z"), -3600);
  EXPECT_EQ(offsetAt(nuuk, "2026-10-25T00:59:59Z"), -3600);
  EXPECT_EQ(offsetAt(nuuk, "2026-10-25T01:00:00Z"), -7200);
  // Southern hemisphere: daylight time spans the new year.
  const TimeZone sydney = footerZone("AEST-10AEDT,M10.1.0,M4.1.0/3");
  EXPECT_EQ(offsetAt(sydney, "2026-01-15T00:00:00Z"), 11 * 3600);
  EXPECT_EQ(offsetAt(sydney, "2026-04-04T15:59:59Z"), 11 * 3600);  // 2026-04-05 03:00 AEDT
  EXPECT_EQ(offsetAt(sydney, "2026-04-04T16:00:00Z"), 10 * 3600);
  EXPECT_EQ(offsetAt(sydney, "2026-10-03T15:59:59Z"), 10 * 3600);  // 2026-10-04 02:00 AEST
  EXPECT_EQ(offsetAt(sydney, "2026-10-03T16:00:00Z"), 11 * 3600);
  // Jn skips February 29, n counts it: in 2028 J60 is March 1 and 59 is February 29.
  const TimeZone julian = footerZone("AAA-1BBB,J60/2,J300/2");
  EXPECT_EQ(offsetAt(julian, "2028-03-01T00:59:59Z"), 3600);
  EXPECT_EQ(offsetAt(julian, "2028-03-01T01:00:00Z"), 7200);
  const TimeZone zero_based = footerZone("AAA-1BBB,59/2,300/2");
  EXPECT_EQ(offsetAt(zero_based, "2028-02-29T00:59:59Z"), 3600);
  EXPECT_EQ(offsetAt(zero_based, "2028-02-29T01:00:00Z"), 7200);
  EXPECT_EQ(offsetAt(zero_based, "2027-03-01T01:00:00Z"), 7200);
  // Daylight time all year, and a fixed offset in minutes.
  const TimeZone always = footerZone("EST5EDT,0/0,J365/25");
  EXPECT_EQ(offsetAt(always, "2026-01-01T04:30:00Z"), -4 * 3600);
  EXPECT_EQ(offsetAt(always, "2026-07-01T00:00:00Z"), -4 * 3600);
  EXPECT_EQ(offsetAt(always, "2026-12-31T23:00:00Z"), -4 * 3600);
  const TimeZone tehran = footerZone("<+0330>-3:30");
  EXPECT_EQ(offsetAt(tehran, "2026-07-01T00:00:00Z"), 3 * 3600 + 1800);
  // No rule after a DST name: the United States' rule.
  const TimeZone us = footerZone("EST5EDT");
  EXPECT_EQ(offsetAt(us, "2026-03-08T06:59:59Z"), -5 * 3600);
  EXPECT_EQ(offsetAt(us, "2026-03-08T07:00:00Z"), -4 * 3600);
}

TEST(TimeZoneTest, TransitionsThenFooter) {
  // One explicit change in 2000 to UTC+2 summer time, then the CET rule.
  const auto data =
      tzif({946684800}, {1}, {{0, false}, {7200, true}}, "CET-1CEST,M3.5.0,M10.5.0/3");
  auto z = TimeZone::fromTzif("Test/Mixed", data);
  ASSERT_TRUE(z.ok()) << z.status().toString();
  EXPECT_EQ(offsetAt(*z, "1999-12-31T23:59:59Z"), 0);
  EXPECT_EQ(offsetAt(*z, "2000-01-01T00:00:00Z"), 7200);
  EXPECT_EQ(offsetAt(*z, "2000-01-02T00:00:00Z"), 3600);  // the rule: winter
  EXPECT_EQ(offsetAt(*z, "2000-07-01T00:00:00Z"), 7200);
}

TEST(TimeZoneTest, GapsAndFolds) {
  const TimeZone berlin = zone("Europe/Berlin");
  // 2026-03-29 02:30 does not exist in Berlin; the gap ends at 03:00 CEST = 01:00 UTC.
  EXPECT_TRUE(berlin.instantsOf({2026, 3, 29, 2, 30, 0}).empty());
  EXPECT_EQ(berlin.fromLocal({2026, 3, 29, 2, 30, 0}), at("2026-03-29T01:00:00Z"));
  EXPECT_EQ(berlin.fromLocal({2026, 3, 29, 3, 0, 0}), at("2026-03-29T01:00:00Z"));
  EXPECT_EQ(berlin.fromLocal({2026, 3, 29, 1, 59, 59}), at("2026-03-29T00:59:59Z"));
  // 2026-10-25 02:30 happens twice: at 00:30 UTC (CEST) and 01:30 UTC (CET); the earlier wins.
  EXPECT_EQ(berlin.instantsOf({2026, 10, 25, 2, 30, 0}),
            (std::vector<TimePoint>{at("2026-10-25T00:30:00Z"), at("2026-10-25T01:30:00Z")}));
  EXPECT_EQ(berlin.fromLocal({2026, 10, 25, 2, 30, 0}), at("2026-10-25T00:30:00Z"));
  EXPECT_EQ(berlin.fromLocal({2026, 10, 25, 3, 0, 0}), at("2026-10-25T02:00:00Z"));

  const TimeZone new_york = zone("America/New_York");
  EXPECT_TRUE(new_york.instantsOf({2026, 3, 8, 2, 30, 0}).empty());
  EXPECT_EQ(new_york.fromLocal({2026, 3, 8, 2, 30, 0}), at("2026-03-08T07:00:00Z"));
  EXPECT_EQ(new_york.instantsOf({2026, 11, 1, 1, 30, 0}),
            (std::vector<TimePoint>{at("2026-11-01T05:30:00Z"), at("2026-11-01T06:30:00Z")}));
  EXPECT_EQ(new_york.fromLocal({2026, 11, 1, 1, 30, 0}), at("2026-11-01T05:30:00Z"));
  // Out-of-range fields are normalised: 2026-13-01 is 2027-01-01.
  EXPECT_EQ(new_york.fromLocal({2026, 13, 1, 0, 0, 0}), at("2027-01-01T05:00:00Z"));
  EXPECT_EQ(new_york.fromLocal({2026, 3, 0, 24, 0, 0}), at("2026-03-01T05:00:00Z"));
}

TEST(TimeZoneTest, CivilTimeWeekday) {
  EXPECT_EQ((CivilTime{2026, 1, 1}).weekday(), 4);  // Thursday
  EXPECT_EQ((CivilTime{2026, 5, 31}).weekday(), 0);
  EXPECT_EQ((CivilTime{2028, 2, 29}).weekday(), 2);
  EXPECT_EQ((CivilTime{1969, 12, 31}).weekday(), 3);
}

TEST(TimeZoneTest, BadNames) {
  auto error = [](const std::string& name) {
    auto z = TimeZone::load(name);
    EXPECT_FALSE(z.ok()) << name;
    return z.ok() ? std::string() : z.status().message();
  };
  EXPECT_EQ(error("../../etc/passwd"),
            "the time zone name \"../../etc/passwd\" must not contain \"..\" (use an IANA name "
            "like \"Europe/Berlin\" or \"UTC\")");
  EXPECT_EQ(error("/etc/localtime"),
            "the time zone name \"/etc/localtime\" must not be an absolute path (use an IANA "
            "name like \"Europe/Berlin\" or \"UTC\")");
  EXPECT_EQ(error("Europe/Ber lin"),
            "the time zone name \"Europe/Ber lin\" may only contain letters, digits, '/', '_', "
            "'+' and '-' (use an IANA name like \"Europe/Berlin\" or \"UTC\")");
  EXPECT_EQ(error("zone.tab"),
            "the time zone name \"zone.tab\" may only contain letters, digits, '/', '_', '+' "
            "and '-' (use an IANA name like \"Europe/Berlin\" or \"UTC\")");
  EXPECT_EQ(error(""),
            "the time zone name is empty (use an IANA name like \"Europe/Berlin\" or "
            "\"UTC\")");
  EXPECT_EQ(error("Mars/Olympus_Mons"),
            "unknown time zone \"Mars/Olympus_Mons\" (not in /usr/share/zoneinfo) (use an IANA "
            "name like \"Europe/Berlin\" or \"UTC\")");
  EXPECT_EQ(error("Europe"),
            "unknown time zone \"Europe\" (not in /usr/share/zoneinfo) (use an "
            "IANA name like \"Europe/Berlin\" or \"UTC\")");
  EXPECT_EQ(TimeZone::load("Europe/Ber\nlin").status().code(), StatusCode::kInvalid);
  EXPECT_EQ(TimeZone::load("Europe/Ber\nlin").status().message().find('\n'), std::string::npos);
}

TEST(TimeZoneTest, MalformedData) {
  EXPECT_EQ(TimeZone::fromTzif("X", "not a zone").status().code(), StatusCode::kInternal);
  std::string data = tzif({0}, {1}, {{3600, false}}, "CET-1");  // a missing type
  EXPECT_EQ(TimeZone::fromTzif("X", data).status().code(), StatusCode::kInternal);
  data = tzif({}, {}, {{0, false}}, "CET-1CEST,M13.5.0,M10.5.0");
  EXPECT_EQ(TimeZone::fromTzif("X", data).status().code(), StatusCode::kInternal);
  data = tzif({10, 5}, {0, 0}, {{0, false}}, "");
  EXPECT_EQ(TimeZone::fromTzif("X", data).status().code(), StatusCode::kInternal);
  data = tzif({}, {}, {{0, false}}, "UTC0");
  for (size_t cut = 0; cut < data.size(); ++cut)
    EXPECT_FALSE(TimeZone::fromTzif("X", data.substr(0, cut)).ok()) << cut;
  EXPECT_TRUE(TimeZone::fromTzif("X", data).ok());
}

// --- CronSchedule -----------------------------------------------------------------------------

TEST(CronScheduleTest, FieldForms) {
  EXPECT_EQ(next("*/15 * * * *", "2026-01-01T10:07:00Z"), "2026-01-01T10:15:00Z");
  EXPECT_EQ(next("*/15 * * * *", "2026-01-01T10:45:00Z"), "2026-01-01T11:00:00Z");
  EXPECT_EQ(next("1-30/5 * * * *", "2026-01-01T10:26:00Z"), "2026-01-01T11:01:00Z");
  EXPECT_EQ(next("1-30/5 * * * *", "2026-01-01T10:25:59Z"), "2026-01-01T10:26:00Z");
  EXPECT_EQ(next("5/20 * * * *", "2026-01-01T10:45:00Z"), "2026-01-01T11:05:00Z");
  EXPECT_EQ(next("5/20 * * * *", "2026-01-01T10:25:00Z"), "2026-01-01T10:45:00Z");
  EXPECT_EQ(next("0,30 9-17 * * *", "2026-01-01T17:30:00Z"), "2026-01-02T09:00:00Z");
  EXPECT_EQ(next("0 0-23/6 * * *", "2026-01-01T06:00:00Z"), "2026-01-01T12:00:00Z");
  // Strictly after: a firing at `after` itself does not count, nor one earlier in that second.
  EXPECT_EQ(next("* * * * *", "2026-01-01T10:00:00Z"), "2026-01-01T10:01:00Z");
  const auto fired =
      cron("* * * * *")
          .next(at("2026-01-01T10:00:00Z") - std::chrono::nanoseconds(1), TimeZone::utc());
  EXPECT_EQ(fired, at("2026-01-01T10:00:00Z"));
}

TEST(CronScheduleTest, Macros) {
  EXPECT_EQ(next("@hourly", "2026-01-01T10:00:00Z"), "2026-01-01T11:00:00Z");
  EXPECT_EQ(next("@daily", "2026-01-01T10:00:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(next("@midnight", "2026-01-01T10:00:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(next("@weekly", "2026-01-01T10:00:00Z"), "2026-01-04T00:00:00Z");  // Sunday
  EXPECT_EQ(next("@monthly", "2026-01-01T10:00:00Z"), "2026-02-01T00:00:00Z");
  EXPECT_EQ(next("@yearly", "2026-01-01T10:00:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(next("@annually", "2026-01-01T00:00:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(cron("@daily").text(), "@daily");
}

TEST(CronScheduleTest, NamesAndSunday) {
  // 2026-01-01 is a Thursday.
  EXPECT_EQ(next("0 9 * * MON-FRI", "2026-01-02T10:00:00Z"), "2026-01-05T09:00:00Z");
  EXPECT_EQ(next("0 9 * * mon,Wed", "2026-01-05T10:00:00Z"), "2026-01-07T09:00:00Z");
  EXPECT_EQ(next("0 9 * * 1-5/2", "2026-01-05T10:00:00Z"), "2026-01-07T09:00:00Z");
  EXPECT_EQ(next("0 0 1 jun-AUG *", "2026-01-01T00:00:00Z"), "2026-06-01T00:00:00Z");
  EXPECT_EQ(next("0 0 1 Dec *", "2026-01-01T00:00:00Z"), "2026-12-01T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 0", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 7", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(next("0 0 * * SUN", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 5-7", "2026-01-02T12:00:00Z"), "2026-01-03T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 5-7", "2026-01-03T12:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 5-7", "2026-01-04T12:00:00Z"), "2026-01-09T00:00:00Z");
}

TEST(CronScheduleTest, DayOfMonthOrDayOfWeek) {
  // Both restricted: either matches. 2026-01-02 is a Friday, before the 13th.
  EXPECT_EQ(next("0 0 13 * FRI", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(next("0 0 13 * FRI", "2026-01-09T00:00:00Z"), "2026-01-13T00:00:00Z");
  // One restricted: that one decides.
  EXPECT_EQ(next("0 0 13 * *", "2026-01-01T00:00:00Z"), "2026-01-13T00:00:00Z");
  EXPECT_EQ(next("0 0 * * FRI", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
  // A step restricts a field, as in Kubernetes: odd days or Mondays.
  EXPECT_EQ(next("0 0 */2 * MON", "2026-01-03T12:00:00Z"), "2026-01-05T00:00:00Z");
  EXPECT_EQ(next("0 0 */2 * MON", "2026-01-05T12:00:00Z"), "2026-01-07T00:00:00Z");
  // "*/1" does not.
  EXPECT_EQ(next("0 0 */1 * MON", "2026-01-01T00:00:00Z"), "2026-01-05T00:00:00Z");
}

TEST(CronScheduleTest, MonthEndsAndLeapYears) {
  EXPECT_EQ(next("0 0 31 * *", "2026-04-15T00:00:00Z"), "2026-05-31T00:00:00Z");
  EXPECT_EQ(next("0 0 31 * *", "2026-12-31T00:00:00Z"), "2027-01-31T00:00:00Z");
  EXPECT_EQ(next("59 23 28-31 2 *", "2027-02-28T23:59:00Z"), "2028-02-28T23:59:00Z");
  EXPECT_EQ(next("0 12 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T12:00:00Z");
  // 2100 is not a leap year: from 2096 the next February 29 is in 2104.
  EXPECT_EQ(next("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");
  // February 29 or a Monday in February.
  EXPECT_EQ(next("0 0 29 2 MON", "2026-01-01T00:00:00Z"), "2026-02-02T00:00:00Z");
  EXPECT_EQ(next("0 0 1 1 *", "2026-12-31T23:59:59Z"), "2027-01-01T00:00:00Z");
}

TEST(CronScheduleTest, ImpossibleDatesNeverFire) {
  EXPECT_EQ(next("0 0 30 2 *", "2026-01-01T00:00:00Z"), "never");
  EXPECT_EQ(next("0 0 31 4,6,9,11 *", "2026-01-01T00:00:00Z"), "never");
  EXPECT_EQ(next("0 0 31 2 *", "2026-01-01T00:00:00Z", zone("Europe/Berlin")), "never");
  EXPECT_FALSE(cron("0 0 30 2 *").activeAt(at("2026-03-01T00:00:00Z"), TimeZone::utc(), hours(1)));
}

TEST(CronScheduleTest, DaylightSavingGapDoesNotFire) {
  const TimeZone berlin = zone("Europe/Berlin");
  // 2026-03-29 02:30 does not exist in Berlin: that day is skipped.
  EXPECT_EQ(next("30 2 * * *", "2026-03-28T12:00:00Z", berlin), "2026-03-30T00:30:00Z");
  EXPECT_EQ(next("30 2 * * *", "2026-03-27T12:00:00Z", berlin), "2026-03-28T01:30:00Z");
  // Hourly: 02:00 is skipped, 03:00 CEST comes an hour after 01:00 CET.
  EXPECT_EQ(next("0 * * * *", "2026-03-29T00:00:00Z", berlin), "2026-03-29T01:00:00Z");
  const TimeZone new_york = zone("America/New_York");
  EXPECT_EQ(next("30 2 * * *", "2026-03-07T12:00:00Z", new_york), "2026-03-09T06:30:00Z");
  // 2040 is past the explicit transitions: 2040-03-25 02:30 does not exist either.
  EXPECT_EQ(next("30 2 * * *", "2040-03-24T12:00:00Z", berlin), "2040-03-26T00:30:00Z");
}

TEST(CronScheduleTest, DaylightSavingFoldFiresOnce) {
  const TimeZone berlin = zone("Europe/Berlin");
  // 2026-10-25 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET): it fires at the first.
  EXPECT_EQ(next("30 2 * * *", "2026-10-24T12:00:00Z", berlin), "2026-10-25T00:30:00Z");
  EXPECT_EQ(next("30 2 * * *", "2026-10-25T00:30:00Z", berlin), "2026-10-26T01:30:00Z");
  // Hourly: 02:00 CET (01:00 UTC) repeats 02:00 CEST and does not fire again.
  EXPECT_EQ(next("0 * * * *", "2026-10-25T00:30:00Z", berlin), "2026-10-25T02:00:00Z");
  const TimeZone new_york = zone("America/New_York");
  EXPECT_EQ(next("30 1 * * *", "2026-10-31T12:00:00Z", new_york), "2026-11-01T05:30:00Z");
  EXPECT_EQ(next("30 1 * * *", "2026-11-01T05:30:00Z", new_york), "2026-11-02T06:30:00Z");
  EXPECT_EQ(next("30 1 * * *", "2026-11-01T06:00:00Z", new_york), "2026-11-02T06:30:00Z");
  EXPECT_EQ(next("30 1 * * *", "2040-11-04T05:00:00Z", new_york), "2040-11-04T05:30:00Z");
}

TEST(CronScheduleTest, LocalTimeOfTheZone) {
  // 08:00 on weekdays in Berlin is 07:00 UTC in winter, 06:00 UTC in summer.
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(next("0 8 * * 1-5", "2026-01-02T07:00:00Z", berlin), "2026-01-05T07:00:00Z");
  EXPECT_EQ(next("0 8 * * 1-5", "2026-06-01T00:00:00Z", berlin), "2026-06-01T06:00:00Z");
  // Midnight in Berlin is the day before in UTC.
  EXPECT_EQ(next("0 0 1 * *", "2026-06-15T00:00:00Z", berlin), "2026-06-30T22:00:00Z");
}

TEST(CronScheduleTest, ActiveWindow) {
  const TimeZone berlin = zone("Europe/Berlin");
  const CronSchedule weekday_mornings = cron("0 8 * * 1-5");
  // Monday 2026-06-01 08:00 CEST = 06:00 UTC.
  EXPECT_FALSE(weekday_mornings.activeAt(at("2026-06-01T05:59:59Z"), berlin, hours(1)));
  EXPECT_TRUE(weekday_mornings.activeAt(at("2026-06-01T06:00:00Z"), berlin, hours(1)));
  EXPECT_TRUE(weekday_mornings.activeAt(at("2026-06-01T06:59:59Z"), berlin, hours(1)));
  EXPECT_FALSE(weekday_mornings.activeAt(at("2026-06-01T07:00:00Z"), berlin, hours(1)));
  EXPECT_TRUE(weekday_mornings.activeAt(at("2026-06-01T15:59:59Z"), berlin, hours(10)));
  EXPECT_FALSE(weekday_mornings.activeAt(at("2026-06-01T06:00:00Z"), berlin, seconds(0)));
  // A window longer than the gap between firings stays open.
  EXPECT_TRUE(cron("*/10 * * * *").activeAt(at("2026-06-01T06:05:00Z"), berlin, minutes(15)));
  // Sunday 2026-06-07: no firing since Friday morning.
  EXPECT_FALSE(weekday_mornings.activeAt(at("2026-06-07T06:30:00Z"), berlin, hours(1)));
  EXPECT_TRUE(weekday_mornings.activeAt(at("2026-06-07T06:30:00Z"), berlin, hours(72)));
}

TEST(CronScheduleTest, Errors) {
  EXPECT_EQ(cronError("0 8 * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week), found 4");
  EXPECT_EQ(cronError(""),
            "expected 5 fields (minute hour day-of-month month day-of-week), found 0");
  EXPECT_EQ(cronError("0 8 * * * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week), found 6");
  EXPECT_EQ(cronError("0 25 * * *"), "the hour 25 is out of range 0-23");
  EXPECT_EQ(cronError("60 * * * *"), "the minute 60 is out of range 0-59");
  EXPECT_EQ(cronError("0 0 0 * *"), "the day-of-month 0 is out of range 1-31");
  EXPECT_EQ(cronError("0 0 * 13 *"), "the month 13 is out of range 1-12");
  EXPECT_EQ(cronError("0 0 * * 8"), "the day-of-week 8 is out of range 0-7");
  EXPECT_EQ(cronError("5-1 * * * *"), "the minute range \"5-1\" runs backwards");
  EXPECT_EQ(cronError("0 0 * * FRI-MON"), "the day-of-week range \"FRI-MON\" runs backwards");
  EXPECT_EQ(cronError("*/0 * * * *"), "the minute step in \"*/0\" must be a number from 1 to 60");
  EXPECT_EQ(cronError("0 */25 * * *"), "the hour step in \"*/25\" must be a number from 1 to 24");
  EXPECT_EQ(cronError("1,,2 * * * *"),
            "the minute field has \"\", expected a number, a range like 1-5, '*', a step like "
            "*/15, or a list of them");
  EXPECT_EQ(cronError("0 0 * FOO *"),
            "the month field has \"FOO\", expected a number, a name like JAN, a range like 1-5, "
            "'*', a step like */15, or a list of them");
  EXPECT_EQ(cronError("0 0 * * MONDAY"),
            "the day-of-week field has \"MONDAY\", expected a number, a name like MON, a range "
            "like 1-5, '*', a step like */15, or a list of them");
  EXPECT_EQ(cronError("0 MON * * *"),
            "the hour field has \"MON\", expected a number, a range like 1-5, '*', a step like "
            "*/15, or a list of them");
  EXPECT_EQ(cronError("@often"),
            "unknown macro \"@often\" (use @hourly, @daily, @weekly, @monthly or @yearly)");
  EXPECT_EQ(cronError("-1 * * * *"),
            "the minute field has \"-1\", expected a number, a range like 1-5, '*', a step like "
            "*/15, or a list of them");
  EXPECT_EQ(cronError("99999999999 * * * *"),
            "the minute field has \"99999999999\", expected a number, a range like 1-5, '*', a "
            "step like */15, or a list of them");
  // Bytes that are not UTF-8 are shown as U+FFFD, so the message stays valid JSON text.
  EXPECT_EQ(cronError("\xff * * * *"),
            "the minute field has \"\xEF\xBF\xBD\", expected a number, a range like 1-5, '*', a "
            "step like */15, or a list of them");
}

}  // namespace
}  // namespace skiff
