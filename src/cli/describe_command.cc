// `skiff describe KIND NAME`: one object for people: its metadata, and for applications the
// components, dependencies, routes, conditions and revisions as tables.
#include <chrono>
#include <ostream>
#include <sstream>

#include "cli/output.h"
#include "cli/resource_table.h"
#include "cli/revisions.h"
#include "cli/subcommands.h"
#include "model/codec.h"

namespace skiff::cli {

namespace {

using Clock = std::chrono::system_clock;

// Prefixes every line of `text` with `indent` spaces.
std::string indented(const std::string& text, size_t indent) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out += std::string(indent, ' ') + line + "\n";
  return out;
}

void field(std::ostream& out, const std::string& label, const std::string& value) {
  constexpr size_t kLabelWidth = 14;
  std::string l = label + ":";
  out << l << std::string(l.size() < kLabelWidth ? kLabelWidth - l.size() : 1, ' ') << value
      << "\n";
}

// A map printed one "k=v" per line, aligned under the first.
void mapField(std::ostream& out, const std::string& label,
              const std::map<std::string, std::string>& values) {
  if (values.empty()) return field(out, label, "<none>");
  bool first = true;
  for (const auto& [k, v] : values) {
    field(out, first ? label : "", k + "=" + v);
    first = false;
  }
}

void section(std::ostream& out, const std::string& title, const Table& table,
             const std::string& when_empty = "<none>") {
  out << title << ":\n";
  out << (table.empty() ? "  " + when_empty + "\n" : indented(table.render(), 2));
}

std::string text(const json& object, const char* key, const std::string& fallback = "-") {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  return cellText(*it);
}

std::string componentRuns(const json& c) {
  if (c.contains("image")) return text(c, "image");
  const json run = c.value("run", json());
  if (!run.is_object()) return "-";
  std::string cmd = text(run, "command", "");
  for (const auto& arg : run.value("args", json::array())) cmd += " " + cellText(arg);
  return cmd.empty() ? "-" : cmd;
}

std::string componentPorts(const json& c) {
  std::string out;
  for (const auto& p : c.value("ports", json::array())) {
    if (!out.empty()) out += ",";
    out += p.is_object() && p.contains("name")
               ? text(p, "name") + ":" + text(p, "port")
               : cellText(p.is_object() ? p.value("port", json()) : p);
  }
  return out.empty() ? "-" : out;
}

void describeApplication(std::ostream& out, const json& app, const json& spec,
                         const std::vector<json>& revisions, Clock::time_point now) {
  Table components({"NAME", "TYPE", "IMAGE/COMMAND", "REPLICAS", "PORTS"});
  Table routes({"COMPONENT", "HOST", "PATH", "PORT"});
  const json all = spec.value("components", json::array());
  for (const auto& c : all.is_array() ? all : json::array()) {
    if (!c.is_object()) continue;
    components.addRow({text(c, "name"), text(c, "type", "service"), componentRuns(c),
                       text(c, "replicas"), componentPorts(c)});
    for (const auto& r : c.value("routes", json::array()))
      routes.addRow({text(c, "name"), text(r, "host"), text(r, "path", "/"), text(r, "port")});
  }
  for (const auto& r : spec.value("routes", json::array()))
    routes.addRow({text(r, "component"), text(r, "host"), text(r, "path", "/"), text(r, "port")});
  section(out, "Components", components);

  out << "Depends On:\n";
  const json deps = spec.value("dependsOn", json::array());
  if (!deps.is_array() || deps.empty()) out << "  <none>\n";
  for (const auto& d : deps.is_array() ? deps : json::array())
    out << "  " << (d.is_object() ? text(d, "from") + " -> " + text(d, "to") : cellText(d)) << "\n";
  section(out, "Routes", routes);

  field(out, "Revision", text(app.value("status", json::object()), "latestRevision"));

  // The autoscaler's last decisions, with the measurements behind them.
  const json scaled = app.value("status", json::object())
                          .value("autoscale", json::object())
                          .value("components", json::object());
  if (scaled.is_object() && !scaled.empty()) {
    Table autoscale({"COMPONENT", "REPLICAS", "AGE", "DECISION", "METRICS"});
    for (auto it = scaled.begin(); it != scaled.end(); ++it) {
      if (!it->is_object()) continue;
      const json decisions = it->value("decisions", json::array());
      for (const auto& d : decisions.is_array() ? decisions : json::array()) {
        std::string metrics;
        const json values = d.value("metrics", json::object());
        for (auto m = values.begin(); m != values.end(); ++m)
          metrics += (metrics.empty() ? "" : " ") + m.key() + "=" + cellText(*m);
        autoscale.addRow({it.key(), text(d, "from") + " → " + text(d, "to"),
                          ageOf(d.value("at", ""), now), text(d, "reason"),
                          metrics.empty() ? "-" : metrics});
      }
      if (it->contains("error"))
        autoscale.addRow({it.key(), text(*it, "replicas"), "-", text(*it, "error"), "-"});
    }
    section(out, "Autoscaling", autoscale);
  }

  Table history({"REVISION", "AGE", "CHANGE-CAUSE"});
  for (const auto& r : revisions)
    history.addRow({std::to_string(revisionNumber(r)), ageOf(metadataString(r, "createdAt"), now),
                    changeCause(r)});
  section(out, "Revisions", history);
}

void describeConditions(std::ostream& out, const json& object, Clock::time_point now) {
  Table conditions({"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"});
  const json status = object.value("status", json::object());
  const json list = status.is_object() ? status.value("conditions", json::array()) : json::array();
  for (const auto& c : list.is_array() ? list : json::array()) {
    if (!c.is_object()) continue;
    conditions.addRow({text(c, "type"), text(c, "status"), text(c, "reason"),
                       ageOf(c.value("lastTransitionTime", ""), now), text(c, "message", "")});
  }
  section(out, "Conditions", conditions);
}

}  // namespace

