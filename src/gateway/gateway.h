// `skiff gateway`: the L7 reverse proxy process. runGateway() wires the workers (one event loop
// per thread), the admin server and the persisted route table together, blocks until SIGTERM or
// SIGINT, then stops accepting, lets in-flight requests finish (bounded) and returns 0.
#pragma once

#include <string>

namespace skiff::gateway {

struct GatewayOptions {
  std::string listen = "127.0.0.1:7481";
  std::string admin_listen = "127.0.0.1:7482";
  // HTTPS listener, certificates chosen by SNI; empty: none.
  std::string tls_listen;
  std::string state_dir = ".";
  int threads = 0;  // 0: one per core
  int drain_seconds = 10;
};

// Returns the process exit code.
int runGateway(const GatewayOptions& options);

}  // namespace skiff::gateway
