// GatewaySupervisor: keeps one `skiff gateway` process running for the server. The gateway is
// deliberately not tied to the server's lifetime: it keeps serving with its last route table
// while the server is stopped or restarting, and a restarted server adopts it (gateway.pid).
// If the gateway dies, it is started again within a second, and the restart hook runs (a new
// gateway holds no TLS keys until the control plane publishes them again). Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace skiff {

class GatewaySupervisor {
 public:
  struct Options {
    std::string state_dir;  // DATA/gateway: routes.json, gateway.addr, gateway.pid, gateway.log
    std::string listen;
    std::string admin_listen;
    std::string tls_listen;  // empty: no HTTPS listener
  };

  explicit GatewaySupervisor(Options options) : options_(std::move(options)) {}
  ~GatewaySupervisor();

  // Adopts a running gateway of this state dir, or starts one; then watches it.
  Status start();
  // Stops watching. The gateway keeps running.
  void stop();
  // Runs `hook` (on the watcher's thread) after each gateway this supervisor starts. Set before
  // start().
  void onGatewayStarted(std::function<void()> hook) { on_started_ = std::move(hook); }
  // The gateway's admin and proxy "HOST:PORT", or empty while it is starting.
  std::string adminAddress() const;
  std::string proxyAddress() const;
  // The gateway's HTTPS "HOST:PORT", or empty while it is starting or without HTTPS.
  std::string tlsAddress() const;

 private:
  Status spawn();
  std::string address(const char* which) const;
  bool alive();
  void watch();

  const Options options_;
  std::function<void()> on_started_;  // set before start()
  std::atomic<bool> stopping_{false};
  std::thread watcher_;
  mutable std::mutex mu_;
  pid_t pid_ = -1;          // guarded by mu_
  bool own_child_ = false;  // guarded by mu_: spawned by this process (so waitpid applies)
};

}  // namespace skiff
