// AdminClient: the control plane's side of the gateway's admin API (docs/gateway.md). Publishes
// route tables with PUT /routes and reads GET /metrics, each over a short blocking HTTP/1.1
// exchange. Thread-safe.
#pragma once

#include <functional>
#include <string>

#include "controller/route_controller.h"

namespace skiff::gateway {

class AdminClient final : public RoutePublisher {
 public:
  // `admin_address` returns the gateway's current admin "HOST:PORT" (empty while unknown): the
  // gateway may move when it is restarted.
  // `state_dir` holds the admin token the gateway requires (gateway/admin_token.h).
  AdminClient(std::function<std::string()> admin_address, std::string state_dir)
      : admin_address_(std::move(admin_address)), state_dir_(std::move(state_dir)) {}

  Status publish(const std::string& body) override;
  // The gateway's metrics in the Prometheus text format.
  Result<std::string> metrics();

 private:
  const std::function<std::string()> admin_address_;
  const std::string state_dir_;
};

}  // namespace skiff::gateway
