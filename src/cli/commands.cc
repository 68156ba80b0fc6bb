#include "cli/commands.h"

#include <functional>
#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/api_client.h"
#include "cli/subcommands.h"

namespace skiff::cli {

struct Commands::State {
  std::string server;  // --server, on the app and on every client subcommand
  std::string token;   // --token, likewise
  ServerTrust trust;   // --ca and --fingerprint, likewise

  ApplyOptions apply;
  GetOptions get;
  DescribeOptions describe;
  DeleteOptions remove;
  DiffOptions diff;
  RolloutHistoryOptions history;
  RolloutDiffOptions rollout_diff;
  int64_t history_revision = 0;
  CLI::Option* history_revision_opt = nullptr;
  RolloutStatusOptions status;
  RolloutUndoOptions undo;
  int64_t undo_revision = 0;
  CLI::Option* undo_revision_opt = nullptr;
  RolloutPauseOptions pause;
  RolloutPauseOptions resume;  // paused = false, set by the constructor
  RolloutPromoteOptions promote;
  RolloutPlanOptions plan;
  CLI::App* plan_cmd = nullptr;
  RolloutPromoteOptions abort;  // abort = true, set by the constructor
  ScaleOptions scale;
  LogsOptions logs;
  ExecOptions exec;
  int64_t logs_tail = 0;
  CLI::Option* logs_tail_opt = nullptr;
  int64_t logs_limit = 0;
  CLI::Option* logs_limit_opt = nullptr;
  LoginOptions login;
  std::string login_user_flag;
  WhoamiOptions whoami;
  CanIOptions can_i;
  PasswdOptions passwd;
  TokenCreateOptions token_create;
  TokenListOptions token_list;
  std::string token_revoke_id;
  AuditOptions audit;
  TopOptions top;
  EventsOptions events;
  AlertsOptions alerts;
  ClusterAddOptions cluster_add;
  std::string cluster_output;
  std::string cluster_remove;
  RenderOptions render;
  int64_t audit_limit = 0;
  CLI::Option* audit_limit_opt = nullptr;

  // Each client subcommand and what runs it; run() runs the one that was parsed.
  struct Handler {
    CLI::App* command;
    std::function<int(CommandContext&)> run;
  };
  std::vector<Handler> handlers;
  CLI::App* diff_cmd = nullptr;
  CLI::App* can_i_cmd = nullptr;
  CLI::App* audit_verify_cmd = nullptr;
  std::unique_ptr<ImageCommands> images;  // work on a local store, without a server
};

namespace {

void addServerOptions(CLI::App& app, std::string& server, std::string& token, ServerTrust& trust) {
  app.add_option("--server", server,
                 "Skiff API URL, e.g. https://127.0.0.1:7480 (default: $SKIFF_SERVER, else the "
                 "server logged in to, else " +
                     std::string(kDefaultServer) + ")");
  app.add_option("--token", token,
                 "Bearer token to send (default: $SKIFF_TOKEN, else the saved login session)");
  app.add_option("--ca", trust.ca_file,
                 "PEM file of the certificates that verify the server (default: $SKIFF_CA, else "
                 "what skiff login saved for the server, else the system's CAs)");
  app.add_option("--fingerprint", trust.fingerprint,
                 "Trust exactly the server certificate with this fingerprint, sha256:<hex> as "
                 "skiff server prints it (default: $SKIFF_FINGERPRINT, else what skiff login "
                 "saved)");
}

void addTenantOption(CLI::App& app, TenantOption& tenant) {
  app.add_option("-n,--tenant", tenant.tenant, "Tenant of the objects (default: default)");
}

}  // namespace

Commands::Commands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  addServerOptions(app, s.server, s.token, s.trust);
  auto add = [&](CLI::App& parent, const char* name, const char* description,
                 std::function<int(CommandContext&)> run) {
    CLI::App* cmd = parent.add_subcommand(name, description);
    addServerOptions(*cmd, s.server, s.token, s.trust);
    s.handlers.push_back({cmd, std::move(run)});
    return cmd;
  };

