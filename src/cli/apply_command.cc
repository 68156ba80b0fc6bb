// `skiff apply -f`: creates or replaces each object of the given files, telling the user per
// object whether it was created, configured (changed) or unchanged.
#include <ostream>

#include "cli/manifest.h"
#include "cli/object_update.h"
#include "cli/output.h"
#include "cli/subcommands.h"

namespace skiff::cli {

namespace {

// Attempts per object when another writer gets in between our GET and our write (a 409): the
// next attempt starts from a fresh GET.
constexpr int kApplyAttempts = 3;

// "created", "configured" or "unchanged".
Result<std::string> applyOne(ApiClient& client, const Manifest& m) {
  for (int attempt = 1;; ++attempt) {
    const bool last = attempt == kApplyAttempts;
    auto live = client.get(m.address);
    if (!live.ok() && live.status().code() != StatusCode::kNotFound) return live.status();
    if (!live.ok()) {
      auto created = client.create(m.address, m.document);
      if (created.ok()) return std::string("created");
      if (created.status().code() == StatusCode::kAlreadyExists && !last) continue;
      return created.status();
    }
    const int64_t before = resourceVersionOf(*live);
    auto replaced = client.replace(m.address, replacementFor(m.document, *live));
    if (replaced.ok())
      return std::string(resourceVersionOf(*replaced) == before ? "unchanged" : "configured");
    const StatusCode code = replaced.status().code();
    if ((code == StatusCode::kConflict || code == StatusCode::kNotFound) && !last) continue;
    return replaced.status();
  }
}

}  // namespace

int runApply(CommandContext& ctx, const ApplyOptions& options) {
  auto manifests = loadManifests(
      options.file, ctx.in, {options.tenant.effective(), !options.tenant.tenant.empty(), true});
  if (!manifests.ok()) return reportError(ctx.err, manifests.status());
  int exit_code = 0;
  for (const Manifest& m : *manifests) {
    const std::string ref = objectRef(*m.address.kind, m.address.name);
    auto outcome = applyOne(ctx.client, m);
    if (outcome.ok()) {
      ctx.out << ref << " " << *outcome << "\n" << std::flush;
      continue;
    }
    const Status& s = outcome.status();
    // Nothing more can succeed without the server; say so once.
    if (s.code() == StatusCode::kUnavailable) return reportError(ctx.err, s);
    exit_code = reportError(ctx.err, Status(s.code(), ref + ": " + s.message(), s.fields()));
  }
  return exit_code;
}

}  // namespace skiff::cli
