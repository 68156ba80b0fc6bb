// `skiff alerts`: a tenant's alerts now (GET /api/v1/tenants/{t}/alerts), firing first, with
// how long each has been in its state and whether a silence or an inhibition holds it back.
#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>

#include "cli/output.h"
#include "cli/subcommands.h"

namespace skiff::cli {

namespace {

// Alert times carry milliseconds; ageOf() reads whole seconds.
std::string since(std::string timestamp, std::chrono::system_clock::time_point now) {
  if (timestamp.empty()) return "-";
  if (size_t dot = timestamp.find('.'); dot != std::string::npos) timestamp.erase(dot, 4);
  return ageOf(timestamp, now);
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

int rank(const std::string& state) { return state == "firing" ? 0 : state == "pending" ? 1 : 2; }

}  // namespace

int runAlerts(CommandContext& ctx, const AlertsOptions& options) {
  if (Status s = checkTableOutput(options.output); !s.isOk()) return reportError(ctx.err, s);
  auto answer = ctx.client.request(
      "GET", "/api/v1/tenants/" + urlEncode(options.tenant.effective()) + "/alerts");
  if (!answer.ok()) return reportError(ctx.err, answer.status());
  json items = answer->value("items", json::array());
  std::stable_sort(items.begin(), items.end(), [](const json& a, const json& b) {
    return rank(a.value("state", "")) < rank(b.value("state", ""));
  });
  json sorted = *answer;
  sorted["items"] = items;
  const std::optional<json> rows =
      itemsForTable(sorted, options.output, ctx.out, ctx.err, "alerts");
  if (!rows) return 0;
  const auto now = std::chrono::system_clock::now();
  Table table({"RULE", "STATE", "SINCE", "VALUE", "LABELS", "NOTE"});
  for (const json& a : *rows) {
    const std::string state = a.value("state", "");
    const std::string at = state == "firing"     ? a.value("firingAt", "")
                           : state == "resolved" ? a.value("resolvedAt", "")
                                                 : a.value("activeAt", "");
    std::map<std::string, std::string> labels;
    const json all = a.value("labels", json::object());
    for (auto it = all.begin(); all.is_object() && it != all.end(); ++it)
      if (it->is_string() && it.key() != "alertname" && it.key() != "tenant")
        labels[it.key()] = it->get<std::string>();
    std::string note = a.value("silenced", false)    ? "silenced"
                       : a.value("inhibited", false) ? "inhibited"
                                                     : "";
    const json value = a.value("value", json(nullptr));
    table.addRow({a.value("rule", ""), state, since(at, now),
                  value.is_number() ? number(value.get<double>()) : cellText(value),
                  formatLabels(labels), note.empty() ? "-" : note});
  }
  ctx.out << table.render();
  return 0;
}

}  // namespace skiff::cli
