#include "cli/commands.h"

#include <iostream>

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

  CLI::App* apply_cmd = nullptr;
  CLI::App* get_cmd = nullptr;
  CLI::App* describe_cmd = nullptr;
  CLI::App* delete_cmd = nullptr;
  CLI::App* diff_cmd = nullptr;
  CLI::App* history_cmd = nullptr;
  CLI::Option* history_revision_opt = nullptr;
  CLI::App* version_cmd = nullptr;
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

  s.apply_cmd = app.add_subcommand("apply", "Create or update objects from files");
  s.apply_cmd->add_option("-f,--filename", s.apply.file, "File, directory or - for stdin")
      ->required();
  addTenantOption(*s.apply_cmd, s.apply.tenant);

  s.get_cmd = app.add_subcommand("get", "List objects, or show one");
  s.get_cmd->add_option("kind", s.get.kind, "Kind: tenants, apps, revisions, instances")
      ->required();
  s.get_cmd->add_option("name", s.get.name, "Object name (all objects when omitted)");
  addTenantOption(*s.get_cmd, s.get.tenant);
  s.get_cmd->add_flag("-A,--all-tenants", s.get.all_tenants, "List across every tenant");
  s.get_cmd->add_option("-o,--output", s.get.output, "Output format: json, yaml, wide or name");
  s.get_cmd->add_option("-l,--selector", s.get.selector, "Label selector, e.g. app=shop,tier!=db");
  s.get_cmd->add_flag("-w,--watch", s.get.watch, "After listing, print changes until interrupted");

  s.describe_cmd = app.add_subcommand("describe", "Show one object in detail");
  s.describe_cmd->add_option("kind", s.describe.kind, "Kind")->required();
  s.describe_cmd->add_option("name", s.describe.name, "Object name")->required();
  addTenantOption(*s.describe_cmd, s.describe.tenant);

  s.delete_cmd = app.add_subcommand("delete", "Delete objects by kind and name, or from files");
  s.delete_cmd->add_option("kind", s.remove.kind, "Kind");
  s.delete_cmd->add_option("name", s.remove.name, "Object name");
  s.delete_cmd->add_option("-f,--filename", s.remove.file, "File, directory or - for stdin");
  s.delete_cmd->add_flag("--ignore-not-found", s.remove.ignore_not_found,
                         "Succeed when the object does not exist");
  addTenantOption(*s.delete_cmd, s.remove.tenant);

  s.diff_cmd = app.add_subcommand(
      "diff", "Show what apply would change (exit 0: none, 1: changes, 2: error)");
  s.diff_cmd->add_option("-f,--filename", s.diff.file, "File, directory or - for stdin")
      ->required();
  addTenantOption(*s.diff_cmd, s.diff.tenant);

  CLI::App* rollout = app.add_subcommand("rollout", "Manage an application's rollouts");
  rollout->require_subcommand(1);
  s.history_cmd = rollout->add_subcommand("history", "List an application's revisions");
  s.history_cmd->add_option("application", s.history.application, "Application name")->required();
  s.history_revision_opt = s.history_cmd->add_option("--revision", s.history_revision,
                                                     "Print this revision's template as YAML");
  addTenantOption(*s.history_cmd, s.history.tenant);

  s.version_cmd = app.add_subcommand("version", "Print the client and server versions");

  for (CLI::App* cmd : {s.apply_cmd, s.get_cmd, s.describe_cmd, s.delete_cmd, s.diff_cmd,
                        s.history_cmd, s.version_cmd})
    addServerOption(*cmd, s.server);
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
  if (s.apply_cmd->parsed()) return runApply(ctx, s.apply);
  if (s.get_cmd->parsed()) return runGet(ctx, s.get);
  if (s.describe_cmd->parsed()) return runDescribe(ctx, s.describe);
  if (s.delete_cmd->parsed()) return runDelete(ctx, s.remove);
  if (diff) return runDiff(ctx, s.diff);
  if (s.history_cmd->parsed()) {
    if (s.history_revision_opt->count() > 0) s.history.revision = s.history_revision;
    return runRolloutHistory(ctx, s.history);
  }
  if (s.version_cmd->parsed()) return runVersion(ctx);
  std::cerr << "error: no command given: run skiff --help\n";
  return 1;
}

}  // namespace skiff::cli