  CLI::App* apply = add(app, "apply", "Create or update objects from files",
                        [&s](CommandContext& ctx) { return runApply(ctx, s.apply); });
  apply->add_option("-f,--filename", s.apply.file, "File, directory or - for stdin")->required();
  addTenantOption(*apply, s.apply.tenant);

  CLI::App* get = add(app, "get", "List objects, or show one",
                      [&s](CommandContext& ctx) { return runGet(ctx, s.get); });
  get->add_option("kind", s.get.kind, "Kind: tenants, apps, revisions, instances")->required();
  get->add_option("name", s.get.name, "Object name (all objects when omitted)");
  addTenantOption(*get, s.get.tenant);
  get->add_flag("-A,--all-tenants", s.get.all_tenants, "List across every tenant");
  get->add_option("-o,--output", s.get.output, "Output format: json, yaml, wide or name");
  get->add_option("-l,--selector", s.get.selector, "Label selector, e.g. app=shop,tier!=db");
  get->add_flag("-w,--watch", s.get.watch, "After listing, print changes until interrupted");

  CLI::App* describe = add(app, "describe", "Show one object in detail",
                           [&s](CommandContext& ctx) { return runDescribe(ctx, s.describe); });
  describe->add_option("kind", s.describe.kind, "Kind")->required();
  describe->add_option("name", s.describe.name, "Object name")->required();
  addTenantOption(*describe, s.describe.tenant);

  CLI::App* remove = add(app, "delete", "Delete objects by kind and name, or from files",
                         [&s](CommandContext& ctx) { return runDelete(ctx, s.remove); });
  remove->add_option("kind", s.remove.kind, "Kind");
  remove->add_option("name", s.remove.name, "Object name");
  remove->add_option("-f,--filename", s.remove.file, "File, directory or - for stdin");
  remove->add_flag("--ignore-not-found", s.remove.ignore_not_found,
                   "Succeed when the object does not exist");
  addTenantOption(*remove, s.remove.tenant);

  s.diff_cmd = add(app, "diff", "Show what apply would change (exit 0: none, 1: changes, 2: error)",
                   [&s](CommandContext& ctx) { return runDiff(ctx, s.diff); });
  s.diff_cmd->add_option("-f,--filename", s.diff.file, "File, directory or - for stdin")
      ->required();
  addTenantOption(*s.diff_cmd, s.diff.tenant);

  CLI::App* scale = add(app, "scale", "Set the replicas of application components",
                        [&s](CommandContext& ctx) { return runScale(ctx, s.scale); });
  scale->add_option("targets", s.scale.targets, "APPLICATION/COMPONENT=REPLICAS, e.g. shop/web=3")
      ->required();
  addTenantOption(*scale, s.scale.tenant);

  CLI::App* logs =
      add(app, "logs", "Print, search or export the logs of an application's instances",
          [&s](CommandContext& ctx) {
            if (s.logs_tail_opt->count() > 0) s.logs.tail = s.logs_tail;
            if (s.logs_limit_opt->count() > 0) s.logs.limit = s.logs_limit;
            return runLogs(ctx, s.logs);
          });
  logs->add_option("target", s.logs.target,
                   "APPLICATION or APPLICATION/COMPONENT (none with --platform)");
  logs->add_flag("-f,--follow", s.logs.follow, "Keep printing new lines until interrupted");
  logs->add_option("--since", s.logs.since,
                   "Only lines newer than a duration (5m, 1h) or an RFC 3339 time");
  logs->add_option("--until", s.logs.until,
                   "Only lines older than a duration (5m, 1h) or an RFC 3339 time");
  s.logs_tail_opt =
      logs->add_option("--tail", s.logs_tail, "Only the last N lines of each instance");
  logs->add_option("-c,--component", s.logs.component, "Only this component's instances");
  logs->add_option("--instance", s.logs.instance, "Only this instance");
  logs->add_flag("-p,--previous", s.logs.previous,
                 "The run before the current one (after a restart)");
  logs->add_flag("--timestamps", s.logs.timestamps, "Start each line with its time");
  logs->add_option("--grep", s.logs.grep,
                   "Only lines containing this text, across every run kept (deleted instances "
                   "too)");
  logs->add_flag("-E,--regex", s.logs.regex,
                 "Read --grep as a regular expression (ECMAScript syntax)");
  logs->add_flag("-i,--ignore-case", s.logs.ignore_case, "Match --grep ignoring case");
  s.logs_limit_opt = logs->add_option("--limit", s.logs_limit,
                                      "At most N lines when searching, the newest (default 1000)");
  logs->add_option("--export", s.logs.export_path,
                   "Write the lines found to this file (with their time and instance)");
  logs->add_option("--format", s.logs.format,
                   "Write the lines found as text, or json: one JSON object a line (the "
                   "default for an --export file ending in .json or .jsonl)")
      ->check(CLI::IsMember({"text", "json"}));
  logs->add_flag("--platform", s.logs.platform,
                 "The platform's own logs (the server's and its gateway's); for platform admins");
  addTenantOption(*logs, s.logs.tenant);

