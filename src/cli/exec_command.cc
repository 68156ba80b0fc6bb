// `skiff exec APP/COMPONENT[/INSTANCE] [-i] [-t] -- COMMAND...`: runs a command inside a
// running instance through POST /api/v1/tenants/{t}/instances/{name}/exec, prints its output
// and exits with its exit code. Without an instance name, the component's first ready
// instance (by name) is used. -i sends what standard input holds (read to its end first); -t
// runs the command with a terminal, its output merged.
#include <iterator>
#include <ostream>
#include <sstream>

#include "cli/api_client.h"
#include "cli/subcommands.h"
#include "model/kinds.h"
#include "model/well_known.h"

namespace skiff::cli {

namespace {

// The instance `target` names, or the component's first ready one.
Result<std::string> resolveInstance(ApiClient& client, const std::string& tenant,
                                    const std::string& target) {
  std::vector<std::string> parts;
  std::stringstream in(target);
  for (std::string part; std::getline(in, part, '/');) parts.push_back(part);
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return badRequest("cannot read \"" + target +
                      "\": write APPLICATION/COMPONENT or APPLICATION/COMPONENT/INSTANCE");
  if (parts.size() == 3) return parts[2];
  ListQuery query;
  query.kind = findKind("Instance");
  query.tenant = tenant;
  query.label_selector =
      std::string(kApplicationLabel) + "=" + parts[0] + "," + kComponentLabel + "=" + parts[1];
  auto list = client.list(query);
  if (!list.ok()) return list.status();
  const json items = list->value("items", json::array());
  std::string first;
  for (const auto& item : items) {
    const std::string name = item["metadata"].value("name", "");
    if (item.value("status", json::object()).value("ready", false) &&
        (first.empty() || name < first))
      first = name;
  }
  if (first.empty())
    return notFound("component " + parts[1] + " of application " + parts[0] + " in tenant " +
                    tenant + " has no ready instance (skiff get instances -n " + tenant + ")");
  return first;
}

}  // namespace

int runExec(CommandContext& ctx, const ExecOptions& options) {
  if (options.command.empty())
    return reportError(ctx.err,
                       badRequest("give the command after --, e.g. skiff exec shop/web -- ls /"));
  const std::string tenant = options.tenant.effective();
  auto instance = resolveInstance(ctx.client, tenant, options.target);
  if (!instance.ok()) return reportError(ctx.err, instance.status());
  json body = {{"command", options.command}, {"tty", options.tty}};
  if (options.stdin) {
    body["stdin"] = std::string(std::istreambuf_iterator<char>(ctx.in), {});
  }
  auto answer = ctx.client.request(
      "POST",
      "/api/v1/tenants/" + urlEncode(tenant) + "/instances/" + urlEncode(*instance) + "/exec",
      body);
  if (!answer.ok()) return reportError(ctx.err, answer.status());
  ctx.out << answer->value("stdout", "");
  ctx.err << answer->value("stderr", "");
  if (answer->value("timedOut", false)) ctx.err << "error: the command timed out and was killed\n";
  return answer->value("exitCode", 1);
}

}  // namespace skiff::cli
