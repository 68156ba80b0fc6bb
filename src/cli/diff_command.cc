// `skiff diff -f FILE`: what apply would change, computed by the server (a dry run applies
// defaults and validation exactly as a real write would) and shown as a unified diff of YAML.
#include <ostream>

#include "cli/manifest.h"
#include "cli/object_update.h"
#include "cli/output.h"
#include "cli/subcommands.h"
#include "cli/unified_diff.h"
#include "model/codec.h"

namespace skiff::cli {

namespace {

constexpr int kExitDifferent = 1;
constexpr int kExitError = 2;

// Fields the server manages: they differ between any two versions and say nothing about what
// the user changed.
json withoutServerFields(json object) {
  object.erase("status");
  if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
    for (const char* f : {"resourceVersion", "generation", "uid", "createdAt"}) meta->erase(f);
  }
  return object;
}

std::string diffPath(const ObjectAddress& a) {
  const std::string kind = lowercaseKind(*a.kind);
  return a.kind->scope == Scope::kTenant ? kind + "/" + a.tenant + "/" + a.name
                                         : kind + "/" + a.name;
}

struct Comparison {
  std::string live_yaml;    // "" when the object does not exist yet
  std::string merged_yaml;  // what the server would store
};

Result<Comparison> compareOnce(ApiClient& client, const Manifest& m) {
  auto live = client.get(m.address);
  if (!live.ok() && live.status().code() != StatusCode::kNotFound) return live.status();
  Comparison c;
  if (!live.ok()) {
    auto merged = client.create(m.address, m.document, /*dry_run=*/true);
    if (!merged.ok()) return merged.status();
    c.merged_yaml = toYaml(withoutServerFields(*merged));
    return c;
  }
  auto merged = client.replace(m.address, replacementFor(m.document, *live), /*dry_run=*/true);
  if (!merged.ok()) return merged.status();
  c.live_yaml = toYaml(withoutServerFields(*live));
  c.merged_yaml = toYaml(withoutServerFields(*merged));
  return c;
}

// Controllers write status between our read and the dry run; a conflict means "read again".
Result<Comparison> compare(ApiClient& client, const Manifest& m) {
  for (int attempt = 1;; ++attempt) {
    auto c = compareOnce(client, m);
    if (c.ok() || c.status().code() != StatusCode::kConflict || attempt == 5) return c;
  }
}

}  // namespace

int runDiff(CommandContext& ctx, const DiffOptions& options) {
  auto manifests = loadManifests(
      options.file, ctx.in, {options.tenant.effective(), !options.tenant.tenant.empty(), true});
  if (!manifests.ok()) {
    reportError(ctx.err, manifests.status());
    return kExitError;
  }
  bool different = false;
  bool failed = false;
  for (const Manifest& m : *manifests) {
    auto c = compare(ctx.client, m);
    if (!c.ok()) {
      const Status& s = c.status();
      if (s.code() == StatusCode::kUnavailable) {
        reportError(ctx.err, s);
        return kExitError;
      }
      reportError(ctx.err, Status(s.code(), diffPath(m.address) + ": " + s.message(), s.fields()));
      failed = true;
      continue;
    }
    const std::string path = diffPath(m.address);
    std::string diff =
        unifiedDiff(c->live_yaml, c->merged_yaml, {"live/" + path, "merged/" + path, 3});
    if (diff.empty()) continue;
    different = true;
    ctx.out << diff;
  }
  ctx.out << std::flush;
  if (failed) return kExitError;
  return different ? kExitDifferent : 0;
}

}  // namespace skiff::cli
