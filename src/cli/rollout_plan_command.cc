// `skiff rollout plan -f FILE`: what applying the file's applications would do, without doing
// it. The server works the plan out (controller/deploy_plan.h) after admitting each document as
// a write would; this prints it for people: the spec diff, then per component the schedule of
// weights, pauses and instances, the analysis that gates it, and the quota's answer.
#include <ostream>

#include "cli/manifest.h"
#include "cli/output.h"
#include "cli/subcommands.h"
#include "cli/unified_diff.h"
#include "model/codec.h"

namespace skiff::cli {

namespace {

std::string instances(int n) { return std::to_string(n) + (n == 1 ? " instance" : " instances"); }

// "+1 started, 4 stopped" for a step, or "" when it starts and stops nothing.
std::string churn(const json& step) {
  std::string out;
  if (int started = step.value("start", 0); started > 0)
    out = "+" + std::to_string(started) + " started";
  if (int stopped = step.value("stop", 0); stopped > 0)
    out += (out.empty() ? "" : ", ") + std::to_string(stopped) + " stopped";
  return out;
}

void printComponent(std::ostream& out, const json& c) {
  const std::string change = c.value("change", "");
  out << "component " << c.value("name", "") << ": " << change;
  if (change == "release") out << " (" << c.value("strategy", "") << ")";
  out << "\n";
  int n = 0;
  for (const auto& step : c.value("steps", json::array())) {
    std::string line;
    if (step.value("promote", false)) {
      line = "promote: all traffic to the new revision";
      if (int warm = step.value("warm", 0); warm > 0)
        line += ", the old " + instances(warm) + " kept warm without traffic";
    } else if (step.contains("weight")) {
      line = "step " + std::to_string(++n) + ": " + std::to_string(step.value("weight", 0)) +
             "% of traffic to " + instances(step.value("canaryInstances", 0)) +
             " of the new revision";
      if (step.contains("pause")) line += ", then a pause of " + step.value("pause", "");
      if (step.contains("gate")) line += ", then waits for `" + step.value("gate", "") + "`";
    } else {
      line = step.value("note", "instances");
    }
    if (std::string c = churn(step); !c.empty()) line += " (" + c + ")";
    if (step.contains("atSeconds"))
      line += "  [from " + std::to_string(step.value("atSeconds", 0)) + "s]";
    if (step.contains("note") && step.contains("weight")) line += " — " + step.value("note", "");
    out << "  " << line << "\n";
  }
  if (const json a = c.value("analysis", json()); a.is_object()) {
    out << "  analysis, judged about once a second while the new revision takes traffic: error "
           "rate "
        << a.value("errorRate", "") << " over " << a.value("interval", "") << " (at least "
        << a.value("minRequests", 0) << " requests)";
    if (a.contains("p99")) out << ", p99 latency " << a.value("p99", "");
    for (const auto& check : a.value("checks", json::array()))
      out << ", " << check.get<std::string>() << " on every new instance";
    out << "; " << a.value("failureLimit", 1) << " breach(es) in a row abort\n";
  }
  if (change == "release")
    out << "  takes at least " << c.value("minimumSeconds", 0)
        << "s (each step also waits for its instances to be ready)\n";
}

}  // namespace

int runRolloutPlan(CommandContext& ctx, const RolloutPlanOptions& options) {
  auto manifests = loadManifests(
      options.file, ctx.in, {options.tenant.effective(), !options.tenant.tenant.empty(), true});
  if (!manifests.ok()) return reportError(ctx.err, manifests.status());
  bool refused = false;
  for (const Manifest& m : *manifests) {
    if (m.address.kind->kind != std::string_view("Application")) continue;
    auto plan = ctx.client.request(
        "POST", "/api/v1/tenants/" + m.address.tenant + "/applications/" + m.address.name + "/plan",
        m.document);
    if (!plan.ok()) return reportError(ctx.err, plan.status());
    const json& p = *plan;
    ctx.out << "application " << m.address.name << ": ";
    if (p["nextRevision"].is_null()) {
      ctx.out << "no change (revision " << p.value("currentRevision", 0) << " stays)\n";
      continue;
    }
    if (p.value("currentRevision", 0) == 0)
      ctx.out << "new, revision " << p["nextRevision"] << "\n";
    else
      ctx.out << "revision " << p.value("currentRevision", 0) << " -> " << p["nextRevision"]
              << "\n";
    const std::string before =
        p.value("currentSpec", json()).is_null() ? "" : toYaml(p["currentSpec"]);
    ctx.out << unifiedDiff(
        before, toYaml(p["spec"]),
        {"revision " + std::to_string(p.value("currentRevision", 0)), options.file, 3});
    for (const auto& c : p.value("components", json::array()))
      if (c.value("change", "") != "none") printComponent(ctx.out, c);
    if (p["quota"].value("allowed", false)) {
      ctx.out << "quota: the tenant's quota allows it, surge included\n";
    } else {
      ctx.out << "quota: refused: " << p["quota"].value("problem", "") << "\n";
      refused = true;
    }
  }
  ctx.out << std::flush;
  return refused ? 1 : 0;
}

}  // namespace skiff::cli