  CLI::App* exec = add(app, "exec", "Run a command inside a running instance",
                       [&s](CommandContext& ctx) { return runExec(ctx, s.exec); });
  exec->add_option("target", s.exec.target,
                   "APPLICATION/COMPONENT (its first ready instance) or "
                   "APPLICATION/COMPONENT/INSTANCE")
      ->required();
  exec->add_option("command", s.exec.command, "The command and its arguments, after --")
      ->required();
  exec->add_flag(
      "-i,--stdin", s.exec.stdin,
      "Forward standard input to the command as it comes (its end is the command's EOF)");
  exec->add_flag("-t,--tty", s.exec.tty, "Run the command with a terminal (output merged)");
  addTenantOption(*exec, s.exec.tenant);

  CLI::App* rollout = app.add_subcommand("rollout", "Manage an application's rollouts");
  rollout->require_subcommand(1);

  CLI::App* history =
      add(*rollout, "history", "List an application's revisions", [&s](CommandContext& ctx) {
        if (s.history_revision_opt->count() > 0) s.history.revision = s.history_revision;
        return runRolloutHistory(ctx, s.history);
      });
  history->add_option("application", s.history.application, "Application name")->required();
  s.history_revision_opt = history->add_option("--revision", s.history_revision,
                                               "Print this revision's template as YAML");
  addTenantOption(*history, s.history.tenant);
  CLI::App* rollout_diff =
      add(*rollout, "diff", "Show how two revisions' specs differ, and who made each and why",
          [&s](CommandContext& ctx) { return runRolloutDiff(ctx, s.rollout_diff); });
  rollout_diff->add_option("application", s.rollout_diff.application, "Application name")
      ->required();
  rollout_diff->add_option("from", s.rollout_diff.from, "The earlier revision")->required();
  rollout_diff->add_option("to", s.rollout_diff.to, "The later revision")->required();
  addTenantOption(*rollout_diff, s.rollout_diff.tenant);

  CLI::App* status =
      add(*rollout, "status", "Follow a rollout until it completes (exit 0) or cannot progress (1)",
          [&s](CommandContext& ctx) { return runRolloutStatus(ctx, s.status); });
  status->add_option("application", s.status.application, "Application name")->required();
  status->add_option("--timeout", s.status.timeout, "Give up after this long (default 5m)");
  addTenantOption(*status, s.status.tenant);

  CLI::App* undo = add(*rollout, "undo",
                       "Go back to an earlier revision's spec (default: the one before the latest)",
                       [&s](CommandContext& ctx) {
                         if (s.undo_revision_opt->count() > 0) s.undo.to_revision = s.undo_revision;
                         return runRolloutUndo(ctx, s.undo);
                       });
  undo->add_option("application", s.undo.application, "Application name")->required();
  s.undo_revision_opt =
      undo->add_option("--to-revision", s.undo_revision, "Revision to go back to");
  addTenantOption(*undo, s.undo.tenant);

