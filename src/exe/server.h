// `skiff server`: wires the control plane together (store, controllers, API, the supervised
// gateway) and runs it until SIGTERM/SIGINT, then shuts down gracefully: in-flight requests
// finish, watches end, the store closes; the gateway keeps serving. The only place concrete
// types meet.
#pragma once

#include <string>

namespace skiff {

struct ServerOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:7480";
  std::string gateway_listen = "127.0.0.1:7481";
  std::string gateway_admin_listen = "127.0.0.1:7482";
  // How long the logs of removed instances (and of instances' earlier runs) are kept: a
  // duration such as "24h", "90m".
  std::string log_retention = "24h";
};

// Blocks until a termination signal; returns the process exit code.
int runServer(const ServerOptions& options);

// Default data directory: $SKIFF_DATA_DIR, else /var/lib/skiff for root, else
// ~/.local/share/skiff.
std::string defaultDataDir();

}  // namespace skiff
