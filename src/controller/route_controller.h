// RouteController: keeps the gateway's route table equal to what the applications ask for.
// Every route of every component becomes a gateway route whose backends are the component's
// ready instances (Instance status `ready`, `address` and `ports`). The table is reconciled as
// one key on any Application or Instance event and handed to a RoutePublisher, which retries
// with backoff when the gateway cannot be reached.
#pragma once

#include <mutex>
#include <optional>

#include "controller/controller.h"

namespace skiff {

// Where route tables go (the local gateway's admin API). Implementations are thread-safe.
class RoutePublisher {
 public:
  virtual ~RoutePublisher() = default;
  virtual Status publish(const json& table) = 0;
};

// The gateway route table for the current objects: {"version": store revision, "routes": [...]},
// in the gateway's admin format (docs/gateway.md). Pure; exposed for tests.
json buildRouteTable(const Store& store);

class RouteController final : public Controller {
 public:
  RouteController(Store& store, RoutePublisher& publisher) : store_(store), publisher_(publisher) {}

  std::string name() const override { return "routes"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  Store& store_;
  RoutePublisher& publisher_;
  std::mutex mu_;
  std::optional<json> published_routes_;  // guarded by mu_: last routes the gateway took
};

}  // namespace skiff
