#include "controller/route_controller.h"

#include "model/formats.h"
#include "model/well_known.h"

namespace skiff {

namespace {

const ObjectKey kTableKey{"RouteTable", "", "gateway"};

// The name of the component port a route or probe refers to (by name or by number).
std::optional<std::string> portName(const json& component, const json& ref) {
  for (const auto& p : component.value("ports", json::array())) {
    if ((ref.is_string() && p.value("name", "") == ref.get<std::string>()) ||
        (ref.is_number_integer() && p.value("port", 0) == ref.get<int>()))
      return p.value("name", "");
  }
  return std::nullopt;
}

}  // namespace

json buildRouteTable(const Store& store) {
  const int64_t version = store.revision();
  ListOptions all;
  ObjectList instances = store.list("Instance", all);
  // Ready instances by (tenant, application, component).
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<json>> ready;
  for (const auto& stored : instances.items) {
    const Object instance = stored->object();
    if (!instance.status.value("ready", false)) continue;
    ready[{instance.metadata.tenant, instance.spec.value("application", ""),
           instance.spec.value("component", "")}]
        .push_back(instance.status);
  }
  json routes = json::array();
  for (const auto& stored : store.list("Application", all).items) {
    const Object app = stored->object();
    for (const auto& component : app.spec.value("components", json::array())) {
      const std::string name = component.value("name", "");
      const auto& backends_of = ready[{app.metadata.tenant, app.metadata.name, name}];
      int index = 0;
      for (const auto& r : component.value("routes", json::array())) {
        json route = {
            {"id", app.metadata.tenant + "/" + app.metadata.name + "/" + name + "/" +
                       std::to_string(index++)},
            {"host", r.value("host", "")},
            {"pathPrefix", r.value("path", "/")},
            {"timeoutMs", static_cast<int64_t>(
                              parseDurationSeconds(r.value("timeout", "30s")).value_or(30) * 1000)},
            {"retries", r.value("retries", 0)},
            {"balancer", "round_robin"}};
        if (auto m = r.find("match"); m != r.end() && m->contains("headers"))
          route["match"] = {{"headers", (*m)["headers"]}};
        json backends = json::array();
        std::optional<std::string> port = portName(component, r.value("port", json()));
        for (const auto& status : backends_of) {
          const json ports = status.value("ports", json::object());
          if (!port || !ports.contains(*port) || !status.contains("address")) continue;
          backends.push_back({{"address", status.value("address", "") + ":" +
                                              std::to_string(ports[*port].get<int>())},
                              {"weight", 100}});
        }
        route["backends"] = std::move(backends);
        routes.push_back(std::move(route));
      }
    }
  }
  return {{"version", version}, {"routes", std::move(routes)}};
}

std::vector<WatchedKind> RouteController::watches() const {
  auto table = [](const StoredObject&) { return std::optional<ObjectKey>(kTableKey); };
  return {{"Application", table}, {"Instance", table}};
}

Result<ReconcileResult> RouteController::reconcile(const ObjectKey&) {
  json table = buildRouteTable(store_);
  {
    std::lock_guard lock(mu_);
    if (published_routes_ && *published_routes_ == table["routes"]) return ReconcileResult{};
  }
  if (Status s = publisher_.publish(table); !s.isOk()) return s;
  std::lock_guard lock(mu_);
  published_routes_ = table["routes"];
  return ReconcileResult{};
}

}  // namespace skiff