int runDescribe(CommandContext& ctx, const DescribeOptions& options) {
  auto kind = resolveKind(options.kind);
  if (!kind.ok()) return reportError(ctx.err, kind.status());
  const std::string& tenant = options.tenant.effective();
  auto got = ctx.client.get({*kind, tenant, options.name});
  if (!got.ok()) return reportError(ctx.err, got.status());
  const json& object = *got;
  const bool is_app = (*kind)->kind == std::string_view("Application");
  std::vector<json> revisions;
  if (is_app) {
    auto listed = applicationRevisions(ctx.client, tenant, options.name);
    if (!listed.ok()) return reportError(ctx.err, listed.status());
    revisions = std::move(listed).value();
  }

  const auto now = Clock::now();
  std::ostringstream out;
  field(out, "Name", metadataString(object, "name"));
  field(out, "Kind", (*kind)->kind);
  if ((*kind)->scope == Scope::kTenant) field(out, "Tenant", metadataString(object, "tenant"));
  field(out, "UID", metadataString(object, "uid"));
  const std::string created = metadataString(object, "createdAt");
  field(out, "Created", created + " (" + ageOf(created, now) + " ago)");
  // Generation and what the controllers have caught up with: a lag means work in progress.
  field(out, "Generation",
        metadataString(object, "generation") + " (observed: " +
            text(object.value("status", json::object()), "observedGeneration") + ")");
  mapField(out, "Labels", metadataMap(object, "labels"));
  mapField(out, "Annotations", metadataMap(object, "annotations"));

  const json spec = object.value("spec", json::object());
  if (is_app) {
    describeApplication(out, object, spec, revisions, now);
  } else {
    out << "Spec:\n" << indented(toYaml(spec), 2);
    json status = object.value("status", json::object());
    if (status.is_object()) status.erase("conditions");
    if (!status.empty()) out << "Status:\n" << indented(toYaml(status), 2);
  }
  describeConditions(out, object, now);
  ctx.out << out.str();
  return 0;
}

}  // namespace skiff::cli
