#include "model/formats.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <vector>

#include "common/cron.h"
#include "model/validation.h"

namespace skiff {
namespace {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Quotes a value for a message the way JSON would, so the user sees exactly what was sent.
std::string shown(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
std::string shown(std::string_view text) { return shown(nlohmann::json(std::string(text))); }

// Splits "a,b,c" on `sep`, keeping empty parts.
std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

// A non-negative decimal number without sign or exponent ("12", "0.5", ".5"); nullopt otherwise.
std::optional<double> parseDecimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int digits = 0;
  int dots = 0;
  for (char c : text) {
    if (isDigit(c)) {
      ++digits;
    } else if (c == '.') {
      ++dots;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0 || dots > 1) return std::nullopt;
  double out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(out))
    return std::nullopt;
  return out;
}

std::optional<int64_t> parseSmallInt(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int64_t out = 0;
  for (char c : text) {
    if (!isDigit(c)) return std::nullopt;
    out = out * 10 + (c - '0');
  }
  return out;
}

// Docker's repository path component: [a-z0-9]+ joined by '.', '_', '__' or runs of '-'.
bool isRepositoryComponent(std::string_view part) {
  if (part.empty() || !isLowerAlnum(part.front()) || !isLowerAlnum(part.back())) return false;
  for (size_t i = 0; i < part.size(); ++i) {
    char c = part[i];
    if (isLowerAlnum(c) || c == '-') continue;
    if (c == '.' || c == '_') {
      // Separators other than '-' cannot repeat, except "__".
      if (c == '_' && i + 1 < part.size() && part[i + 1] == '_') {
        ++i;
        if (i + 1 < part.size() && !isLowerAlnum(part[i + 1])) return false;
        continue;
      }
      if (i + 1 < part.size() && !isLowerAlnum(part[i + 1])) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool isRegistryHost(std::string_view host) {
  std::string_view name = host;
  if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    auto n = parseSmallInt(port);
    if (!n || *n < 1 || *n > 65535) return false;
    name = host.substr(0, colon);
  }
  if (name.empty() || name.size() > 253) return false;
  for (auto label : split(name, '.')) {
    if (label.empty() || label.size() > 63 || !isAlnum(label.front()) || !isAlnum(label.back()))
      return false;
    for (char c : label)
      if (!isAlnum(c) && c != '-') return false;
  }
  return true;
}

bool isImageRef(std::string_view ref) {
  if (ref.empty() || ref.size() > 512) return false;
  std::string_view rest = ref;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.size() != 7 + 64 || digest.substr(0, 7) != "sha256:") return false;
    for (char c : digest.substr(7))
      if (!isDigit(c) && !(c >= 'a' && c <= 'f')) return false;
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' (a registry port comes before it).
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (tag.empty() || tag.size() > 128 || !(isAlnum(tag[0]) || tag[0] == '_')) return false;
    for (char c : tag)
      if (!isAlnum(c) && c != '_' && c != '.' && c != '-') return false;
    rest = rest.substr(0, colon);
  }
  auto parts = split(rest, '/');
  size_t first = 0;
  // Docker's rule: the first component names a registry if it looks like a host.
  if (parts.size() > 1 &&
      (parts[0].find_first_of(".:") != std::string_view::npos || parts[0] == "localhost")) {
    if (!isRegistryHost(parts[0])) return false;
    first = 1;
  }
  for (size_t i = first; i < parts.size(); ++i)
    if (!isRepositoryComponent(parts[i])) return false;
  return true;
}

bool isLabelName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !isAlnum(name.front()) || !isAlnum(name.back()))
    return false;
  for (char c : name)
    if (!isAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

bool isEnvName(std::string_view name) {
  if (name.empty() || isDigit(name[0])) return false;
  for (char c : name)
    if (!isAlnum(c) && c != '_') return false;
  return true;
}

std::optional<double> quantityNumber(const nlohmann::json& value) {
  if (!value.is_number()) return std::nullopt;
  double d = value.get<double>();
  if (!std::isfinite(d) || d < 0) return std::nullopt;
  return d;
}

// Kubernetes' memory suffixes; the empty suffix is bytes.
std::optional<double> memoryMultiplier(std::string_view suffix) {
  static const std::pair<const char*, double> kSuffixes[] = {
      {"", 1},
      {"k", 1e3},
      {"K", 1e3},
      {"M", 1e6},
      {"G", 1e9},
      {"T", 1e12},
      {"P", 1e15},
      {"E", 1e18},
      {"Ki", 1024.0},
      {"Mi", 1024.0 * 1024},
      {"Gi", 1024.0 * 1024 * 1024},
      {"Ti", 1024.0 * 1024 * 1024 * 1024},
      {"Pi", 1024.0 * 1024 * 1024 * 1024 * 1024},
      {"Ei", 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024},
  };
  for (const auto& [name, multiplier] : kSuffixes)
    if (suffix == name) return multiplier;
  return std::nullopt;
}

}  // namespace

bool isDnsLabel(std::string_view name) {
  if (name.empty() || name.size() > 63 || !isLowerAlnum(name.front()) || !isLowerAlnum(name.back()))
    return false;
  for (char c : name)
    if (!isLowerAlnum(c) && c != '-') return false;
  return true;
}

bool isDnsSubdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (auto label : split(name, '.'))
    if (!isDnsLabel(label)) return false;
  return true;
}

