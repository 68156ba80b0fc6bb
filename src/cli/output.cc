#include "cli/output.h"

#include <ostream>

#include <algorithm>
#include <cctype>

#include "common/assert.h"
#include "common/clock.h"

namespace skiff::cli {

Status checkTableOutput(const std::string& output) {
  if (output.empty() || output == "json") return Status::ok();
  return badRequest("unknown output format \"" + output +
                    "\" for -o/--output: use json, or leave it out for a table");
}

std::optional<json> itemsForTable(const json& listed, const std::string& output, std::ostream& out,
                                  std::ostream& err, const std::string& what) {
  if (output == "json") {
    out << listed.dump(2) << "\n";
    return std::nullopt;
  }
  json items = listed.is_object() ? listed.value("items", json::array()) : json::array();
  if (!items.is_array() || items.empty()) {
    err << "No " << what << " found.\n";
    return std::nullopt;
  }
  return items;
}

void Table::addRow(std::vector<std::string> cells) {
  SKIFF_ASSERT(cells.size() == headers_.size(), "a table row must have one cell per column");
  rows_.push_back(std::move(cells));
}

std::vector<size_t> Table::widths() const {
  std::vector<size_t> w(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) w[c] = headers_[c].size();
  for (const auto& row : rows_)
    for (size_t c = 0; c < row.size(); ++c) w[c] = std::max(w[c], row[c].size());
  return w;
}

std::string Table::layout(const std::vector<std::string>& cells,
                          const std::vector<size_t>& widths) {
  constexpr size_t kGap = 3;
  std::string line;
  for (size_t c = 0; c < cells.size(); ++c) {
    line += cells[c];
    if (c + 1 < cells.size())
      line.append(widths[c] - std::min(widths[c], cells[c].size()) + kGap, ' ');
  }
  line += '\n';
  return line;
}

std::string Table::render() const {
  const std::vector<size_t> w = widths();
  std::string out = layout(headers_, w);
  for (const auto& row : rows_) out += layout(row, w);
  return out;
}

std::string Table::renderLine(const std::vector<std::string>& cells) const {
  return layout(cells, widths());
}

std::string formatAge(std::chrono::seconds age) {
  const int64_t s = std::max<int64_t>(age.count(), 0);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 60 * 60) return std::to_string(s / 60) + "m";
  if (s < 24 * 60 * 60) return std::to_string(s / (60 * 60)) + "h";
  return std::to_string(s / (24 * 60 * 60)) + "d";
}

std::string ageOf(const std::string& timestamp, std::chrono::system_clock::time_point now) {
  std::chrono::system_clock::time_point t;
  if (timestamp.empty() || !parseTimestamp(timestamp, &t)) return "<unknown>";
  return formatAge(std::chrono::duration_cast<std::chrono::seconds>(now - t));
}

std::string lowercaseKind(const KindInfo& kind) {
  std::string out = kind.kind;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string objectRef(const KindInfo& kind, const std::string& name) {
  return lowercaseKind(kind) + ".skiff.dev/" + name;
}

std::string formatLabels(const std::map<std::string, std::string>& labels) {
  if (labels.empty()) return "<none>";
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ',';
    out += k + "=" + v;
  }
  return out;
}

std::string cellText(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    return s.empty() ? "-" : s;
  }
  return value.dump();
}

}  // namespace skiff::cli
