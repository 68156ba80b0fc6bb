// `skiff top apps|instances`: what applications and instances use now, from the server's
// metrics (GET /api/v1/tenants/{t}/metrics): cpu, memory, restarts and network per instance;
// instances, cpu, memory, requests, errors and p99 latency per application.
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>

#include "cli/output.h"
#include "cli/subcommands.h"

namespace skiff::cli {

namespace {

// label value of the key -> value, for one instant query.
using Column = std::map<std::string, double>;

Result<Column> queryColumn(CommandContext& ctx, const std::string& tenant, const std::string& query,
                           const std::string& key) {
  auto answer = ctx.client.request(
      "GET", "/api/v1/tenants/" + urlEncode(tenant) + "/metrics?query=" + urlEncode(query));
  if (!answer.ok()) return answer.status();
  Column column;
  for (const json& item : answer->value("result", json::array())) {
    const json metric = item.value("metric", json::object());
    const json value = item.value("value", json::array());
    if (!metric.contains(key) || !value.is_array() || value.size() != 2 || !value[1].is_string())
      continue;
    column[metric[key].get<std::string>()] =
        std::strtod(value[1].get<std::string>().c_str(), nullptr);
  }
  return column;
}

std::string cores(const Column& c, const std::string& key) {
  auto it = c.find(key);
  if (it == c.end() || !std::isfinite(it->second)) return "-";
  return std::to_string(std::llround(it->second * 1000)) + "m";
}

std::string bytes(const Column& c, const std::string& key, bool per_second = false) {
  auto it = c.find(key);
  if (it == c.end() || !std::isfinite(it->second)) return "-";
  static const char* units[] = {"B", "Ki", "Mi", "Gi", "Ti"};
  double v = it->second;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s%s" : "%.1f%s%s", v, units[u],
                per_second ? "/s" : "");
  return buf;
}

std::string number(const Column& c, const std::string& key, const char* format) {
  auto it = c.find(key);
  if (it == c.end() || !std::isfinite(it->second)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, it->second);
  return buf;
}

std::string percentOf(const Column& used, const Column& base, const std::string& key) {
  auto u = used.find(key), b = base.find(key);
  if (u == used.end() || b == base.end() || b->second <= 0) return "-";
  return std::to_string(std::llround(100 * u->second / b->second)) + "%";
}

std::string latency(const Column& c, const std::string& key) {
  auto it = c.find(key);
  if (it == c.end() || !std::isfinite(it->second)) return "-";
  char buf[32];
  if (it->second < 1)
    std::snprintf(buf, sizeof buf, "%.1fms", it->second * 1000);
  else
    std::snprintf(buf, sizeof buf, "%.2fs", it->second);
  return buf;
}

}  // namespace

int runTop(CommandContext& ctx, const TopOptions& options) {
  if (options.what != "apps" && options.what != "instances")
    return reportError(ctx.err, badRequest("skiff top shows \"apps\" or \"instances\", got \"" +
                                           options.what + "\""));
  const std::string& tenant = options.tenant.effective();
  const std::string selector =
      options.application.empty() ? "" : "{application=\"" + options.application + "\"}";
  const bool apps = options.what == "apps";
  const std::string key = apps ? "application" : "instance";
  const std::string by =
      apps ? "sum by (application) " : "sum by (instance, application, component) ";

  struct Query {
    const char* name;
    std::string text;
  };
  std::vector<Query> queries = {
      {"cpu", by + "(rate(skiff_instance_cpu_usage_seconds_total" + selector + "[1m]))"},
      {"memory", by + "(skiff_instance_memory_working_set_bytes" + selector + ")"},
      {"ready", by + "(skiff_instance_ready" + selector + ")"},
  };
  if (apps) {
    queries.push_back({"rps", by + "(rate(skiff_gateway_responses_total[1m]))"});
    queries.push_back({"errors", by + "(rate(skiff_gateway_responses_total{class=\"5xx\"}[1m]))"});
    queries.push_back({"p99",
                       "histogram_quantile(0.99, sum by (application, le) "
                       "(rate(skiff_gateway_request_duration_seconds_bucket[1m])))"});
  } else {
    queries.push_back({"cpu_request", by + "(skiff_instance_cpu_request_cores" + selector + ")"});
    queries.push_back({"memory_limit", by + "(skiff_instance_memory_limit_bytes" + selector + ")"});
    queries.push_back({"restarts", by + "(skiff_instance_restarts_total" + selector + ")"});
    queries.push_back(
        {"rx", by + "(rate(skiff_instance_network_receive_bytes_total" + selector + "[1m]))"});
    queries.push_back(
        {"tx", by + "(rate(skiff_instance_network_transmit_bytes_total" + selector + "[1m]))"});
  }
  std::map<std::string, Column> columns;
  for (const Query& q : queries) {
    auto column = queryColumn(ctx, tenant, q.text, key);
    if (!column.ok()) return reportError(ctx.err, column.status());
    columns[q.name] = std::move(column).value();
  }
  if (options.output == "json") {
    json out = json::object();
    for (const auto& [name, column] : columns)
      for (const auto& [row, value] : column) out[row][name] = value;
    ctx.out << out.dump(2) << "\n";
    return 0;
  }
  if (!options.output.empty())
    return reportError(ctx.err,
                       badRequest("-o/--output must be json, got \"" + options.output + "\""));
  // Rows: everything known to run (ready is measured for every running instance).
  const Column& rows = columns["ready"];
  if (rows.empty()) {
    ctx.err << "No " << (apps ? "applications" : "instances") << " measured in tenant \"" << tenant
            << "\" yet (metrics are collected every 10s).\n";
    return 0;
  }
  if (apps) {
    Table table({"APPLICATION", "READY", "CPU", "MEMORY", "REQ/S", "ERRORS", "P99"});
    for (const auto& [app, ready] : rows)
      table.addRow({app, std::to_string(std::llround(ready)), cores(columns["cpu"], app),
                    bytes(columns["memory"], app), number(columns["rps"], app, "%.1f"),
                    percentOf(columns["errors"], columns["rps"], app),
                    latency(columns["p99"], app)});
    ctx.out << table.render();
    return 0;
  }
  Table table(
      {"INSTANCE", "CPU", "CPU/REQ", "MEMORY", "MEM/LIMIT", "RESTARTS", "NET IN", "NET OUT"});
  for (const auto& [instance, ready] : rows)
    table.addRow({instance, cores(columns["cpu"], instance),
                  percentOf(columns["cpu"], columns["cpu_request"], instance),
                  bytes(columns["memory"], instance),
                  percentOf(columns["memory"], columns["memory_limit"], instance),
                  number(columns["restarts"], instance, "%.0f"),
                  bytes(columns["rx"], instance, true), bytes(columns["tx"], instance, true)});
  ctx.out << table.render();
  return 0;
}

}  // namespace skiff::cli
