// `skiff audit` and `skiff audit verify`: reading the server's audit trail (/api/v1/audit) and
// asking the server to check its hash chain.
#include <chrono>
#include <cmath>
#include <ostream>
#include <vector>

#include "cli/output.h"
#include "cli/subcommands.h"
#include "common/clock.h"
#include "model/formats.h"

namespace skiff::cli {

namespace {

// --since as the RFC 3339 time the server filters by: a duration back from now, or a time.
Result<std::string> sinceTime(const std::string& since) {
  if (since.find('T') != std::string::npos) return since;
  auto seconds = parseDurationSeconds(since);
  if (!seconds || *seconds <= 0)
    return badRequest(
        "--since must be a duration like 30m, 1h or 24h, or an RFC 3339 time like "
        "2026-11-22T05:09:30Z, got \"" +
        since + "\"");
  const auto back = std::chrono::seconds(std::llround(std::ceil(*seconds)));
  return formatTimestamp(std::chrono::system_clock::now() - back);
}

std::string text(const json& entry, const char* field) {
  return entry.is_object() ? cellText(entry.value(field, json())) : "-";
}

}  // namespace

int runAudit(CommandContext& ctx, const AuditOptions& options) {
  if (Status s = checkTableOutput(options.output); !s.isOk()) return reportError(ctx.err, s);
  if (options.limit && *options.limit < 1)
    return reportError(ctx.err, badRequest("--limit must be 1 or more entries, got " +
                                           std::to_string(*options.limit)));
  std::vector<std::string> query;
  if (!options.user.empty()) query.push_back("user=" + urlEncode(options.user));
  if (!options.tenant.empty()) query.push_back("tenant=" + urlEncode(options.tenant));
  if (!options.since.empty()) {
    auto since = sinceTime(options.since);
    if (!since.ok()) return reportError(ctx.err, since.status());
    query.push_back("since=" + urlEncode(*since));
  }
  if (options.limit) query.push_back("limit=" + std::to_string(*options.limit));
  std::string target = "/api/v1/audit";
  for (size_t i = 0; i < query.size(); ++i) target += (i == 0 ? "?" : "&") + query[i];

  auto listed = ctx.client.request("GET", target);
  if (!listed.ok()) return reportError(ctx.err, listed.status());
  const std::optional<json> items =
      itemsForTable(*listed, options.output, ctx.out, ctx.err, "audit events");
  if (!items) return 0;
  Table table({"TIME", "USER", "TENANT", "VERB", "RESOURCE", "NAME", "STATUS", "SOURCE"});
  for (const auto& e : *items)
    table.addRow({text(e, "time"), text(e, "user"), text(e, "tenant"), text(e, "verb"),
                  text(e, "resource"), text(e, "name"), text(e, "status"), text(e, "source")});
  ctx.out << table.render();
  return 0;
}

int runAuditVerify(CommandContext& ctx) {
  constexpr int kBroken = 1;
  constexpr int kError = 2;
  auto verdict = ctx.client.request("GET", "/api/v1/audit/verify");
  if (!verdict.ok()) {
    reportError(ctx.err, verdict.status());
    return kError;
  }
  const json intact = verdict->value("intact", json());
  if (!intact.is_boolean()) {
    reportError(ctx.err, internalError("the server's audit verification has no \"intact\": " +
                                       verdict->dump()));
    return kError;
  }
  if (intact.get<bool>()) {
    ctx.out << "audit trail intact: " << text(*verdict, "entries") << " entries, head "
            << text(*verdict, "headHash") << "\n";
    return 0;
  }
  ctx.out << "audit trail broken";
  if (const json line = verdict->value("brokenAtLine", json()); line.is_number() && line > 0)
    ctx.out << " at line " << line.dump();
  const std::string problem = verdict->value("problem", "");
  ctx.out << ": " << (problem.empty() ? "the server gave no reason" : problem) << "\n";
  return kBroken;
}

}  // namespace skiff::cli
