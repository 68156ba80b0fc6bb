#include "runtime/local/service_controller.h"

#include <set>

#include "model/well_known.h"

namespace skiff::runtime {

std::string serviceKey(const std::string& application, const std::string& component) {
  return application + "/" + component;
}

ServiceController::ServiceController(Store& store, network::Network& network)
    : store_(store), network_(network) {}

std::vector<WatchedKind> ServiceController::watches() const {
  return {
      // Services come from the application's spec and its instances' status.
      {"Application", [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); },
       /*skip_status_writes=*/true},
      {"Instance", owningApplication},
  };
}

Result<ReconcileResult> ServiceController::reconcile(const ObjectKey& key) {
  auto services = network_.services(key.tenant);
  if (!services.ok()) return services.status();
  const std::string prefix = key.name + "/";
  std::set<std::string> stale;
  for (const auto& s : *services)
    if (s.rfind(prefix, 0) == 0) stale.insert(s);

  auto app = store_.get(key);
  if (!app.ok() && app.status().code() != StatusCode::kNotFound) return app.status();
  const std::shared_ptr<const Object> parsed = app.ok() ? parsedObject(*app) : nullptr;
  static const Object kNone;
  const Object& object = parsed ? *parsed : kNone;
  // An application on a Kubernetes cluster has its Services there; none of it runs here.
  if (app.ok() && runsLocally(object.spec)) {
    std::vector<Object> instances;
    for (const auto& i : listOwnedBy(store_, "Instance", key).items)
      instances.push_back(i->object());
    const json components = object.spec.value("components", json::array());
    for (const auto& component : components) {
      const std::string name = component.value("name", "");
      const json declared = component.value("ports", json::array());
      // Only containers have an address of their own to balance over.
      if (!component.contains("image") || declared.empty()) continue;
      std::vector<network::ServicePort> ports;
      for (const auto& p : declared) {
        network::ServicePort port;
        port.port = static_cast<uint16_t>(p.value("port", 0));
        for (const Object& instance : instances) {
          if (instance.spec.value("component", "") != name) continue;
          const json& status = instance.status;
          if (!status.value("ready", false) || status.value("network", "") != "container") continue;
          const int target = status.value("ports", json::object()).value(p.value("name", ""), 0);
          if (target > 0)
            port.endpoints.push_back({status.value("address", ""), static_cast<uint16_t>(target)});
        }
        ports.push_back(std::move(port));
      }
      auto vip = network_.setService(key.tenant, serviceKey(key.name, name), "", ports);
      if (!vip.ok()) return vip.status();
      stale.erase(serviceKey(key.name, name));
    }
  }
  for (const auto& s : stale)
    if (Status st = network_.removeService(key.tenant, s); !st.isOk()) return st;
  return ReconcileResult{};
}

}  // namespace skiff::runtime