std::string labelKeyError(std::string_view key) {
  std::string_view name = key;
  if (size_t slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    if (!isDnsSubdomain(prefix))
      return "the prefix " + shown(prefix) +
             " must be a DNS subdomain (lowercase dot-separated DNS labels, at most 253 "
             "characters)";
    name = key.substr(slash + 1);
  }
  if (!isLabelName(name))
    return "the name " + shown(name) +
           " must be 1-63 characters of letters, digits, '-', '_' and '.', starting and ending "
           "with a letter or digit";
  return {};
}

std::string labelValueError(std::string_view value) {
  if (value.empty() || isLabelName(value)) return {};
  return "must be at most 63 characters of letters, digits, '-', '_' and '.', starting and "
         "ending with a letter or digit (or empty)";
}

std::optional<double> parseDurationSeconds(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return 0.0;
  static const std::pair<const char*, double> kUnits[] = {
      {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"ms", 1e-3},
      {"s", 1},     {"m", 60},    {"h", 3600},
  };
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (isDigit(text[i]) || text[i] == '.')) ++i;
    auto number = parseDecimal(text.substr(start, i - start));
    if (!number) return std::nullopt;
    size_t unit_start = i;
    while (i < text.size() && !isDigit(text[i]) && text[i] != '.') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    bool found = false;
    for (const auto& [name, seconds] : kUnits) {
      if (unit == name) {
        total += *number * seconds;
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
  }
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

std::optional<int64_t> parseCpuMillis(const nlohmann::json& value) {
  std::optional<double> cores = quantityNumber(value);
  if (value.is_string()) {
    std::string_view text = value.get_ref<const std::string&>();
    if (!text.empty() && text.back() == 'm') {
      auto millis = parseDecimal(text.substr(0, text.size() - 1));
      if (!millis || *millis > 1e15) return std::nullopt;
      return static_cast<int64_t>(std::ceil(*millis));
    }
    cores = parseDecimal(text);
  }
  if (!cores || *cores > 1e12) return std::nullopt;
  return static_cast<int64_t>(std::ceil(*cores * 1000));
}

std::optional<int64_t> parseMemoryBytes(const nlohmann::json& value) {
  std::optional<double> bytes = quantityNumber(value);
  if (value.is_string()) {
    std::string_view text = value.get_ref<const std::string&>();
    size_t number_end = 0;
    while (number_end < text.size() && (isDigit(text[number_end]) || text[number_end] == '.'))
      ++number_end;
    auto number = parseDecimal(text.substr(0, number_end));
    auto multiplier = memoryMultiplier(text.substr(number_end));
    if (!number || !multiplier) return std::nullopt;
    bytes = *number * *multiplier;
  }
  // Past 2^62 bytes the value cannot be held exactly, and no machine has that much memory.
  if (!bytes || *bytes > 4.6e18) return std::nullopt;
  return static_cast<int64_t>(std::ceil(*bytes));
}

std::string cronError(std::string_view schedule) {
  auto parsed = CronSchedule::parse(schedule);
  return parsed.ok() ? std::string() : parsed.status().message();
}

namespace {

using FormatCheck = std::function<std::string(const nlohmann::json&)>;

struct Format {
  const char* name;
  FormatCheck check;
};

// Wraps a predicate over strings with the standard "must be X, got Y" message.
FormatCheck stringFormat(bool (*valid)(std::string_view), const char* what) {
  return [valid, what](const nlohmann::json& value) -> std::string {
    if (!value.is_string()) return {};
    if (valid(value.get_ref<const std::string&>())) return {};
    return std::string("must be ") + what + ", got " + shown(value);
  };
}

const std::vector<Format>& formats() {
  static const std::vector<Format> kFormats = {
      {"dns-label",
       stringFormat(isDnsLabel,
                    "a DNS label (lowercase letters, digits and '-', 1-63 characters, starting "
                    "and ending with a letter or digit)")},
      {"hostname", stringFormat(
                       [](std::string_view s) {
                         if (s.substr(0, 2) == "*.") s.remove_prefix(2);
                         return isDnsSubdomain(s);
                       },
                       "a host name (lowercase dot-separated DNS labels, at most 253 characters, "
                       "optionally starting with \"*.\")")},
      {"http-path", stringFormat(
                        [](std::string_view s) {
                          if (s.empty() || s[0] != '/') return false;
                          for (char c : s)
                            if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
                          return true;
                        },
                        "an HTTP path starting with '/' without spaces or control characters")},
      {"duration",
       stringFormat([](std::string_view s) { return parseDurationSeconds(s).has_value(); },
                    "a duration like \"500ms\", \"30s\", \"5m\" or \"1h30m\"")},
      {"cpu-quantity",
       [](const nlohmann::json& value) -> std::string {
         if (!value.is_string() && !value.is_number()) return {};
         if (parseCpuMillis(value)) return {};
         return "must be a CPU quantity like \"500m\", \"0.5\" or \"2\" (cores), got " +
                shown(value);
       }},
      {"memory-quantity",
       [](const nlohmann::json& value) -> std::string {
         if (!value.is_string() && !value.is_number()) return {};
         if (parseMemoryBytes(value)) return {};
         return "must be a memory quantity like \"256Mi\", \"1.5Gi\", \"512M\" or a number of "
                "bytes, got " +
                shown(value);
       }},
      {"int-or-percent",
       [](const nlohmann::json& value) -> std::string {
         if (value.is_number_integer() && value.get<int64_t>() >= 0) return {};
         if (value.is_string()) {
           const auto& s = value.get_ref<const std::string&>();
           if (s.size() >= 2 && s.back() == '%') {
             auto n = parseSmallInt(std::string_view(s).substr(0, s.size() - 1));
             if (n && *n <= 100) return {};
           }
         }
         return "must be a non-negative integer or a percentage from \"0%\" to \"100%\", got " +
                shown(value);
       }},
      {"cron",
       [](const nlohmann::json& value) -> std::string {
         if (!value.is_string()) return {};
         std::string error = cronError(value.get_ref<const std::string&>());
         if (error.empty()) return {};
         return "must be a cron schedule (\"minute hour day-of-month month day-of-week\" or "
                "@hourly, @daily, @weekly, @monthly, @yearly): " +
                error + ", got " + shown(value);
       }},
      {"image-ref", stringFormat(isImageRef,
                                 "an image reference like \"registry.example:5000/team/app:1.2\" "
                                 "(lowercase repository path, optional :tag and @sha256:digest)")},
      {"env-name",
       stringFormat(isEnvName,
                    "an environment variable name (letters, digits and '_', not starting with "
                    "a digit)")},
      {"label-key",
       [](const nlohmann::json& value) -> std::string {
         if (!value.is_string()) return {};
         std::string error = labelKeyError(value.get_ref<const std::string&>());
         if (error.empty()) return {};
         return "must be a label key ([prefix/]name): " + error;
       }},
      {"absolute-path", stringFormat(
                            [](std::string_view s) {
                              if (s.empty() || s[0] != '/' ||
                                  s.find('\0') != std::string_view::npos)
                                return false;
                              for (auto part : split(s, '/'))
                                if (part == "..") return false;
                              return true;
                            },
                            "an absolute path (starting with '/', without \"..\" segments)")},
  };
  return kFormats;
}

}  // namespace

bool isKnownFormat(std::string_view format) {
  for (const auto& f : formats())
    if (format == f.name) return true;
  return false;
}

std::string checkFormat(std::string_view format, const nlohmann::json& value) {
  for (const auto& f : formats())
    if (format == f.name) return f.check(value);
  return {};
}

}  // namespace skiff
