// The CLI's subcommands as plain functions of their options, separate from the command-line
// wiring in commands.cc so each can be read (and tested) on its own. Each returns the process
// exit code and writes results to ctx.out and errors to ctx.err. Not thread-safe.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/config.h"
#include "common/status.h"

namespace CLI {
class App;
}

namespace skiff::cli {

// Where the client's credentials came from: what login and logout read and write.
struct ClientSettings {
  Result<std::string> config_path = std::string();  // an error when the environment names none
  CliConfig config;                                 // as loaded when the command started
  Credentials credentials;                          // what `client` was set up with
  ResolvedTrust trust;                              // how `client` verifies the server
};

struct CommandContext {
  ApiClient& client;
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  const ClientSettings* settings = nullptr;  // null: the commands that need it refuse to run
};

// Where a command looks for tenant-scoped objects: --tenant/-n, else "default".
struct TenantOption {
  std::string tenant;  // empty when --tenant was not given
  const std::string& effective() const;
};

// Prints "error: <message>" and one "  <field>: <message>" line per cause; returns 1.
int reportError(std::ostream& err, const Status& status);

// The kind a user typed ("apps", "application", "app"), or kBadRequest listing the known kinds.
Result<const KindInfo*> resolveKind(const std::string& name);

struct ApplyOptions {
  std::string file;
  TenantOption tenant;
};
int runApply(CommandContext& ctx, const ApplyOptions& options);

struct GetOptions {
  std::string kind;
  std::string name;  // empty: list
  TenantOption tenant;
  bool all_tenants = false;
  std::string output;  // "", "wide", "json", "yaml", "name"
  std::string selector;
  bool watch = false;
};
int runGet(CommandContext& ctx, const GetOptions& options);

struct DescribeOptions {
  std::string kind;
  std::string name;
  TenantOption tenant;
};
int runDescribe(CommandContext& ctx, const DescribeOptions& options);

struct DeleteOptions {
  std::string kind;  // with name, or empty when file is given
  std::string name;
  std::string file;
  TenantOption tenant;
  bool ignore_not_found = false;
};
int runDelete(CommandContext& ctx, const DeleteOptions& options);

// Exit code 0: no differences, 1: differences, 2: an error (as kubectl diff).
struct DiffOptions {
  std::string file;
  TenantOption tenant;
};
int runDiff(CommandContext& ctx, const DiffOptions& options);

struct RolloutHistoryOptions {
  std::string application;
  TenantOption tenant;
  std::optional<int64_t> revision;  // print this revision's template
};
int runRolloutHistory(CommandContext& ctx, const RolloutHistoryOptions& options);

// The spec diff between two revisions, each labelled with who made it and why.
struct RolloutDiffOptions {
  std::string application;
  TenantOption tenant;
  int64_t from = 0;
  int64_t to = 0;
};
int runRolloutDiff(CommandContext& ctx, const RolloutDiffOptions& options);

// Exit code 0: the latest revision runs everywhere and is ready; 1: it cannot progress (an
// instance crash-loops or cannot start, or the rollout is paused), the timeout passed, or an
// error.
struct RolloutStatusOptions {
  std::string application;
  TenantOption tenant;
  std::string timeout = "5m";  // a duration: 90s, 5m, 1h
};
int runRolloutStatus(CommandContext& ctx, const RolloutStatusOptions& options);

// Makes an earlier revision's spec the application's spec again, as a new revision.
struct RolloutUndoOptions {
  std::string application;
  TenantOption tenant;
  std::optional<int64_t> to_revision;  // default: the revision before the latest
};
int runRolloutUndo(CommandContext& ctx, const RolloutUndoOptions& options);

// Pause: the application's instances stay on the template they run; resume: roll on.
struct RolloutPauseOptions {
  std::string application;
  TenantOption tenant;
  bool paused = true;
};
int runRolloutPause(CommandContext& ctx, const RolloutPauseOptions& options);

// Lets the latest revision's release past its manual gate (autoPromote: false); with `full`,
// past all its remaining steps. `abort` instead stops the release: traffic goes back to the
// stable set and the canary set is removed.
struct RolloutPromoteOptions {
  std::string application;
  TenantOption tenant;
  bool full = false;
  bool abort = false;
};
int runRolloutPromote(CommandContext& ctx, const RolloutPromoteOptions& options);

// Prints what applying `file` would do to its applications (rollout_plan_command.cc); exit 1
// when a tenant's quota would refuse one.
struct RolloutPlanOptions {
  std::string file;
  TenantOption tenant;
};
int runRolloutPlan(CommandContext& ctx, const RolloutPlanOptions& options);

// Sets components' replicas; each target is "APP/COMPONENT=N".
struct ScaleOptions {
  std::vector<std::string> targets;
  TenantOption tenant;
};
int runScale(CommandContext& ctx, const ScaleOptions& options);

// Prints the logs of an application's instances; `target` is "APP" or "APP/COMPONENT".
struct LogsOptions {
  std::string target;  // APPLICATION[/COMPONENT]; empty with `platform`
  TenantOption tenant;
  std::string component;  // only this component's instances (as APPLICATION/COMPONENT)
  std::string instance;   // only this instance
  std::string since;      // a duration back from now (5m) or an RFC 3339 time
  std::string until;      // the same: only lines older than that
  std::optional<int64_t> tail;
  bool previous = false;
  bool follow = false;
  bool timestamps = false;
  // Searching: lines containing `grep` (a regular expression with `regex`), the newest `limit`.
  std::string grep;
  bool regex = false;
  bool ignore_case = false;
  std::optional<int64_t> limit;
  // Written to this file instead of printed, as `format` ("text" or "json": JSON lines;
  // default: json for a .json/.jsonl file, else text).
  std::string export_path;
  std::string format;
  bool platform = false;  // the platform's own logs (the server's and its gateway's)
};
int runLogs(CommandContext& ctx, const LogsOptions& options);

// `skiff exec APP/COMPONENT[/INSTANCE] -- CMD...` (exec_command.cc): exits with the command's
// exit code.
struct ExecOptions {
  std::string target;
  TenantOption tenant;
  std::vector<std::string> command;
  bool stdin = false;  // -i: forward standard input as it comes
  bool tty = false;    // -t
};
int runExec(CommandContext& ctx, const ExecOptions& options);

// Signing in (auth_commands.cc). The password comes from the terminal with echo off, or with
// `password_stdin` from one line of ctx.in.
struct LoginOptions {
  std::string user;
  bool password_stdin = false;
};
int runLogin(CommandContext& ctx, const LoginOptions& options);
// Revokes the saved session on the server and removes it from the config; succeeds (saying so)
// when the server cannot be reached.
int runLogout(CommandContext& ctx);

struct WhoamiOptions {
  std::string output;  // "" or "json"
};
int runWhoami(CommandContext& ctx, const WhoamiOptions& options);

// Exit code 0: allowed, 1: denied, 2: an error.
struct CanIOptions {
  std::string verb;
  std::string resource;  // a kind's plural (or any name of a kind), or "plural/subresource"
  std::string tenant;    // empty: the platform scope
};
int runCanI(CommandContext& ctx, const CanIOptions& options);

// Sets a user's password; one's own needs the current password too. With `password_stdin`,
// ctx.in holds the current password (one's own only) and then the new one, a line each.
struct PasswdOptions {
  std::string user;
  bool password_stdin = false;
};
int runPasswd(CommandContext& ctx, const PasswdOptions& options);

// API tokens (token_commands.cc).
struct TokenCreateOptions {
  std::string user;  // empty: the caller
  std::vector<std::string> roles;
  std::vector<std::string> tenants;
  std::string ttl;  // a duration; empty: the server's default
  std::string description;
};
int runTokenCreate(CommandContext& ctx, const TokenCreateOptions& options);

struct TokenListOptions {
  std::string output;  // "" or "json"
};
int runTokenList(CommandContext& ctx, const TokenListOptions& options);
int runTokenRevoke(CommandContext& ctx, const std::string& id);

// What happened to instances and applications (events_command.cc).
struct EventsOptions {
  std::string application;  // empty: the whole tenant
  std::string type;         // "", "Normal" or "Warning"
  TenantOption tenant;
  std::string output;  // "" or "json"
};
int runEvents(CommandContext& ctx, const EventsOptions& options);

// A tenant's alerts now (alerts_command.cc).
struct AlertsOptions {
  TenantOption tenant;
  std::string output;  // "" or "json"
};
int runAlerts(CommandContext& ctx, const AlertsOptions& options);

// What applications and instances use now (top_command.cc).
struct TopOptions {
  std::string what;         // "apps" or "instances"
  std::string application;  // only this application's instances
  TenantOption tenant;
  std::string output;  // "" or "json"
};
int runTop(CommandContext& ctx, const TopOptions& options);

// The audit trail (audit_commands.cc).
struct AuditOptions {
  std::string user;
  std::string tenant;
  std::string since;  // a duration back from now (1h) or an RFC 3339 time
  std::optional<int64_t> limit;
  std::string output;  // "" or "json"
};
int runAudit(CommandContext& ctx, const AuditOptions& options);
// Exit code 0: the trail is intact, 1: it is broken, 2: an error.
int runAuditVerify(CommandContext& ctx);

// Kubernetes clusters and rendering (cluster_commands.cc).
struct ClusterAddOptions {
  std::string name;
  std::string kubeconfig;
  std::string context;           // empty: the kubeconfig's current-context
  std::string namespace_prefix;  // empty: the server's default
};
int runClusterAdd(CommandContext& ctx, const ClusterAddOptions& options);
int runClusterList(CommandContext& ctx, const std::string& output);
int runClusterRemove(CommandContext& ctx, const std::string& name);

struct RenderOptions {
  std::string application;
  TenantOption tenant;
  std::string namespace_prefix = "skiff-";
  bool gateway_api = false;
  std::string output;  // "" or "yaml": YAML documents; "json": a v1 List
};
int runRender(CommandContext& ctx, const RenderOptions& options);

// skiff admin rotate-key: seal every secret under a new key, retiring the old ones.
int runAdminRotateKey(CommandContext& ctx);

int runVersion(CommandContext& ctx);

// `skiff image ls|pull|push|rm|tag|inspect|import|prune` (image_commands.cc): daemonless, on a
// local image store directory, like podman; no server is involved.
class ImageCommands {
 public:
  // Registers `image` and its subcommands on `app`.
  explicit ImageCommands(CLI::App& app);
  ~ImageCommands();
  // The exit code of the image subcommand that was parsed; nullopt when none was.
  std::optional<int> runIfParsed();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace skiff::cli
