// `skiff scale APP/COMPONENT=N ...`: sets the replicas of components. A merge patch replaces
// arrays whole, so one component's replicas cannot be patched without sending (and racing on)
// every other component: the change is a read-modify-write of the application instead, one
// write per application however many of its components are named.
#include <charconv>
#include <map>
#include <ostream>
#include <vector>

#include "cli/object_update.h"
#include "cli/output.h"
#include "cli/subcommands.h"
#include "model/well_known.h"

namespace skiff::cli {

namespace {

struct ScaleTarget {
  std::string component;
  int64_t replicas = 0;
};

Result<std::pair<std::string, ScaleTarget>> parseScaleArgument(const std::string& arg) {
  auto bad = [&](const std::string& why) {
    return badRequest("cannot read \"" + arg + "\": " + why +
                      " (write APPLICATION/COMPONENT=REPLICAS, e.g. shop/web=3)");
  };
  const size_t slash = arg.find('/');
  const size_t equals = arg.find('=');
  if (slash == std::string::npos || equals == std::string::npos || equals < slash)
    return bad("it needs a / and an =");
  std::string app = arg.substr(0, slash);
  std::string component = arg.substr(slash + 1, equals - slash - 1);
  const std::string count = arg.substr(equals + 1);
  if (app.empty() || component.empty()) return bad("the application and component are required");
  int64_t replicas = -1;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), replicas);
  if (ec != std::errc() || end != count.data() + count.size() || replicas < 0)
    return bad("the replica count must be a whole number of 0 or more");
  return std::make_pair(std::move(app), ScaleTarget{std::move(component), replicas});
}

// Sets each target's replicas in `app`; the transitions, as "web: 1 → 5", come back in
// `changes`, reset on every attempt so a retry after a conflict reports what it wrote.
Status setReplicas(json& app, const std::vector<ScaleTarget>& targets,
                   std::vector<std::string>& changes) {
  changes.clear();
  json& components = app["spec"]["components"];
  for (const ScaleTarget& t : targets) {
    json* found = nullptr;
    std::string existing;
    for (auto& c : components) {
      const std::string name = c.value("name", "");
      if (name == t.component) found = &c;
      existing += (existing.empty() ? "" : ", ") + name;
    }
    const std::string app_name = app["metadata"].value("name", "");
    if (found == nullptr)
      return notFound("application " + app_name + " has no component \"" + t.component + "\"" +
                      (existing.empty() ? " (it has none)" : " (it has " + existing + ")"));
    const int64_t before = found->value("replicas", int64_t{1});
    (*found)["replicas"] = t.replicas;
    changes.push_back(t.component + ": " + std::to_string(before) + " → " +
                      std::to_string(t.replicas));
  }
  // The new revision's change cause, so that history does not repeat the previous change's.
  std::string cause = "scale";
  for (size_t i = 0; i < changes.size(); ++i) cause += (i == 0 ? " " : ", ") + changes[i];
  app["metadata"]["annotations"][kChangeCauseAnnotation] = cause;
  return Status::ok();
}

}  // namespace

int runScale(CommandContext& ctx, const ScaleOptions& options) {
  // By application, in the order first named, so each gets one write.
  std::vector<std::string> order;
  std::map<std::string, std::vector<ScaleTarget>> by_app;
  for (const std::string& arg : options.targets) {
    auto parsed = parseScaleArgument(arg);
    if (!parsed.ok()) return reportError(ctx.err, parsed.status());
    auto& [app, target] = *parsed;
    if (!by_app.count(app)) order.push_back(app);
    by_app[app].push_back(std::move(target));
  }
  const KindInfo& kind = *findKind("Application");
  int exit_code = 0;
  for (const std::string& app : order) {
    std::vector<std::string> changes;
    auto written =
        updateObject(ctx.client, {&kind, options.tenant.effective(), app},
                     [&](json& object) { return setReplicas(object, by_app[app], changes); });
    if (!written.ok()) {
      const Status& s = written.status();
      if (s.code() == StatusCode::kUnavailable) return reportError(ctx.err, s);
      exit_code = reportError(ctx.err, s);
      continue;
    }
    std::string summary;
    for (const auto& c : changes) summary += (summary.empty() ? "" : ", ") + c;
    ctx.out << objectRef(kind, app) << " scaled (" << summary << ")\n" << std::flush;
  }
  return exit_code;
}

}  // namespace skiff::cli