  s.resume.paused = false;
  for (RolloutPauseOptions* options : {&s.pause, &s.resume}) {
    CLI::App* cmd = add(*rollout, options->paused ? "pause" : "resume",
                        options->paused ? "Hold the rollout: instances keep the template they run"
                                        : "Let a paused rollout continue",
                        [options](CommandContext& ctx) { return runRolloutPause(ctx, *options); });
    cmd->add_option("application", options->application, "Application name")->required();
    addTenantOption(*cmd, options->tenant);
  }
  CLI::App* promote =
      add(*rollout, "promote",
          "Let a canary or blue-green release that waits for a person (autoPromote: false) go on",
          [&s](CommandContext& ctx) { return runRolloutPromote(ctx, s.promote); });
  promote->add_option("application", s.promote.application, "Application name")->required();
  promote->add_flag("--full", s.promote.full,
                    "Skip the remaining steps: the new revision takes all traffic now");
  addTenantOption(*promote, s.promote.tenant);
  s.plan_cmd = add(*rollout, "plan",
                   "Show what applying a file would do: the diff, each component's release "
                   "schedule and analysis, and the quota's answer (exit 1: the quota refuses)",
                   [&s](CommandContext& ctx) { return runRolloutPlan(ctx, s.plan); });
  s.plan_cmd->add_option("-f,--filename", s.plan.file, "File, directory or - for stdin")
      ->required();
  addTenantOption(*s.plan_cmd, s.plan.tenant);
  s.abort.abort = true;
  CLI::App* abort =
      add(*rollout, "abort",
          "Stop a canary or blue-green release: traffic returns to the stable revision and the "
          "new revision's instances are removed",
          [&s](CommandContext& ctx) { return runRolloutPromote(ctx, s.abort); });
  abort->add_option("application", s.abort.application, "Application name")->required();
  addTenantOption(*abort, s.abort.tenant);

  CLI::App* login = add(
      app, "login", "Log in and save the session for later commands", [&s](CommandContext& ctx) {
        if (!s.login_user_flag.empty()) {
          if (!s.login.user.empty() && s.login.user != s.login_user_flag)
            return reportError(ctx.err,
                               badRequest("the user is named twice, as \"" + s.login.user +
                                          "\" and --user \"" + s.login_user_flag + "\": give one"));
          s.login.user = s.login_user_flag;
        }
        return runLogin(ctx, s.login);
      });
  login->add_option("user", s.login.user, "User to log in as");
  login->add_option("-u,--user", s.login_user_flag, "User to log in as (instead of USER)");
  login->add_flag("--password-stdin", s.login.password_stdin,
                  "Read the password from the first line of standard input");

  add(app, "logout", "End the saved session, on the server and here",
      [](CommandContext& ctx) { return runLogout(ctx); });

  CLI::App* whoami = add(app, "whoami", "Show who the server takes you for",
                         [&s](CommandContext& ctx) { return runWhoami(ctx, s.whoami); });
  whoami->add_option("-o,--output", s.whoami.output, "Output format: json");

  CLI::App* auth = app.add_subcommand("auth", "Inspect authorization");
  auth->require_subcommand(1);
  s.can_i_cmd = add(*auth, "can-i", "Check whether you may do something (exit 0: yes, 1: no)",
                    [&s](CommandContext& ctx) { return runCanI(ctx, s.can_i); });
  s.can_i_cmd->add_option("verb", s.can_i.verb, "get, list, watch, create, update, patch, delete")
      ->required();
  s.can_i_cmd
      ->add_option("resource", s.can_i.resource,
                   "A kind (applications, apps, tokens, ...) or a subresource (applications/logs)")
      ->required();
  s.can_i_cmd->add_option("-n,--tenant", s.can_i.tenant,
                          "Tenant to ask about (default: the platform scope)");

  CLI::App* user = app.add_subcommand("user", "Manage users");
  user->require_subcommand(1);
  CLI::App* passwd = add(*user, "passwd", "Set a user's password (your own needs the current one)",
                         [&s](CommandContext& ctx) { return runPasswd(ctx, s.passwd); });
  passwd->add_option("name", s.passwd.user, "User name")->required();
  passwd->add_flag("--password-stdin", s.passwd.password_stdin,
                   "Read the passwords from standard input, one a line: the current one (for your "
                   "own password), then the new one");

