#include "common/cron.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace skiff {
namespace {

struct Field {
  const char* name;
  int min;
  int max;
  const char* const* names = nullptr;  // names[i] stands for min + i
  int name_count = 0;
  const char* example_name = nullptr;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const Field kFields[] = {
    {"minute", 0, 59},
    {"hour", 0, 23},
    {"day-of-month", 1, 31},
    {"month", 1, 12, kMonthNames, 12, "JAN"},
    {"day-of-week", 0, 7, kDayNames, 7, "MON"},
};

// The length of the well-formed UTF-8 sequence at the start of `text`, 0 if there is none.
size_t utf8Length(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the second byte's range (RFC 3629 table)
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  return length;
}

// Quotes `text` for a message the way JSON would (the model's messages show values so), with
// bytes that are not UTF-8 replaced by U+FFFD, so the message can always be sent as JSON.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  while (!text.empty()) {
    const char c = text[0];
    const size_t length = utf8Length(text);
    if (length == 0) {
      out += "\ufffd";
      text.remove_prefix(1);
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return out + "\"";
}

std::vector<std::string_view> splitList(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
}

std::optional<int> number(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    out = out * 10 + (c - '0');
  }
  return out;
}

// A number, or a name of the field ("jan", "Mon").
std::optional<int> value(std::string_view text, const Field& field) {
  if (auto n = number(text)) return n;
  if (text.size() != 3) return std::nullopt;
  for (int i = 0; i < field.name_count; ++i) {
    bool same = true;
    for (size_t j = 0; j < 3; ++j) {
      const char c =
          text[j] >= 'a' && text[j] <= 'z' ? static_cast<char>(text[j] - 'a' + 'A') : text[j];
      same = same && c == field.names[i][j];
    }
    if (same) return field.min + i;
  }
  return std::nullopt;
}

// Parses one field into `bits`; an error message, or empty. `unrestricted` tells whether the
// field covers its whole range by '*'.
std::string parseField(std::string_view text, const Field& field, uint64_t* bits,
                       bool* unrestricted) {
  const std::string the = std::string("the ") + field.name;
  if (text.empty()) return the + " field is empty";
  const int span = field.max - field.min + 1;
  for (std::string_view item : splitList(text)) {
    std::string_view range = item;
    int step = 1;
    const size_t slash = item.find('/');
    if (slash != std::string_view::npos) {
      const auto n = number(item.substr(slash + 1));
      if (!n || *n < 1 || *n > span)
        return the + " step in " + quoted(item) + " must be a number from 1 to " +
               std::to_string(span);
      step = *n;
      range = item.substr(0, slash);
    }
    int low = field.min;
    int high = field.max;
    if (range == "*") {
      if (step == 1) *unrestricted = true;
    } else {
      const size_t dash = range.find('-');
      const auto first = value(range.substr(0, dash), field);
      const auto last =
          dash == std::string_view::npos ? first : value(range.substr(dash + 1), field);
      if (!first || !last) {
        std::string expected = "expected a number, ";
        if (field.example_name != nullptr)
          expected += std::string("a name like ") + field.example_name + ", ";
        return the + " field has " + quoted(item) + ", " + expected +
               "a range like 1-5, '*', a step like */15, or a list of them";
      }
      for (int n : {*first, *last}) {
        if (n < field.min || n > field.max)
          return the + " " + std::to_string(n) + " is out of range " + std::to_string(field.min) +
                 "-" + std::to_string(field.max);
      }
      if (*first > *last) return the + " range " + quoted(range) + " runs backwards";
      low = *first;
      // "5/15" runs from 5 to the end of the range, as in Kubernetes' cron.
      if (dash != std::string_view::npos || slash == std::string_view::npos) high = *last;
    }
    for (int n = low; n <= high; n += step) *bits |= uint64_t{1} << n;
  }
  return {};
}

bool has(uint64_t bits, int n) { return (bits >> n & 1) != 0; }

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view text) {
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
  };
  std::string_view fields_text = text;
  if (!text.empty() && text[0] == '@') {
    auto macro = std::find_if(std::begin(kMacros), std::end(kMacros),
                              [&](const auto& m) { return text == m.first; });
    if (macro == std::end(kMacros))
      return Status(
          StatusCode::kInvalid,
          "unknown macro " + quoted(text) + " (use @hourly, @daily, @weekly, @monthly or @yearly)");
    fields_text = macro->second;
  }
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < fields_text.size()) {
    while (i < fields_text.size() && (fields_text[i] == ' ' || fields_text[i] == '\t')) ++i;
    const size_t start = i;
    while (i < fields_text.size() && fields_text[i] != ' ' && fields_text[i] != '\t') ++i;
    if (i > start) fields.push_back(fields_text.substr(start, i - start));
  }
  if (fields.size() != 5)
    return Status(StatusCode::kInvalid,
                  "expected 5 fields (minute hour day-of-month month day-of-week), found " +
                      std::to_string(fields.size()));

  CronSchedule schedule;
  schedule.text_ = std::string(text);
  uint64_t* bits[] = {&schedule.minutes_, &schedule.hours_, &schedule.days_, &schedule.months_,
                      &schedule.weekdays_};
  bool unrestricted[5] = {};
  for (size_t f = 0; f < 5; ++f) {
    std::string error = parseField(fields[f], kFields[f], bits[f], &unrestricted[f]);
    if (!error.empty()) return Status(StatusCode::kInvalid, std::move(error));
  }
  // Day-of-week 7 is Sunday too.
  if (has(schedule.weekdays_, 7)) schedule.weekdays_ = (schedule.weekdays_ | 1) & 0x7f;
  schedule.days_restricted_ = !unrestricted[2];
  schedule.weekdays_restricted_ = !unrestricted[4];
  return schedule;
}

