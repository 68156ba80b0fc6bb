// `skiff rollout history|diff|undo|pause|resume|promote|abort APP`: reading and steering an
// application's numbered revisions. (`rollout status` follows a rollout; see
// rollout_status_command.cc.)
#include <ostream>

#include "cli/object_update.h"
#include "cli/output.h"
#include "cli/resource_table.h"
#include "cli/revisions.h"
#include "cli/subcommands.h"
#include "cli/unified_diff.h"
#include "model/codec.h"

namespace skiff::cli {

namespace {

// "application shop has no revision 7 (it has 1, 2, 3)".
Status noSuchRevision(const std::string& application, int64_t wanted,
                      const std::vector<json>& revisions) {
  std::string have;
  for (const auto& r : revisions)
    have += (have.empty() ? "" : ", ") + std::to_string(revisionNumber(r));
  return notFound("application " + application + " has no revision " + std::to_string(wanted) +
                  (have.empty() ? " (it has none yet)" : " (it has " + have + ")"));
}

}  // namespace

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
    return reportError(ctx.err, noSuchRevision(options.application, *options.revision, *revisions));
  }

  if (revisions->empty()) {
    ctx.err << "application " << options.application << " has no revisions yet\n";
    return 0;
  }
  Table table({"REVISION", "CREATED", "BY", "CHANGE-CAUSE"});
  for (const auto& r : *revisions)
    table.addRow({std::to_string(revisionNumber(r)), metadataString(r, "createdAt"), changedBy(r),
                  changeCause(r)});
  ctx.out << table.render();
  return 0;
}

int runRolloutDiff(CommandContext& ctx, const RolloutDiffOptions& options) {
  const std::string& tenant = options.tenant.effective();
  auto app = ctx.client.get({findKind("Application"), tenant, options.application});
  if (!app.ok()) return reportError(ctx.err, app.status());
  auto revisions = applicationRevisions(ctx.client, tenant, options.application);
  if (!revisions.ok()) return reportError(ctx.err, revisions.status());
  const json* found[2] = {nullptr, nullptr};
  const int64_t wanted[2] = {options.from, options.to};
  for (int i = 0; i < 2; ++i) {
    for (const auto& r : *revisions)
      if (revisionNumber(r) == wanted[i]) found[i] = &r;
    if (found[i] == nullptr)
      return reportError(ctx.err, noSuchRevision(options.application, wanted[i], *revisions));
  }
  auto label = [](const json& r) {
    return "revision " + std::to_string(revisionNumber(r)) + " (" + changedBy(r) + ": " +
           changeCause(r) + ")";
  };
  const std::string diff =
      unifiedDiff(toYaml(found[0]->value("spec", json::object()).value("template", json::object())),
                  toYaml(found[1]->value("spec", json::object()).value("template", json::object())),
                  {label(*found[0]), label(*found[1]), 3});
  if (diff.empty())
    ctx.out << "revisions " << options.from << " and " << options.to << " have the same spec\n";
  ctx.out << diff;
  return 0;
}

int runRolloutUndo(CommandContext& ctx, const RolloutUndoOptions& options) {
  const std::string& tenant = options.tenant.effective();
  const KindInfo& kind = *findKind("Application");
  const ObjectAddress address{&kind, tenant, options.application};
  auto app = ctx.client.get(address);
  if (!app.ok()) return reportError(ctx.err, app.status());
  auto revisions = applicationRevisions(ctx.client, tenant, options.application);
  if (!revisions.ok()) return reportError(ctx.err, revisions.status());

  const json* target = nullptr;
  if (options.to_revision) {
    for (const auto& r : *revisions)
      if (revisionNumber(r) == *options.to_revision) target = &r;
    if (target == nullptr)
      return reportError(ctx.err,
                         noSuchRevision(options.application, *options.to_revision, *revisions));
  } else {
    // The revision before the latest one the server recorded; before the revision controller
    // has run, the newest revision there is.
    const json status = app->value("status", json());
    const json latest_json = status.is_object() ? status.value("latestRevision", json()) : json();
    const int64_t latest = latest_json.is_number_integer()
                               ? latest_json.get<int64_t>()
                               : (revisions->empty() ? 0 : revisionNumber(revisions->back()));
    for (const auto& r : *revisions)
      if (revisionNumber(r) < latest) target = &r;
    if (target == nullptr)
      return reportError(ctx.err, notFound("application " + options.application +
                                           " has no revision before revision " +
                                           std::to_string(latest) + " to roll back to"));
  }
  const int64_t number = revisionNumber(*target);
  const json template_spec = target->at("spec").value("template", json::object());
  const std::string cause = "rollback to revision " + std::to_string(number);
  // Writing only the change cause would make no revision, yet leave the cause on the
  // application for whatever change comes next.
  if (app->value("spec", json()) == template_spec) {
    ctx.out << objectRef(kind, options.application) << " already runs the spec of revision "
            << number << ": nothing to roll back\n";
    return 0;
  }
  auto written = updateObject(ctx.client, address, [&](json& object) {
    object["spec"] = template_spec;
    object["metadata"]["annotations"][kChangeCauseAnnotation] = cause;
    return Status::ok();
  });
  if (!written.ok()) return reportError(ctx.err, written.status());
  ctx.out << objectRef(kind, options.application) << " rolled back to revision " << number << "\n";
  return 0;
}

int runRolloutPause(CommandContext& ctx, const RolloutPauseOptions& options) {
  const KindInfo& kind = *findKind("Application");
  // null removes the annotation (RFC 7386), so resuming leaves no trace.
  const json value = options.paused ? json("true") : json(nullptr);
  auto patched =
      ctx.client.mergePatch({&kind, options.tenant.effective(), options.application},
                            {{"metadata", {{"annotations", {{kPausedAnnotation, value}}}}}});
  if (!patched.ok()) return reportError(ctx.err, patched.status());
  ctx.out << objectRef(kind, options.application) << (options.paused ? " paused" : " resumed")
          << "\n";
  return 0;
}

int runRolloutPromote(CommandContext& ctx, const RolloutPromoteOptions& options) {
  const KindInfo& kind = *findKind("Application");
  const ObjectAddress address{&kind, options.tenant.effective(), options.application};
  auto app = ctx.client.get(address);
  if (!app.ok()) return reportError(ctx.err, app.status());
  const int64_t revision = app->value("status", json::object()).value("latestRevision", int64_t{0});
  if (revision == 0)
    return reportError(ctx.err,
                       notFound("application " + options.application + " has no revision yet"));
  // The promotion (or abort) names the revision read here, so it cannot act on a later one.
  const std::string value = std::to_string(revision) + (options.full ? ":full" : "");
  const char* annotation = options.abort ? kAbortAnnotation : kPromoteAnnotation;
  auto patched =
      ctx.client.mergePatch(address, {{"metadata", {{"annotations", {{annotation, value}}}}}});
  if (!patched.ok()) return reportError(ctx.err, patched.status());
  ctx.out << objectRef(kind, options.application) << " revision " << revision
          << (options.abort  ? " aborted"
              : options.full ? " promoted to all traffic"
                             : " promoted")
          << "\n";
  return 0;
}

}  // namespace skiff::cli