  CLI::App* token = app.add_subcommand("token", "Manage API tokens");
  token->require_subcommand(1);
  CLI::App* create = add(*token, "create", "Create an API token and print it (once)",
                         [&s](CommandContext& ctx) { return runTokenCreate(ctx, s.token_create); });
  create->add_option("--user", s.token_create.user, "Whose token (default: yours)");
  create->add_option("--role", s.token_create.roles,
                     "Only what this role allows (repeatable; default: all the user may do)");
  create->add_option("--tenant", s.token_create.tenants,
                     "Only in this tenant (repeatable; default: every tenant)");
  create->add_option("--ttl", s.token_create.ttl,
                     "Lifetime, e.g. 720h (default 720h, at most 8784h)");
  create->add_option("--description", s.token_create.description, "What the token is for");
  CLI::App* list = add(*token, "ls", "List API tokens and sessions",
                       [&s](CommandContext& ctx) { return runTokenList(ctx, s.token_list); });
  list->alias("list");
  list->add_option("-o,--output", s.token_list.output, "Output format: json");
  CLI::App* revoke = add(*token, "revoke", "Revoke a token by its ID", [&s](CommandContext& ctx) {
    return runTokenRevoke(ctx, s.token_revoke_id);
  });
  revoke->add_option("id", s.token_revoke_id, "Token ID, as token ls shows it")->required();

  CLI::App* top = add(app, "top", "Show what applications or instances use now",
                      [&s](CommandContext& ctx) { return runTop(ctx, s.top); });
  top->add_option("what", s.top.what, "apps or instances")->required();
  top->add_option("-a,--app", s.top.application, "Only this application's instances");
  addTenantOption(*top, s.top.tenant);
  top->add_option("-o,--output", s.top.output, "Output format: json");

  CLI::App* events = add(app, "events", "Show what happened to instances and applications",
                         [&s](CommandContext& ctx) { return runEvents(ctx, s.events); });
  events->add_option("app", s.events.application, "Only this application's events");
  events->add_option("--type", s.events.type, "Only Normal or Warning events");
  addTenantOption(*events, s.events.tenant);
  events->add_option("-o,--output", s.events.output, "Output format: json");

  CLI::App* alerts = add(app, "alerts", "Show the alerts pending, firing and just resolved",
                         [&s](CommandContext& ctx) { return runAlerts(ctx, s.alerts); });
  addTenantOption(*alerts, s.alerts.tenant);
  alerts->add_option("-o,--output", s.alerts.output, "Output format: json");

  CLI::App* audit =
      add(app, "audit", "Show the audit trail (newest last)", [&s](CommandContext& ctx) {
        if (s.audit_limit_opt->count() > 0) s.audit.limit = s.audit_limit;
        return runAudit(ctx, s.audit);
      });
  audit->add_option("--user", s.audit.user, "Only requests by this user");
  audit->add_option("-n,--tenant", s.audit.tenant, "Only requests in this tenant");
  audit->add_option("--since", s.audit.since,
                    "Only entries newer than a duration (1h) or an RFC 3339 time");
  s.audit_limit_opt = audit->add_option("--limit", s.audit_limit, "At most N entries");
  audit->add_option("-o,--output", s.audit.output, "Output format: json");
  s.audit_verify_cmd =
      add(*audit, "verify", "Check the audit trail's hash chain (exit 0: intact, 1: broken)",
          [](CommandContext& ctx) { return runAuditVerify(ctx); });