bool CronSchedule::matchesDay(const CivilTime& day) const {
  if (!has(months_, day.month)) return false;
  const bool by_day = has(days_, day.day);
  const bool by_weekday = has(weekdays_, day.weekday());
  // Vixie cron's rule: with both fields restricted, either may match.
  if (days_restricted_ && weekdays_restricted_) return by_day || by_weekday;
  return by_day && by_weekday;
}

std::optional<std::chrono::system_clock::time_point> CronSchedule::next(
    std::chrono::system_clock::time_point after, const TimeZone& zone) const {
  const CivilTime now = zone.toLocal(after);
  // From the day before: after a fold across midnight, the next firing can be on the local
  // date before `after`'s.
  const std::chrono::sys_days first_day =
      std::chrono::sys_days{std::chrono::year{now.year} / now.month / now.day} -
      std::chrono::days{1};
  const int days = kSearchYears * 366 + 2;
  for (int d = 0; d < days; ++d) {
    const std::chrono::year_month_day ymd{first_day + std::chrono::days{d}};
    CivilTime local;
    local.year = static_cast<int>(ymd.year());
    local.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    local.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    if (!matchesDay(local)) continue;
    for (local.hour = 0; local.hour < 24; ++local.hour) {
      if (!has(hours_, local.hour)) continue;
      for (local.minute = 0; local.minute < 60; ++local.minute) {
        if (!has(minutes_, local.minute)) continue;
        // A time in a gap has no instant and does not fire; one in a fold fires at the first.
        const auto instants = zone.instantsOf(local);
        if (instants.empty() || instants.front() <= after) continue;
        if (instants.front() == std::chrono::system_clock::time_point::max()) return std::nullopt;
        return instants.front();
      }
    }
  }
  return std::nullopt;
}

bool CronSchedule::activeAt(std::chrono::system_clock::time_point t, const TimeZone& zone,
                            std::chrono::seconds window) const {
  if (window <= std::chrono::seconds(0)) return false;
  window = std::min<std::chrono::seconds>(window, std::chrono::days(366) * kSearchYears);
  // The first firing after t - window is the only one that can have opened a window still
  // open at t; if it is after t, none has.
  const auto fired = next(t - window, zone);
  return fired && *fired <= t;
}

}  // namespace skiff
