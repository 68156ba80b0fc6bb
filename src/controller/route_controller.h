// RouteController: keeps the gateway's route table equal to what the applications ask for.
// Every route of every component becomes a gateway route whose backends are the component's
// ready instances (Instance status `ready`, `address` and `ports`). The table is reconciled as
// one key on any Application or Instance event and handed to a RoutePublisher, which retries
// with backoff when the gateway cannot be reached.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <tuple>

#include "controller/controller.h"

namespace skiff {

// Where route tables go (the local gateway's admin API). Implementations are thread-safe.
class RoutePublisher {
 public:
  virtual ~RoutePublisher() = default;
  virtual Status publish(const json& table) = 0;
};

class RouteController final : public Controller {
 public:
  RouteController(Store& store, RoutePublisher& publisher) : store_(store), publisher_(publisher) {}

  std::string name() const override { return "routes"; }
  std::vector<WatchedKind> watches() const override;
  Result<ReconcileResult> reconcile(const ObjectKey& key) override;

 private:
  // What one Application contributes: each route without its backends, with the component
  // and port name the backends come from.
  struct RouteSpec {
    json route;
    std::string component;
    std::optional<std::string> port;
  };
  struct AppEntry {
    int64_t rv = 0;
    std::vector<RouteSpec> routes;
  };
  // What one Instance contributes.
  struct InstanceEntry {
    int64_t rv = 0;
    bool ready = false;
    std::string application, component, address;
    std::map<std::string, int> ports;
  };

  // The gateway route table for the current objects: {"version": store revision,
  // "routes": [...]}, in the gateway's admin format (docs/gateway.md).
  json buildTable();

  Store& store_;
  RoutePublisher& publisher_;
  // Touched only by reconcile(), which runs for one key on one worker at a time.
  std::map<ObjectKey, AppEntry> app_cache_;
  std::map<ObjectKey, InstanceEntry> instance_cache_;
  std::optional<json> published_routes_;  // the last routes the gateway took
  std::optional<std::chrono::steady_clock::time_point> next_build_;
};

}  // namespace skiff
