#include "observe/prometheus_text.h"

#include <cmath>
#include <cstdlib>

namespace skiff::observe {
namespace {

bool nameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool nameChar(char c) { return nameStart(c) || (c >= '0' && c <= '9'); }

// The value of a sample: a float, or +Inf, -Inf, NaN as the format spells them.
bool parseValue(std::string_view s, double& out) {
  if (s == "+Inf" || s == "Inf") {
    out = INFINITY;
    return true;
  }
  if (s == "-Inf") {
    out = -INFINITY;
    return true;
  }
  if (s == "NaN") {
    out = NAN;
    return true;
  }
  if (s.empty()) return false;
  std::string copy(s);  // strtod needs a terminator
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
}

// One sample line; an error message (without the line number) when it is not one.
std::string parseLine(std::string_view line, MetricSample& sample) {
  size_t i = 0;
  if (!nameStart(line[0])) return "a sample must start with a metric name";
  while (i < line.size() && nameChar(line[i])) ++i;
  sample.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      const size_t start = i;
      if (i >= line.size() || !nameStart(line[i])) return "expected a label name";
      while (i < line.size() && nameChar(line[i])) ++i;
      std::string label(line.substr(start, i - start));
      if (i >= line.size() || line[i] != '=') return "expected = after label " + label;
      if (++i >= line.size() || line[i] != '"') return "expected a quoted value for " + label;
      ++i;
      std::string value;
      for (;;) {
        if (i >= line.size()) return "unterminated value of label " + label;
        const char c = line[i++];
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (i >= line.size()) return "unterminated value of label " + label;
        const char e = line[i++];
        if (e == 'n')
          value += '\n';
        else if (e == '\\' || e == '"')
          value += e;
        else
          return "unknown escape \\" + std::string(1, e) + " in label " + label;
      }
      sample.labels[label] = std::move(value);
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return "expected , or } after label " + label;
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return "expected a value";
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  size_t end = i;
  while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
  if (!parseValue(line.substr(i, end - i), sample.value))
    return "value \"" + std::string(line.substr(i, end - i)) + "\" is not a number";
  // An optional timestamp (milliseconds) follows; nothing else may.
  while (end < line.size() && (line[end] == ' ' || line[end] == '\t')) ++end;
  if (end < line.size()) {
    const std::string_view rest = line.substr(end);
    for (size_t k = 0; k < rest.size(); ++k)
      if (!((rest[k] >= '0' && rest[k] <= '9') || (k == 0 && rest[k] == '-')))
        return "unexpected \"" + std::string(rest) + "\" after the value";
  }
  return "";
}

}  // namespace

Result<std::vector<MetricSample>> parsePrometheusText(std::string_view text) {
  std::vector<MetricSample> samples;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    MetricSample sample;
    if (std::string problem = parseLine(line, sample); !problem.empty())
      return badRequest("metrics line " + std::to_string(line_number) + ": " + problem);
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace skiff::observe