  CLI::App* cluster =
      app.add_subcommand("cluster", "Manage the Kubernetes clusters applications run on");
  cluster->require_subcommand(1);
  CLI::App* cluster_add =
      add(*cluster, "add", "Add a cluster from a kubeconfig (its token or client certificate)",
          [&s](CommandContext& ctx) { return runClusterAdd(ctx, s.cluster_add); });
  cluster_add->add_option("name", s.cluster_add.name, "Name applications use in spec.cluster")
      ->required();
  cluster_add->add_option("--kubeconfig", s.cluster_add.kubeconfig, "Kubeconfig file")->required();
  cluster_add->add_option("--context", s.cluster_add.context,
                          "Context to use (default: the current-context)");
  cluster_add->add_option("--namespace-prefix", s.cluster_add.namespace_prefix,
                          "Tenant namespaces are this prefix and the tenant (default skiff-)");
  CLI::App* cluster_ls =
      add(*cluster, "ls", "List clusters: server, reachable, version, last error",
          [&s](CommandContext& ctx) { return runClusterList(ctx, s.cluster_output); });
  cluster_ls->alias("list");
  cluster_ls->add_option("-o,--output", s.cluster_output, "Output format: json");
  add(*cluster, "rm", "Remove a cluster (applications on it stay there)",
      [&s](CommandContext& ctx) { return runClusterRemove(ctx, s.cluster_remove); })
      ->add_option("name", s.cluster_remove, "Cluster name")
      ->required();
  CLI::App* render =
      add(app, "render", "Print the Kubernetes objects an application becomes, as YAML",
          [&s](CommandContext& ctx) { return runRender(ctx, s.render); });
  render->add_option("application", s.render.application, "Application name")->required();
  addTenantOption(*render, s.render.tenant);
  render->add_option("--namespace-prefix", s.render.namespace_prefix,
                     "The cluster's namespace prefix (default skiff-)");
  render->add_flag("--gateway-api", s.render.gateway_api,
                   "Routes as Gateway API HTTPRoutes instead of Ingresses");
  render->add_option("-o,--output", s.render.output,
                     "Output format: yaml (documents, the default) or json (a v1 List)");

  CLI::App* admin = app.add_subcommand("admin", "Operate the platform (platform admins)");
  admin->require_subcommand(1);
  add(*admin, "rotate-key",
      "Seal every secret under a new key and retire the old ones (the key file stays 0600)",
      [](CommandContext& ctx) { return runAdminRotateKey(ctx); });

  add(app, "version", "Print the client and server versions",
      [](CommandContext& ctx) { return runVersion(ctx); });

  s.images = std::make_unique<ImageCommands>(app);
}

Commands::~Commands() = default;

int Commands::run() {
  State& s = *state_;
  if (auto code = s.images->runIfParsed()) return *code;
  // Commands whose exit code 1 means an answer (differences, "no", a broken trail).
  const bool answers_with_1 = s.diff_cmd->parsed() || s.can_i_cmd->parsed() ||
                              s.audit_verify_cmd->parsed() || s.plan_cmd->parsed();
  const int error_exit = answers_with_1 ? 2 : 1;

  const CliEnvironment env = CliEnvironment::fromProcess();
  ClientSettings settings;
  settings.config_path = configPath(env);
  if (settings.config_path.ok()) {
    auto config = loadConfig(*settings.config_path);
    if (!config.ok()) {
      reportError(std::cerr, config.status());
      return error_exit;
    }
    settings.config = std::move(config).value();
  }
  settings.credentials = resolveCredentials(s.server, s.token, env, settings.config);
  auto trust = resolveTrust(settings.credentials.server, s.trust, env, settings.config);
  if (!trust.ok()) {
    reportError(std::cerr, trust.status());
    return error_exit;
  }
  settings.trust = std::move(trust).value();
  net::TlsClientOptions tls;
  tls.ca_file = settings.trust.trust.ca_file;
  tls.pinned_sha256 = settings.trust.trust.fingerprint;
  auto client = ApiClient::connect(settings.credentials.server, std::move(tls));
  if (!client.ok()) {
    reportError(std::cerr, client.status());
    return error_exit;
  }
  switch (settings.credentials.source) {
    case TokenSource::kFlag:
      client->setToken(settings.credentials.token, "the token given with --token was refused");
      break;
    case TokenSource::kEnvironment:
      client->setToken(settings.credentials.token,
                       "the token in SKIFF_TOKEN was refused (set a valid one, or unset it and "
                       "run skiff login)");
      break;
    case TokenSource::kConfig:
      client->setToken(settings.credentials.token, "the saved session has ended: run skiff login");
      break;
    case TokenSource::kNone:
      break;
  }
  CommandContext ctx{*client, std::cin, std::cout, std::cerr, &settings};
  // The deepest parsed command runs: `audit verify` parses both audit and verify.
  for (const auto& handler : s.handlers)
    if (handler.command->parsed() && handler.command->get_subcommands().empty())
      return handler.run(ctx);
  std::cerr << "error: no command given: run skiff --help\n";
  return 1;
}

}  // namespace skiff::cli
