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

// Objects are parsed only when their resourceVersion changed since the last build, so a table
// over thousands of applications costs map lookups, not JSON parsing, on every event.
json RouteController::buildTable() {
  const int64_t version = store_.revision();
  ListOptions all;
  std::map<ObjectKey, InstanceEntry> instances;
  for (const auto& stored : store_.list("Instance", all).items) {
    auto cached = instance_cache_.find(stored->key());
    if (cached != instance_cache_.end() && cached->second.rv == stored->resourceVersion()) {
      instances.emplace(cached->first, std::move(cached->second));
      continue;
    }
    const Object instance = stored->object();
    InstanceEntry e;
    e.rv = stored->resourceVersion();
    e.ready = instance.status.value("ready", false) && instance.status.contains("address");
    e.application = instance.spec.value("application", "");
    e.component = instance.spec.value("component", "");
    e.address = instance.status.value("address", "");
    if (auto ports = instance.status.find("ports");
        ports != instance.status.end() && ports->is_object()) {
      for (const auto& [name, port] : ports->items())
        if (port.is_number_integer()) e.ports[name] = port.get<int>();
    }
    instances.emplace(stored->key(), std::move(e));
  }
  instance_cache_ = std::move(instances);
  const auto& live_instances = instance_cache_;

  // Ready backends by (tenant, application, component).
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const InstanceEntry*>>
      ready;
  for (const auto& [key, e] : live_instances)
    if (e.ready) ready[{key.tenant, e.application, e.component}].push_back(&e);

  std::map<ObjectKey, AppEntry> apps;
  json routes = json::array();
  for (const auto& stored : store_.list("Application", all).items) {
    auto cached = app_cache_.find(stored->key());
    AppEntry entry;
    if (cached != app_cache_.end() && cached->second.rv == stored->resourceVersion()) {
      entry = std::move(cached->second);
    } else {
      const Object app = stored->object();
      entry.rv = stored->resourceVersion();
      for (const auto& component : app.spec.value("components", json::array())) {
        const std::string name = component.value("name", "");
        int index = 0;
        for (const auto& r : component.value("routes", json::array())) {
          RouteSpec spec;
          spec.component = name;
          spec.port = portName(component, r.value("port", json()));
          spec.route = {{"id", app.metadata.tenant + "/" + app.metadata.name + "/" + name + "/" +
                                   std::to_string(index++)},
                        {"host", r.value("host", "")},
                        {"pathPrefix", r.value("path", "/")},
                        {"timeoutMs",
                         static_cast<int64_t>(
                             parseDurationSeconds(r.value("timeout", "30s")).value_or(30) * 1000)},
                        {"retries", r.value("retries", 0)},
                        {"balancer", "round_robin"}};
          if (auto m = r.find("match"); m != r.end() && m->contains("headers"))
            spec.route["match"] = {{"headers", (*m)["headers"]}};
          entry.routes.push_back(std::move(spec));
        }
      }
    }
    const ObjectKey& key = stored->key();
    for (const RouteSpec& spec : entry.routes) {
      json route = spec.route;
      json backends = json::array();
      for (const InstanceEntry* e : ready[{key.tenant, key.name, spec.component}]) {
        auto port = spec.port ? e->ports.find(*spec.port) : e->ports.end();
        if (port == e->ports.end()) continue;
        backends.push_back(
            {{"address", e->address + ":" + std::to_string(port->second)}, {"weight", 100}});
      }
      route["backends"] = std::move(backends);
      routes.push_back(std::move(route));
    }
    apps.emplace(key, std::move(entry));
  }
  app_cache_ = std::move(apps);
  return {{"version", version}, {"routes", std::move(routes)}};
}

std::vector<WatchedKind> RouteController::watches() const {
  auto table = [](const StoredObject&) { return std::optional<ObjectKey>(kTableKey); };
  return {{"Application", table}, {"Instance", table}};
}

Result<ReconcileResult> RouteController::reconcile(const ObjectKey&) {
  // One key, so one worker at a time: the caches need no lock. Building and publishing is
  // O(routes); under a burst of changes it runs at most every 50 ms, or every three times its
  // own duration if that is longer, so a large table costs a bounded share of a core. Changes
  // arriving meanwhile are batched into the next table.
  const auto now = std::chrono::steady_clock::now();
  if (next_build_ && now < *next_build_)
    return ReconcileResult{
        std::chrono::duration_cast<std::chrono::milliseconds>(*next_build_ - now)};
  json table = buildTable();
  Status published = Status::ok();
  if (!published_routes_ || *published_routes_ != table["routes"]) {
    published = publisher_.publish(table);
    if (published.isOk()) published_routes_ = table["routes"];
  }
  const auto took = std::chrono::steady_clock::now() - now;
  next_build_ =
      now + std::max<std::chrono::steady_clock::duration>(std::chrono::milliseconds(50), 3 * took);
  if (!published.isOk()) return published;
  return ReconcileResult{};
}

}  // namespace skiff
