#include "common/time_zone.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <utility>

namespace skiff {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
// std::chrono::year holds -32767..32767; civil times are kept well inside it.
constexpr int kMinYear = -30000;
constexpr int kMaxYear = 30000;
// TZif files are a few kilobytes; anything this large is not one.
constexpr size_t kMaxZoneFileBytes = 1 << 20;

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t daysFromCivil(int year, int month, int day) {
  using namespace std::chrono;
  year = std::clamp(year, kMinYear, kMaxYear);
  const sys_days d{std::chrono::year{year} / month / 1};
  return d.time_since_epoch().count() + (day - 1);
}

bool isLeapYear(int year) { return std::chrono::year{year}.is_leap(); }

int daysInMonth(int year, int month) {
  using namespace std::chrono;
  return static_cast<int>(static_cast<unsigned>(year_month_day_last{
      std::chrono::year{year},
      month_day_last{std::chrono::month(month)}}.day()));
}

// 0 = Sunday.
int weekdayOfDays(int64_t days) {
  return static_cast<int>(
      std::chrono::weekday{std::chrono::sys_days{std::chrono::days{days}}}.c_encoding());
}

CivilTime civilFromSeconds(int64_t local) {
  // About ±28,000 years: inside std::chrono::year, far past anything a zone file can mean.
  local = std::clamp<int64_t>(local, -900'000'000'000, 900'000'000'000);
  const int64_t days = floorDiv(local, kSecondsPerDay);
  const int64_t of_day = local - days * kSecondsPerDay;
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  CivilTime c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.hour = static_cast<int>(of_day / 3600);
  c.minute = static_cast<int>(of_day / 60 % 60);
  c.second = static_cast<int>(of_day % 60);
  return c;
}

// `civil` as seconds since 1970-01-01T00:00 of the same wall clock, fields normalised.
int64_t secondsFromCivil(const CivilTime& civil) {
  const int64_t months = int64_t{std::clamp(civil.year, kMinYear, kMaxYear)} * 12 + civil.month - 1;
  const int year = static_cast<int>(floorDiv(months, 12));
  const int month = static_cast<int>(months - int64_t{year} * 12) + 1;
  return daysFromCivil(year, month, 1) * kSecondsPerDay +
         (int64_t{civil.day} - 1) * kSecondsPerDay + int64_t{civil.hour} * 3600 +
         int64_t{civil.minute} * 60 + civil.second;
}

int64_t secondsOf(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Saturates at the ends of what system_clock can hold (about 1677-2262 with nanoseconds).
std::chrono::system_clock::time_point timePointOf(int64_t seconds) {
  using Tp = std::chrono::system_clock::time_point;
  const int64_t max_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Tp::max().time_since_epoch()).count();
  const int64_t min_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Tp::min().time_since_epoch()).count();
  if (seconds >= max_seconds) return Tp::max();
  if (seconds <= min_seconds) return Tp::min();
  return Tp(std::chrono::duration_cast<Tp::duration>(std::chrono::seconds(seconds)));
}

struct LocalType {
  int32_t offset = 0;  // seconds east of UTC
  bool dst = false;
};

// A day of the year in a POSIX TZ rule.
struct RuleDate {
  enum Kind { kJulian, kZeroBased, kMonthWeekDay } kind = kMonthWeekDay;
  int day = 0;    // kJulian: 1-365 (February 29 never counted); kZeroBased: 0-365
  int month = 0;  // kMonthWeekDay: 1-12
  int week = 0;   // 1-5, 5 = the last
  int weekday = 0;
  int32_t time = 7200;  // local time of day of the change, seconds; may be negative or > 24h
};

// A POSIX TZ string, as in a TZif footer: "CET-1CEST,M3.5.0,M10.5.0/3".
struct PosixRule {
  LocalType standard;
  bool has_dst = false;
  LocalType daylight;
  RuleDate start;  // standard -> daylight, in standard local time
  RuleDate end;    // daylight -> standard, in daylight local time
};

