// `skiff delete KIND NAME` and `skiff delete -f FILE`.
#include <algorithm>
#include <ostream>

#include "cli/manifest.h"
#include "cli/output.h"
#include "cli/subcommands.h"

namespace skiff::cli {

int runDelete(CommandContext& ctx, const DeleteOptions& options) {
  std::vector<ObjectAddress> targets;
  if (!options.file.empty()) {
    if (!options.kind.empty())
      return reportError(ctx.err, badRequest("give either KIND NAME or -f FILE, not both"));
    auto manifests = loadManifests(
        options.file, ctx.in, {options.tenant.effective(), !options.tenant.tenant.empty(), true});
    if (!manifests.ok()) return reportError(ctx.err, manifests.status());
    for (const auto& m : *manifests) targets.push_back(m.address);
    // Tenants last: the server refuses to delete a tenant that still holds objects.
    std::reverse(targets.begin(), targets.end());
  } else {
    if (options.kind.empty() || options.name.empty())
      return reportError(ctx.err, badRequest("say what to delete: skiff delete KIND NAME, or "
                                             "skiff delete -f FILE"));
    auto kind = resolveKind(options.kind);
    if (!kind.ok()) return reportError(ctx.err, kind.status());
    targets.push_back({*kind, options.tenant.effective(), options.name});
  }

  int exit_code = 0;
  for (const auto& target : targets) {
    const std::string ref = objectRef(*target.kind, target.name);
    auto removed = ctx.client.remove(target);
    if (removed.ok()) {
      ctx.out << ref << " deleted\n" << std::flush;
      continue;
    }
    const Status& s = removed.status();
    if (s.code() == StatusCode::kNotFound && options.ignore_not_found) continue;
    if (s.code() == StatusCode::kUnavailable) return reportError(ctx.err, s);
    exit_code = reportError(ctx.err, Status(s.code(), ref + ": " + s.message(), s.fields()));
  }
  return exit_code;
}

}  // namespace skiff::cli
