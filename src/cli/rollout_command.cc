// `skiff rollout history APP [--revision N]`: the numbered revisions Skiff keeps of an
// application, or one revision's template.
#include <ostream>

#include "cli/output.h"
#include "cli/resource_table.h"
#include "cli/revisions.h"
#include "cli/subcommands.h"
#include "model/codec.h"

namespace skiff::cli {

int runRolloutHistory(CommandContext& ctx, const RolloutHistoryOptions& options) {
  const std::string& tenant = options.tenant.effective();
  // The application must exist: an empty history of a misspelt name would mislead.
  auto app = ctx.client.get({findKind("Application"), tenant, options.application});
  if (!app.ok()) return reportError(ctx.err, app.status());
  auto revisions = applicationRevisions(ctx.client, tenant, options.application);
  if (!revisions.ok()) return reportError(ctx.err, revisions.status());

  if (options.revision) {
    for (const auto& r : *revisions) {
      if (revisionNumber(r) != *options.revision) continue;
      ctx.out << toYaml(r["spec"].value("template", json::object()));
      return 0;
    }
    std::string have;
    for (const auto& r : *revisions)
      have += (have.empty() ? "" : ", ") + std::to_string(revisionNumber(r));
    return reportError(ctx.err,
                       notFound("application " + options.application + " has no revision " +
                                std::to_string(*options.revision) +
                                (have.empty() ? " (it has none yet)" : " (it has " + have + ")")));
  }

  if (revisions->empty()) {
    ctx.err << "application " << options.application << " has no revisions yet\n";
    return 0;
  }
  Table table({"REVISION", "CREATED", "CHANGE-CAUSE"});
  for (const auto& r : *revisions)
    table.addRow(
        {std::to_string(revisionNumber(r)), metadataString(r, "createdAt"), changeCause(r)});
  ctx.out << table.render();
  return 0;
}

}  // namespace skiff::cli