// Midnight (local) of `date` in `year` plus its time of day, as local seconds.
int64_t ruleLocalSeconds(int year, const RuleDate& date) {
  int64_t days = 0;
  switch (date.kind) {
    case RuleDate::kJulian:
      days = daysFromCivil(year, 1, 1) + date.day - 1 + (isLeapYear(year) && date.day >= 60);
      break;
    case RuleDate::kZeroBased:
      days = daysFromCivil(year, 1, 1) + date.day;
      break;
    case RuleDate::kMonthWeekDay: {
      const int64_t first = daysFromCivil(year, date.month, 1);
      int day = 1 + (date.weekday - weekdayOfDays(first) + 7) % 7 + (date.week - 1) * 7;
      const int last = daysInMonth(year, date.month);
      while (day > last) day -= 7;
      days = first + day - 1;
      break;
    }
  }
  return days * kSecondsPerDay + date.time;
}

class PosixParser {
 public:
  explicit PosixParser(std::string_view text) : text_(text) {}

  std::optional<PosixRule> parse() {
    PosixRule rule;
    if (!name() || !offset(24, &rule.standard.offset)) return std::nullopt;
    rule.standard.offset = -rule.standard.offset;  // POSIX counts west of UTC
    if (done()) return rule;
    if (!name()) return std::nullopt;
    rule.has_dst = true;
    rule.daylight = {rule.standard.offset + 3600, true};
    if (!done() && peek() != ',') {
      if (!offset(24, &rule.daylight.offset)) return std::nullopt;
      rule.daylight.offset = -rule.daylight.offset;
    }
    if (done()) {
      // No rule: the United States' since 2007, as tzcode assumes.
      rule.start = {RuleDate::kMonthWeekDay, 0, 3, 2, 0, 7200};
      rule.end = {RuleDate::kMonthWeekDay, 0, 11, 1, 0, 7200};
      return rule;
    }
    if (!eat(',') || !date(&rule.start) || !eat(',') || !date(&rule.end) || !done())
      return std::nullopt;
    return rule;
  }

