// `skiff token create | ls | revoke`: API tokens for automation, served at /api/v1/tokens. A
// token's secret is shown once, by create; the server keeps only its digest.
#include <ostream>

#include "cli/output.h"
#include "cli/resource_table.h"
#include "cli/subcommands.h"
#include "model/formats.h"

namespace skiff::cli {

namespace {

// The longest lifetime the server grants an API token (docs/security.md).
constexpr double kMaxTokenTtlSeconds = 366.0 * 24 * 60 * 60;

std::string joined(const json& list, const std::string& none) {
  std::string out;
  if (list.is_array())
    for (const auto& v : list) out += (out.empty() ? "" : ",") + cellText(v);
  return out.empty() ? none : out;
}

std::string specText(const json& token, const char* field) {
  const json spec = token.value("spec", json::object());
  return spec.is_object() ? cellText(spec.value(field, json())) : "-";
}

}  // namespace

int runTokenCreate(CommandContext& ctx, const TokenCreateOptions& options) {
  if (!options.ttl.empty()) {
    auto seconds = parseDurationSeconds(options.ttl);
    if (!seconds || *seconds <= 0 || *seconds > kMaxTokenTtlSeconds)
      return reportError(ctx.err, badRequest("--ttl must be a duration from 1s to 8784h (366 "
                                             "days), like 720h or 90m, got \"" +
                                             options.ttl + "\""));
  }
  for (const auto& [flag, values] :
       {std::pair{"--role", &options.roles}, std::pair{"--tenant", &options.tenants}}) {
    for (const auto& v : *values)
      if (v.empty())
        return reportError(ctx.err, badRequest(std::string(flag) + " must not be empty"));
  }
  json request = {{"roles", options.roles}, {"tenants", options.tenants}};
  if (!options.user.empty()) request["user"] = options.user;
  if (!options.ttl.empty()) request["ttl"] = options.ttl;
  if (!options.description.empty()) request["description"] = options.description;
  auto created = ctx.client.request("POST", "/api/v1/tokens", request);
  if (!created.ok()) return reportError(ctx.err, created.status());
  const std::string token = created->value("token", "");
  if (token.empty())
    return reportError(ctx.err, internalError("the server created a token but did not return it: " +
                                              created->dump()));
  const json object = created->value("object", json::object());
  // Only the token on stdout, so that `TOKEN=$(skiff token create ...)` works.
  ctx.out << token << "\n" << std::flush;
  ctx.err << "Created token " << metadataString(object, "name") << " for "
          << specText(object, "user") << " (expires " << specText(object, "expiresAt")
          << "). Store it now: it cannot be shown again.\n";
  return 0;
}

int runTokenList(CommandContext& ctx, const TokenListOptions& options) {
  if (Status s = checkTableOutput(options.output); !s.isOk()) return reportError(ctx.err, s);
  auto listed = ctx.client.request("GET", "/api/v1/tokens");
  if (!listed.ok()) return reportError(ctx.err, listed.status());
  const std::optional<json> items =
      itemsForTable(*listed, options.output, ctx.out, ctx.err, "tokens");
  if (!items) return 0;
  Table table({"ID", "USER", "TYPE", "ROLES", "TENANTS", "EXPIRES", "DESCRIPTION"});
  for (const auto& t : *items) {
    const json spec = t.value("spec", json::object());
    // An unscoped token carries its user's permissions: every role, every tenant.
    table.addRow({metadataString(t, "name"), specText(t, "user"), specText(t, "type"),
                  joined(spec.value("roles", json()), "<all>"),
                  joined(spec.value("tenants", json()), "<all>"), specText(t, "expiresAt"),
                  specText(t, "description")});
  }
  ctx.out << table.render();
  return 0;
}

int runTokenRevoke(CommandContext& ctx, const std::string& id_or_token) {
  // A whole token ("skf_<id>_<secret>") names its id; only the id is sent.
  std::string id = id_or_token;
  if (id.rfind("skf_", 0) == 0) {
    const size_t end = id.find('_', 4);
    id = id.substr(4, end == std::string::npos ? std::string::npos : end - 4);
  }
  if (id.empty() || id.find_first_not_of("0123456789abcdef") != std::string::npos)
    return reportError(ctx.err,
                       badRequest("\"" + id +
                                  "\" is not a token ID: an ID is the 16 hexadecimal characters "
                                  "skiff token ls shows"));
  auto removed = ctx.client.request("DELETE", "/api/v1/tokens/" + id);
  if (!removed.ok()) return reportError(ctx.err, removed.status());
  ctx.out << "token " << id << " revoked\n";
  return 0;
}

}  // namespace skiff::cli
