// `skiff events [APP]`: what happened to a tenant's instances and applications (or one
// application's), oldest first, as the EventController recorded it.
#include <algorithm>
#include <ostream>

#include "cli/output.h"
#include "cli/subcommands.h"
#include "model/well_known.h"

namespace skiff::cli {

int runEvents(CommandContext& ctx, const EventsOptions& options) {
  if (Status s = checkTableOutput(options.output); !s.isOk()) return reportError(ctx.err, s);
  if (!options.type.empty() && options.type != "Normal" && options.type != "Warning")
    return reportError(
        ctx.err, badRequest("--type must be Normal or Warning, got \"" + options.type + "\""));
  ListQuery query;
  query.kind = findKind("Event");
  query.tenant = options.tenant.effective();
  if (!options.application.empty())
    query.label_selector = std::string(kApplicationLabel) + "=" + options.application;
  auto listed = ctx.client.list(query);
  if (!listed.ok()) return reportError(ctx.err, listed.status());
  json items = listed->value("items", json::array());
  if (!options.type.empty()) {
    json kept = json::array();
    for (const json& e : items)
      if (e.value("spec", json::object()).value("type", "") == options.type) kept.push_back(e);
    items = std::move(kept);
  }
  std::stable_sort(items.begin(), items.end(), [](const json& a, const json& b) {
    return a.value("spec", json::object()).value("lastAt", "") <
           b.value("spec", json::object()).value("lastAt", "");
  });
  json sorted = *listed;
  sorted["items"] = items;
  const std::optional<json> rows =
      itemsForTable(sorted, options.output, ctx.out, ctx.err, "events");
  if (!rows) return 0;
  const auto now = std::chrono::system_clock::now();
  Table table({"LAST", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"});
  for (const json& e : *rows) {
    const json spec = e.value("spec", json::object());
    const json about = spec.value("object", json::object());
    table.addRow({ageOf(spec.value("lastAt", ""), now), spec.value("type", ""),
                  spec.value("reason", ""),
                  about.value("kind", "") == "Instance" ? "instance/" + about.value("name", "")
                                                        : "app/" + about.value("name", ""),
                  std::to_string(spec.value("count", 1)), spec.value("message", "")});
  }
  ctx.out << table.render();
  return 0;
}

}  // namespace skiff::cli