 private:
  bool done() const { return pos_ == text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  static bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool isDigit(char c) { return c >= '0' && c <= '9'; }

  // "CET" or "<+0330>".
  bool name() {
    size_t start = pos_;
    if (eat('<')) {
      while (!done() && (isAlpha(peek()) || isDigit(peek()) || peek() == '+' || peek() == '-'))
        ++pos_;
      return pos_ - start >= 4 && eat('>');
    }
    while (!done() && isAlpha(peek())) ++pos_;
    return pos_ - start >= 3;
  }

  bool number(int max, int* out) {
    size_t start = pos_;
    int value = 0;
    while (!done() && isDigit(peek()) && pos_ - start < 3)
      value = value * 10 + (text_[pos_++] - '0');
    if (pos_ == start || value > max) return false;
    *out = value;
    return true;
  }

  // [+-]hh[:mm[:ss]] in seconds; hours up to `max_hours`.
  bool offset(int max_hours, int32_t* out) {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    int hours = 0, minutes = 0, seconds = 0;
    if (!number(max_hours, &hours)) return false;
    if (eat(':')) {
      if (!number(59, &minutes)) return false;
      if (eat(':') && !number(59, &seconds)) return false;
    }
    *out = sign * (hours * 3600 + minutes * 60 + seconds);
    return true;
  }

  bool date(RuleDate* out) {
    if (eat('J')) {
      out->kind = RuleDate::kJulian;
      if (!number(365, &out->day) || out->day < 1) return false;
    } else if (eat('M')) {
      out->kind = RuleDate::kMonthWeekDay;
      if (!number(12, &out->month) || out->month < 1 || !eat('.') || !number(5, &out->week) ||
          out->week < 1 || !eat('.') || !number(6, &out->weekday))
        return false;
    } else {
      out->kind = RuleDate::kZeroBased;
      if (!number(365, &out->day)) return false;
    }
    out->time = 7200;
    // RFC 8536 extends POSIX: the time may be negative and up to 167 hours.
    if (eat('/') && !offset(167, &out->time)) return false;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  size_t remaining() const { return data_.size() - pos_; }
  bool skip(uint64_t n) {
    if (n > remaining()) return false;
    pos_ += n;
    return true;
  }
  bool bytes(size_t n, std::string_view* out) {
    if (n > remaining()) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool u8(uint8_t* out) {
    if (remaining() < 1) return false;
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool be(int width, uint64_t* out) {
    if (remaining() < static_cast<size_t>(width)) return false;
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = v << 8 | static_cast<uint8_t>(data_[pos_++]);
    *out = v;
    return true;
  }
  std::string_view rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct TzifCounts {
  uint64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
};

bool readHeader(ByteReader& in, char* version, TzifCounts* counts) {
  std::string_view magic;
  if (!in.bytes(4, &magic) || magic != "TZif") return false;
  uint8_t v = 0;
  if (!in.u8(&v) || !in.skip(15)) return false;
  *version = static_cast<char>(v);
  uint64_t* fields[] = {&counts->isut, &counts->isstd, &counts->leap,
                        &counts->time, &counts->type,  &counts->chars};
  for (uint64_t* f : fields)
    if (!in.be(4, f)) return false;
  return true;
}

uint64_t blockSize(const TzifCounts& c, int time_width) {
  return c.time * time_width + c.time + c.type * 6 + c.chars + c.leap * (time_width + 4) + c.isstd +
         c.isut;
}

}  // namespace

struct TimeZone::Data {
  std::string name;
  std::vector<int64_t> transitions;  // UTC seconds, ascending
  std::vector<uint8_t> transition_types;
  std::vector<LocalType> types;   // at least one; types[0] is in force before any transition
  std::optional<PosixRule> rule;  // after the last transition

  LocalType ruleTypeAt(int64_t utc) const {
    const PosixRule& r = *rule;
    if (!r.has_dst) return r.standard;
    const int year = civilFromSeconds(utc + r.standard.offset).year;
    // The changes of the year around `utc`; the last one at or before it is in force.
    std::array<std::pair<int64_t, bool>, 6> changes;
    for (int i = 0; i < 3; ++i) {
      const int y = year - 1 + i;
      changes[2 * i] = {ruleLocalSeconds(y, r.start) - r.standard.offset, true};
      changes[2 * i + 1] = {ruleLocalSeconds(y, r.end) - r.daylight.offset, false};
    }
    // On a tie (DST all year: "EST5EDT,0/0,J365/25") daylight time wins.
    std::sort(changes.begin(), changes.end());
    bool dst = !changes.front().second;
    for (const auto& [at, to_dst] : changes)
      if (at <= utc) dst = to_dst;
    return dst ? r.daylight : r.standard;
  }

  LocalType typeAt(int64_t utc) const {
    // RFC 8536: the footer's rule is for instants after the last transition.
    if (transitions.empty() || utc > transitions.back()) {
      if (rule) return ruleTypeAt(utc);
      return transitions.empty() ? types[0] : types[transition_types.back()];
    }
    auto after = std::upper_bound(transitions.begin(), transitions.end(), utc);
    if (after == transitions.begin()) return types[0];
    return types[transition_types[after - transitions.begin() - 1]];
  }

  // The changes of offset in (from, to], in order, each with the type in force from then on.
  std::vector<std::pair<int64_t, LocalType>> changesBetween(int64_t from, int64_t to) const {
    std::vector<std::pair<int64_t, LocalType>> out;
    auto it = std::upper_bound(transitions.begin(), transitions.end(), from);
    for (; it != transitions.end() && *it <= to; ++it)
      out.push_back({*it, types[transition_types[it - transitions.begin()]]});
    if (rule && rule->has_dst) {
      const int64_t rule_from = transitions.empty() ? from : std::max(from, transitions.back());
      const int first = civilFromSeconds(rule_from).year - 1;
      const int last = civilFromSeconds(to).year + 1;
      for (int y = first; rule_from < to && y <= last; ++y) {
        const int64_t start = ruleLocalSeconds(y, rule->start) - rule->standard.offset;
        const int64_t end = ruleLocalSeconds(y, rule->end) - rule->daylight.offset;
        if (start > rule_from && start <= to) out.push_back({start, rule->daylight});
        if (end > rule_from && end <= to) out.push_back({end, rule->standard});
      }
      std::stable_sort(out.begin(), out.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    return out;
  }
};

int CivilTime::weekday() const {
  return weekdayOfDays(floorDiv(secondsFromCivil(*this), kSecondsPerDay));
}

Result<TimeZone> TimeZone::load(const std::string& name) {
  const std::string example = " (use an IANA name like \"Europe/Berlin\" or \"UTC\")";
  // Only printable ASCII is echoed: the message may be sent as JSON.
  std::string quoted = "\"";
  for (char c : name.substr(0, 200)) quoted += c >= ' ' && c <= '~' && c != '"' ? c : '?';
  quoted += '"';
  if (name.empty()) return Status(StatusCode::kInvalid, "the time zone name is empty" + example);
  if (name.size() > 200)
    return Status(StatusCode::kInvalid, "the time zone name is longer than 200 characters");
  if (name.front() == '/')
    return Status(StatusCode::kInvalid,
                  "the time zone name " + quoted + " must not be an absolute path" + example);
  if (name.find("..") != std::string::npos)
    return Status(StatusCode::kInvalid,
                  "the time zone name " + quoted + " must not contain \"..\"" + example);
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '+' || c == '-';
    if (!allowed)
      return Status(StatusCode::kInvalid,
                    "the time zone name " + quoted +
                        " may only contain letters, digits, '/', '_', '+' and '-'" + example);
  }

  const std::string path = std::string(kZoneDirectory) + "/" + name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (name == "UTC" || name == "Etc/UTC") return utc();
    return Status(StatusCode::kInvalid,
                  "unknown time zone " + quoted + " (not in " + kZoneDirectory + ")" + example);
  }
  std::ifstream file(path, std::ios::binary);
  std::string data;
  data.resize(kMaxZoneFileBytes + 1);
  file.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (file.bad() || (!file && !file.eof()))
    return Status(StatusCode::kUnavailable, "cannot read time zone file " + path);
  data.resize(static_cast<size_t>(file.gcount()));
  if (data.size() > kMaxZoneFileBytes)
    return Status(StatusCode::kInvalid,
                  "unknown time zone " + quoted + " (" + path + " is not a TZif file)" + example);
  return fromTzif(name, data);
}

Result<TimeZone> TimeZone::fromTzif(std::string name, std::string_view data) {
  auto malformed = [&](const std::string& what) {
    return Status(StatusCode::kInternal,
                  "the data of time zone \"" + name + "\" is not valid TZif (RFC 8536): " + what);
  };
  ByteReader in(data);
  char version = 0;
  TzifCounts counts;
  if (!readHeader(in, &version, &counts)) return malformed("bad header");
  int time_width = 4;
  if (version >= '2') {
    // Skip the 32-bit data; the 64-bit data after the second header covers all of time.
    if (!in.skip(blockSize(counts, 4)) || !readHeader(in, &version, &counts))
      return malformed("truncated version 1 data");
    time_width = 8;
  }
  if (counts.leap > 0)
    return Status(StatusCode::kInvalid,
                  "time zone \"" + name +
                      "\" counts leap seconds (a \"right/\" zone); use the zone without them");
  if (counts.type == 0 || counts.type > 256 || counts.chars == 0)
    return malformed("no local time types");
  if ((counts.isut != 0 && counts.isut != counts.type) ||
      (counts.isstd != 0 && counts.isstd != counts.type))
    return malformed("indicator counts do not match the type count");
  if (blockSize(counts, time_width) > in.remaining()) return malformed("truncated data");

  auto zone = std::make_shared<Data>();
  zone->name = std::move(name);
  zone->transitions.reserve(counts.time);
  for (uint64_t i = 0; i < counts.time; ++i) {
    uint64_t raw = 0;
    (void)in.be(time_width, &raw);
    const int64_t at = time_width == 8 ? static_cast<int64_t>(raw)
                                       : int64_t{static_cast<int32_t>(static_cast<uint32_t>(raw))};
    if (!zone->transitions.empty() && at <= zone->transitions.back())
      return malformed("transition times are not ascending");
    zone->transitions.push_back(at);
  }
  for (uint64_t i = 0; i < counts.time; ++i) {
    uint8_t type = 0;
    (void)in.u8(&type);
    if (type >= counts.type) return malformed("a transition names a missing type");
    zone->transition_types.push_back(type);
  }
  for (uint64_t i = 0; i < counts.type; ++i) {
    uint64_t offset = 0;
    uint8_t dst = 0, abbreviation = 0;
    (void)in.be(4, &offset);
    (void)in.u8(&dst);
    (void)in.u8(&abbreviation);
    const int32_t utc_offset = static_cast<int32_t>(static_cast<uint32_t>(offset));
    if (utc_offset < -89999 || utc_offset > 93599 || dst > 1 || abbreviation >= counts.chars)
      return malformed("a local time type is out of range");
    zone->types.push_back({utc_offset, dst == 1});
  }
  (void)in.skip(counts.chars + counts.isstd + counts.isut);

  if (time_width == 8) {
    // The footer: "\n" TZ string "\n"; an empty string means no rule past the transitions.
    std::string_view footer = in.rest();
    const size_t end = footer.find('\n', 1);
    if (footer.empty() || footer[0] != '\n' || end == std::string_view::npos)
      return malformed("missing footer");
    const std::string_view tz = footer.substr(1, end - 1);
    if (!tz.empty()) {
      zone->rule = PosixParser(tz).parse();
      if (!zone->rule) return malformed("unsupported footer TZ string \"" + std::string(tz) + "\"");
    }
  }
  return TimeZone(std::move(zone));
}

TimeZone TimeZone::utc() {
  static const std::shared_ptr<const Data> kUtc = [] {
    auto zone = std::make_shared<Data>();
    zone->name = "UTC";
    zone->types.push_back({0, false});
    return zone;
  }();
  return TimeZone(kUtc);
}

const std::string& TimeZone::name() const { return data_->name; }

std::chrono::seconds TimeZone::utcOffset(std::chrono::system_clock::time_point t) const {
  return std::chrono::seconds(data_->typeAt(secondsOf(t)).offset);
}

bool TimeZone::isDst(std::chrono::system_clock::time_point t) const {
  return data_->typeAt(secondsOf(t)).dst;
}

CivilTime TimeZone::toLocal(std::chrono::system_clock::time_point t) const {
  const int64_t utc = secondsOf(t);
  return civilFromSeconds(utc + data_->typeAt(utc).offset);
}

std::vector<std::chrono::system_clock::time_point> TimeZone::instantsOf(
    const CivilTime& civil) const {
  const int64_t local = secondsFromCivil(civil);
  // Offsets stay within ±26 hours, so every instant showing `local` is within two days of it.
  const int64_t from = local - 2 * kSecondsPerDay;
  const int64_t to = local + 2 * kSecondsPerDay;
  const auto changes = data_->changesBetween(from, to);
  std::vector<std::chrono::system_clock::time_point> out;
  LocalType type = data_->typeAt(from);
  int64_t segment_start = from;
  for (size_t i = 0; i <= changes.size(); ++i) {
    const int64_t segment_end = i < changes.size() ? changes[i].first : to + 1;
    const int64_t candidate = local - type.offset;
    if (candidate >= segment_start && candidate < segment_end)
      out.push_back(timePointOf(candidate));
    if (i < changes.size()) {
      segment_start = changes[i].first;
      type = changes[i].second;
    }
  }
  return out;
}

std::chrono::system_clock::time_point TimeZone::fromLocal(const CivilTime& civil) const {
  auto instants = instantsOf(civil);
  if (!instants.empty()) return instants.front();
  const int64_t local = secondsFromCivil(civil);
  const int64_t from = local - 2 * kSecondsPerDay;
  LocalType before = data_->typeAt(from);
  for (const auto& [at, after] : data_->changesBetween(from, local + 2 * kSecondsPerDay)) {
    if (at + before.offset <= local && local < at + after.offset) return timePointOf(at);
    before = after;
  }
  return timePointOf(local - before.offset);  // not reached: no instant means a gap
}

}  // namespace skiff
