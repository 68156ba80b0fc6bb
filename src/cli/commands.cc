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

  ApplyOptions apply;
  GetOptions get;
  DescribeOptions describe;
  DeleteOptions remove;
  DiffOptions diff;
  RolloutHistoryOptions history;
  int64_t history_revision = 0;
  CLI::Option* history_revision_opt = nullptr;
  RolloutStatusOptions status;
  RolloutUndoOptions undo;
  int64_t undo_revision = 0;
  CLI::Option* undo_revision_opt = nullptr;
  RolloutPauseOptions pause;
  RolloutPauseOptions resume;  // paused = false, set by the constructor
  ScaleOptions scale;

  // Each client subcommand and what runs it; run() runs the one that was parsed.
  struct Handler {
    CLI::App* command;
    std::function<int(CommandContext&)> run;
  };
  std::vector<Handler> handlers;
  CLI::App* diff_cmd = nullptr;
};

namespace {

void addServerOption(CLI::App& app, std::string& server) {
  app.add_option("--server", server,
                 "Skiff API URL, e.g. http://127.0.0.1:7480 (default: $SKIFF_SERVER, else " +
                     std::string(kDefaultServer) + ")");
}

void addTenantOption(CLI::App& app, TenantOption& tenant) {
  app.add_option("-n,--tenant", tenant.tenant, "Tenant of the objects (default: default)");
}

}  // namespace

Commands::Commands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  addServerOption(app, s.server);
  auto add = [&](CLI::App& parent, const char* name, const char* description,
                 std::function<int(CommandContext&)> run) {
    CLI::App* cmd = parent.add_subcommand(name, description);
    addServerOption(*cmd, s.server);
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

  add(app, "version", "Print the client and server versions",
      [](CommandContext& ctx) { return runVersion(ctx); });
}

Commands::~Commands() = default;

int Commands::run() {
  State& s = *state_;
  const std::string url = resolveServerUrl(s.server);
  auto client = ApiClient::connect(url);
  const bool diff = s.diff_cmd->parsed();
  if (!client.ok()) {
    reportError(std::cerr, client.status());
    return diff ? 2 : 1;
  }
  CommandContext ctx{*client, std::cin, std::cout, std::cerr};
  for (const auto& handler : s.handlers)
    if (handler.command->parsed()) return handler.run(ctx);
  std::cerr << "error: no command given: run skiff --help\n";
  return 1;
}

}  // namespace skiff::cli
