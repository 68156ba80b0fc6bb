// `skiff server`: wires the control plane together (store, controllers, API, the supervised
// gateway) and runs it until SIGTERM/SIGINT, then shuts down gracefully: in-flight requests
// finish, watches end, the store closes; the gateway keeps serving. The only place concrete
// types meet.
#pragma once

#include <string>
#include <vector>

namespace skiff {

struct ServerOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:7480";
  std::string gateway_listen = "127.0.0.1:7481";
  std::string gateway_admin_listen = "127.0.0.1:7482";
  // The gateway's HTTPS address (routes with `tls`); empty: no HTTPS listener.
  std::string gateway_tls_listen = "127.0.0.1:7443";
  // How long the logs of removed instances (and of instances' earlier runs) are kept: a
  // duration such as "24h", "90m".
  std::string log_retention = "24h";
  // How long events are kept after their last occurrence.
  std::string event_retention = "24h";
  // How often metrics are collected (instances, gateway, node), and how much memory the
  // time series they are kept in may hold.
  std::string metrics_interval = "10s";
  std::string metrics_memory = "128Mi";
  // How often alert rules are evaluated (and notifications decided).
  std::string alert_interval = "5s";
  // The API's TLS certificate chain and key (PEM); both empty: a self-signed pair generated on
  // the first start under <data_dir>/tls/ (exe/api_tls.h).
  std::string tls_cert;
  std::string tls_key;
  // Plain HTTP instead of HTTPS; refused unless `listen` is a loopback address.
  bool insecure_http = false;
  // LDAP sign-in (auth/ldap.h): the YAML configuration file; empty: local users only.
  std::string ldap_config;
  // OIDC sign-in (auth/oidc.h): the YAML configuration file; empty: no OIDC tokens accepted.
  std::string oidc_config;
  // The key file that seals secrets at rest; empty: <data_dir>/secrets.key. Keep it (and its
  // backups) apart from backups of the database.
  std::string secrets_key_file;
  // Components with an image: "auto" runs them as runc containers where runc works here, "on"
  // refuses to start otherwise, "off" never runs containers.
  std::string containers = "auto";
  // Registries ("host[:port]") pulled from over plain HTTP though not on loopback.
  std::vector<std::string> insecure_registries;
};

// Blocks until a termination signal; returns the process exit code.
int runServer(const ServerOptions& options);

// Default data directory: $SKIFF_DATA_DIR, else /var/lib/skiff for root, else
// ~/.local/share/skiff.
std::string defaultDataDir();

}  // namespace skiff
