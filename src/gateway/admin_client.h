// AdminClient: the control plane's side of the gateway's admin API (docs/gateway.md). Publishes
// route tables with PUT /routes and their deltas with PATCH /routes, and reads GET /metrics,
// each over a short blocking HTTP/1.1 exchange. Thread-safe.
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

  // kConflict when the gateway holds a newer table.
  Status publish(const std::string& body) override;
  bool takesDeltas() const override { return true; }
  Status publishDelta(const RouteDelta& delta) override;
  // The gateway's metrics in the Prometheus text format.
  Result<std::string> metrics();

 private:
  // Sends `body` to /routes with `method`; the status code and the answer's body.
  Result<std::pair<int, std::string>> sendRoutes(const std::string& method,
                                                 const std::string& body);

  const std::function<std::string()> admin_address_;
  const std::string state_dir_;
};

}  // namespace skiff::gateway
