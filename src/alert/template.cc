#include "alert/template.h"

#include <cmath>
#include <cstdio>

namespace skiff::alert {

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", value);
  else
    std::snprintf(buf, sizeof buf, "%.4g", value);
  return buf;
}

std::string expandTemplate(std::string_view text, const std::map<std::string, std::string>& labels,
                           double value, const std::string& rule) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    const std::string_view expr = trimmed(text.substr(open + 2, close - open - 2));
    constexpr std::string_view kLabels = "$labels.";
    if (expr == "$value") {
      out += formatValue(value);
    } else if (expr == "$rule") {
      out += rule;
    } else if (expr.substr(0, kLabels.size()) == kLabels) {
      auto it = labels.find(std::string(expr.substr(kLabels.size())));
      if (it != labels.end()) out += it->second;
    } else {
      out.append(text.substr(open, close + 2 - open));
    }
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace skiff::alert
