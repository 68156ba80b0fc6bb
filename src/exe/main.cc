// The skiff binary: `skiff server` runs the control plane; every other subcommand is the CLI.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "exe/containers.h"
#include "exe/server.h"
#include "gateway/gateway.h"
#include "runtime/local/platform_log_sink.h"
#include "runtime/local/shim.h"
#include "runtime/local/shim_launcher.h"

int main(int argc, char** argv) {
  CLI::App app{"Skiff: an application-centric container PaaS", "skiff"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("skiff ") + SKIFF_VERSION);

  skiff::ServerOptions server_options;
  server_options.data_dir = skiff::defaultDataDir();
  CLI::App* server = app.add_subcommand("server", "Run the Skiff control plane");
  server->add_option("--data-dir", server_options.data_dir, "Where state is kept")
      ->capture_default_str();
  server->add_option("--listen", server_options.listen, "API address HOST:PORT (port 0: any)")
      ->capture_default_str();
  server->add_option("--tls-cert", server_options.tls_cert,
                     "PEM certificate (chain) the API serves (default: a self-signed one, "
                     "generated under DATA_DIR/tls on the first start)");
  server->add_option("--tls-key", server_options.tls_key, "PEM private key of --tls-cert");
  server->add_flag("--insecure-http", server_options.insecure_http,
                   "Serve the API over plain HTTP; only on a loopback --listen address");
  server
      ->add_option("--gateway-listen", server_options.gateway_listen,
                   "Address of the gateway the server runs (port 0: any)")
      ->capture_default_str();
  server
      ->add_option("--gateway-admin-listen", server_options.gateway_admin_listen,
                   "Admin address of that gateway (port 0: any)")
      ->capture_default_str();
  server
      ->add_option("--gateway-tls-listen", server_options.gateway_tls_listen,
                   "HTTPS address of that gateway, for routes with TLS certificates (port 0: "
                   "any; empty: no HTTPS)")
      ->capture_default_str();
  server
      ->add_option("--log-retention", server_options.log_retention,
                   "How long logs of removed instances are kept (e.g. 24h, 90m), unless the "
                   "tenant's spec.logs.retention says")
      ->capture_default_str();
  server
      ->add_option("--event-retention", server_options.event_retention,
                   "How long events are kept after they last happened (e.g. 24h)")
      ->capture_default_str();
  server
      ->add_option("--metrics-interval", server_options.metrics_interval,
                   "How often metrics are collected (e.g. 10s)")
      ->capture_default_str();
  server
      ->add_option("--alert-interval", server_options.alert_interval,
                   "How often alert rules are evaluated (e.g. 5s; docs/alerting.md)")
      ->capture_default_str();
  server
      ->add_option("--metrics-memory", server_options.metrics_memory,
                   "Memory the metrics time series may hold (e.g. 128Mi); the oldest data goes "
                   "first")
      ->capture_default_str();
  server->add_option("--ldap-config", server_options.ldap_config,
                     "YAML file configuring sign-in through an LDAP directory (docs/security.md)");
  server->add_option("--oidc-config", server_options.oidc_config,
                     "YAML file configuring sign-in with an OpenID Connect issuer's tokens "
                     "(docs/security.md)");
  server->add_option("--secrets-key-file", server_options.secrets_key_file,
                     "Key file sealing secrets at rest, created on first start (default: "
                     "DATA_DIR/secrets.key)");
  server
      ->add_option("--containers", server_options.containers,
                   "Run components with an image as runc containers: auto (where runc works), "
                   "on (or refuse to start), off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  server->add_option("--insecure-registry", server_options.insecure_registries,
                     "A registry HOST[:PORT] to pull from over plain HTTP (loopback ones always "
                     "are); repeatable");

  std::string cleanup_dir = skiff::defaultDataDir();
  CLI::App* host_cleanup = app.add_subcommand(
      "host-cleanup",
      "End every instance of a data directory and remove what Skiff made on the host for them "
      "(network namespaces, bridges, firewall rules, mounts, cgroups); the server must be "
      "stopped");
  host_cleanup->add_option("--data-dir", cleanup_dir, "The server's data directory")
      ->capture_default_str();

  skiff::gateway::GatewayOptions gateway_options;
  CLI::App* gateway = app.add_subcommand("gateway", "Run the L7 gateway (HTTP reverse proxy)");
  gateway->add_option("--listen", gateway_options.listen, "Proxy address HOST:PORT (port 0: any)")
      ->capture_default_str();
  gateway
      ->add_option("--admin-listen", gateway_options.admin_listen,
                   "Admin address HOST:PORT for routes and metrics (port 0: any)")
      ->capture_default_str();
  gateway->add_option("--tls-listen", gateway_options.tls_listen,
                      "HTTPS address HOST:PORT, the certificate chosen by SNI (port 0: any; "
                      "default: no HTTPS)");
  gateway
      ->add_option("--state-dir", gateway_options.state_dir,
                   "Where routes.json and gateway.addr are kept")
      ->capture_default_str();
  gateway->add_option("--threads", gateway_options.threads, "Event loop threads (0: one per core)")
      ->capture_default_str();

  // Started by the process driver, one per instance; not for people, hence no help group.
  std::string shim_dir;
  bool shim_launcher = false;
  CLI::App* shim = app.add_subcommand("shim", "Supervise one instance (started by the runtime)");
  shim->add_option("--dir", shim_dir, "The instance's state directory");
  // The drivers' helper that forks shims (runtime/local/shim_launcher.h); its padding argument
  // is room for each shim's command line.
  shim->add_flag("--launcher", shim_launcher, "Fork shims on request");
  shim->allow_extras();
  shim->group("");

  skiff::cli::Commands commands(app);

  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (server->parsed()) return skiff::runServer(server_options);
  if (gateway->parsed()) {
    // Its own log, also as files the server searches (GET /api/v1/platform/logs).
    if (auto s = skiff::runtime::addPlatformLogFile(gateway_options.state_dir + "/logs"); !s.isOk())
      spdlog::warn("the gateway's log goes to the console only: {}", s.toString());
    return skiff::gateway::runGateway(gateway_options);
  }
  if (shim->parsed() && shim_launcher) {
    // argv's strings lie one after another: the launcher may rewrite all of them.
    char* end = argv[argc - 1] + std::strlen(argv[argc - 1]) + 1;
    return skiff::runtime::runShimLauncher(argv[0], static_cast<size_t>(end - argv[0]));
  }
  if (shim->parsed()) {
    if (shim_dir.empty()) {
      std::fprintf(stderr, "skiff shim: --dir is required\n");
      return 2;
    }
    return skiff::runtime::runShim(shim_dir);
  }
  if (host_cleanup->parsed()) return skiff::runHostCleanup(cleanup_dir);
  return commands.run();
}
