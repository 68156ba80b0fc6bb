// Signing in: `skiff login`, `logout`, `whoami`, `auth can-i` and `user passwd`. Login saves
// the session token in the CLI's config file (config.h); every other command sends it.
#include <array>
#include <filesystem>
#include <ostream>

#include "cli/output.h"
#include "cli/subcommands.h"
#include "cli/terminal.h"
#include "common/assert.h"

namespace skiff::cli {

namespace {

constexpr std::array<const char*, 8> kVerbs = {"get",    "list",  "watch",  "create",
                                               "update", "patch", "delete", "*"};

const ClientSettings& settingsOf(const CommandContext& ctx) {
  SKIFF_ASSERT(ctx.settings != nullptr, "this command needs the client's settings");
  return *ctx.settings;
}

// A password: one line of ctx.in with --password-stdin, else typed at the terminal.
Result<std::string> readPassword(CommandContext& ctx, bool from_stdin, const std::string& prompt,
                                 const std::string& what) {
  if (from_stdin) return readSecretLine(ctx.in, what);
  if (!stdinIsTerminal())
    return badRequest("standard input is not a terminal, so " + what +
                      " cannot be asked for: pass --password-stdin and write it on standard input");
  auto line = readHiddenLine(prompt, ctx.err);
  if (line.ok() && line->empty()) return badRequest(what + " is empty");
  return line;
}

void field(std::ostream& out, const std::string& label, const std::string& value) {
  constexpr size_t kLabelWidth = 9;
  std::string l = label + ":";
  out << l << std::string(l.size() < kLabelWidth ? kLabelWidth - l.size() : 1, ' ') << value
      << "\n";
}

// "a, b", or `none` for an empty or missing list.
std::string joined(const json& list, const std::string& none = "<none>") {
  std::string out;
  if (list.is_array())
    for (const auto& v : list) out += (out.empty() ? "" : ", ") + cellText(v);
  return out.empty() ? none : out;
}

// Asks the server to end `token`'s session; the Status says why it could not.
Status revokeSession(ApiClient& client, const std::string& token) {
  const std::string saved = client.token();
  client.setToken(token);
  auto revoked = client.request("POST", "/api/v1/logout");
  client.setToken(saved);
  return revoked.status();
}

const char* overridingVariable(TokenSource source) {
  return source == TokenSource::kFlag ? "--token" : "SKIFF_TOKEN";
}

}  // namespace

int runLogin(CommandContext& ctx, const LoginOptions& options) {
  const ClientSettings& settings = settingsOf(ctx);
  if (!settings.config_path.ok()) return reportError(ctx.err, settings.config_path.status());
  if (options.user.empty())
    return reportError(ctx.err, badRequest("name the user to log in as: skiff login USER"));
  auto password = readPassword(ctx, options.password_stdin, "Password for " + options.user + ": ",
                               "the password");
  if (!password.ok()) return reportError(ctx.err, password.status());

  const std::string server = ctx.client.baseUrl();
  auto reply = ctx.client.login(options.user, *password);
  if (!reply.ok()) {
    const Status& s = reply.status();
    if (s.code() != StatusCode::kUnauthenticated) return reportError(ctx.err, s);
    return reportError(ctx.err, Status(s.code(), "cannot log in to " + server + " as " +
                                                     options.user + ": " + s.message()));
  }
  const std::string token = reply->value("token", "");
  const std::string user = reply->value("user", options.user);
  const std::string expires = reply->value("expiresAt", "");

  // The session this login replaces would otherwise stay valid until it expires.
  const CliConfig& previous = settings.config;
  if (!previous.token.empty() && savedServer(previous) == server)
    (void)revokeSession(ctx.client, previous.token);

  CliConfig next = previous;
  next.server = server;
  next.token = token;
  // Trust given for this login is remembered for the server, so later commands need no flags.
  const ResolvedTrust& trust = settings.trust;
  if (trust.source == TrustSource::kFlag || trust.source == TrustSource::kEnvironment) {
    ServerTrust remembered = trust.trust;
    if (!remembered.ca_file.empty())
      remembered.ca_file = std::filesystem::absolute(remembered.ca_file).lexically_normal();
    next.trust[server] = remembered;
  }
  Status saved = saveConfig(*settings.config_path, next);
  if (!saved.isOk()) {
    (void)revokeSession(ctx.client, token);  // a session nobody holds
    return reportError(ctx.err, Status(saved.code(), "logged in, but cannot save the session: " +
                                                         saved.message()));
  }
  ctx.out << "Logged in to " << server << " as " << user;
  if (!expires.empty()) ctx.out << " (session expires " << expires << ")";
  ctx.out << "\n";
  const TokenSource source = settings.credentials.source;
  if (source == TokenSource::kFlag || source == TokenSource::kEnvironment)
    ctx.err << "warning: " << overridingVariable(source)
            << " is set: commands send that token instead of this session until it is removed\n";
  return 0;
}

int runLogout(CommandContext& ctx) {
  const ClientSettings& settings = settingsOf(ctx);
  if (!settings.config_path.ok()) return reportError(ctx.err, settings.config_path.status());
  const std::string server = ctx.client.baseUrl();
  const CliConfig& config = settings.config;
  if (config.token.empty() || savedServer(config) != server) {
    ctx.out << "Not logged in to " << server;
    if (!config.token.empty())
      ctx.out << " (the saved session is for " << savedServer(config) << ")";
    ctx.out << "\n";
    return 0;
  }
  Status revoked = revokeSession(ctx.client, config.token);
  // The local copy goes whatever the server said: logging out must work offline too.
  CliConfig next = config;
  next.token.clear();  // how to verify the server is no secret, and stays
  Status saved = saveConfig(*settings.config_path, next);
  if (!saved.isOk()) return reportError(ctx.err, saved);
  if (revoked.isOk() || revoked.code() == StatusCode::kUnauthenticated) {
    // kUnauthenticated: the session had already expired or been revoked.
    ctx.out << "Logged out of " << server << "\n";
  } else {
    ctx.out << "Logged out locally\n";
    ctx.err << "warning: the session could not be revoked on the server, so it stays valid until "
               "it expires: "
            << revoked.message() << "\n";
  }
  const TokenSource source = settings.credentials.source;
  if (source == TokenSource::kFlag || source == TokenSource::kEnvironment)
    ctx.err << "note: " << overridingVariable(source)
            << " is set and still used: logout only ends the saved session\n";
  return 0;
}

int runWhoami(CommandContext& ctx, const WhoamiOptions& options) {
  if (!options.output.empty() && options.output != "json")
    return reportError(ctx.err, badRequest("unknown output format \"" + options.output +
                                           "\" for -o/--output: use json, or leave it out"));
  auto who = ctx.client.request("GET", "/api/v1/whoami");
  if (!who.ok()) return reportError(ctx.err, who.status());
  if (options.output == "json") {
    ctx.out << who->dump(2) << "\n";
    return 0;
  }
  field(ctx.out, "User", cellText(who->value("user", json())));
  field(ctx.out, "Groups", joined(who->value("groups", json())));
  field(ctx.out, "Token", cellText(who->value("tokenId", json())));
  if (const json scope = who->value("scope", json()); scope.is_object()) {
    field(ctx.out, "Roles", joined(scope.value("roles", json()), "<any of the user's>"));
    field(ctx.out, "Tenants", joined(scope.value("tenants", json()), "<any>"));
  }
  field(ctx.out, "Server", ctx.client.baseUrl());
  return 0;
}

int runCanI(CommandContext& ctx, const CanIOptions& options) {
  constexpr int kError = 2;
  bool known_verb = false;
  std::string verbs;
  for (const char* v : kVerbs) {
    known_verb = known_verb || options.verb == v;
    verbs += (verbs.empty() ? "" : ", ") + std::string(v);
  }
  if (!known_verb) {
    reportError(ctx.err, badRequest("unknown verb \"" + options.verb + "\": use one of " + verbs));
    return kError;
  }
  // "apps" and "app" mean applications, as in get; other resources (metrics, images,
  // auditevents) are not kinds and go to the server as typed.
  std::string resource = options.resource;
  const size_t slash = resource.find('/');
  const std::string base = resource.substr(0, slash);
  if (auto kind = resolveKind(base); kind.ok())
    resource = (*kind)->plural + (slash == std::string::npos ? "" : resource.substr(slash));
  json review = {{"verb", options.verb}, {"resource", resource}};
  if (!options.tenant.empty()) review["tenant"] = options.tenant;
  auto answer = ctx.client.request("POST", "/api/v1/accessreviews", review);
  if (!answer.ok()) {
    reportError(ctx.err, answer.status());
    return kError;
  }
  const json allowed = answer->value("allowed", json());
  if (!allowed.is_boolean()) {
    reportError(ctx.err,
                internalError("the server's access review has no \"allowed\": " + answer->dump()));
    return kError;
  }
  if (allowed.get<bool>()) {
    ctx.out << "yes\n";
    return 0;
  }
  const std::string reason = answer->value("reason", "");
  ctx.out << "no" << (reason.empty() ? "" : " - " + reason) << "\n";
  return 1;
}

int runPasswd(CommandContext& ctx, const PasswdOptions& options) {
  if (options.user.empty())
    return reportError(ctx.err, badRequest("name the user whose password to set"));
  // The server asks for the current password when users change their own.
  auto who = ctx.client.request("GET", "/api/v1/whoami");
  if (!who.ok()) return reportError(ctx.err, who.status());
  const bool own = who->value("user", "") == options.user;

  json body = json::object();
  if (own) {
    auto current =
        readPassword(ctx, options.password_stdin, "Current password: ", "the current password");
    if (!current.ok()) return reportError(ctx.err, current.status());
    body["currentPassword"] = *current;
  }
  auto fresh = readPassword(ctx, options.password_stdin, "New password for " + options.user + ": ",
                            "the new password");
  if (!fresh.ok()) return reportError(ctx.err, fresh.status());
  if (!options.password_stdin) {
    auto again = readPassword(ctx, false, "Retype the new password: ", "the new password");
    if (!again.ok()) return reportError(ctx.err, again.status());
    if (*again != *fresh)
      return reportError(ctx.err,
                         badRequest("the two new passwords differ; the password was not changed"));
  }
  body["password"] = *fresh;
  auto changed =
      ctx.client.request("PUT", "/api/v1/users/" + urlEncode(options.user) + "/password", body);
  if (!changed.ok()) return reportError(ctx.err, changed.status());
  ctx.out << "Password changed for " << options.user << "\n";
  return 0;
}

}  // namespace skiff::cli
