#include "observe/exposition.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "observe/tsdb.h"

namespace skiff::observe {

std::string formatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

namespace {

void appendSeries(const TimeSeriesStore& series, const std::string& name, int64_t from_ms,
                  int64_t now_ms, std::string& out) {
  for (const Series& s : series.select(name, {}, from_ms, now_ms)) {
    if (s.samples.empty()) continue;
    const Sample& last = s.samples.back();
    out += name;
    if (!s.labels.empty()) {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : s.labels) {
        if (!first) out += ',';
        first = false;
        out += k + "=\"" + escapeLabelValue(v) + "\"";
      }
      out += '}';
    }
    out += ' ' + formatSampleValue(last.v) + ' ' + std::to_string(last.t_ms) + '\n';
  }
}

}  // namespace

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string renderExposition(const TimeSeriesStore& series,
                             const std::vector<MetricFamily>& families, int64_t now_ms,
                             std::chrono::milliseconds freshness) {
  std::string out;
  std::set<std::string> done;  // two sources may declare one family (skiff_metrics_source_up)
  const int64_t from_ms = now_ms - freshness.count();
  for (const MetricFamily& f : families) {
    if (!done.insert(f.name).second) continue;
    out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    if (f.type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        appendSeries(series, f.name + suffix, from_ms, now_ms, out);
    } else {
      appendSeries(series, f.name, from_ms, now_ms, out);
    }
  }
  return out;
}

}  // namespace skiff::observe
