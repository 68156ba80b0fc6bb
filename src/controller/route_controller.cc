#include "controller/route_controller.h"

#include "model/formats.h"
#include "model/well_known.h"

namespace skiff {

namespace {

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

const ObjectKey& RouteController::tableKey() {
  static const ObjectKey key{"RouteTable", "", "gateway"};
  return key;
}

std::vector<WatchedKind> RouteController::watches() const {
  auto own = [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); };
  return {{"Application", own}, {"Instance", own}};
}

void RouteController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  enqueue_ = std::move(enqueue);
}

void RouteController::markStale() {
  stale_ = true;
  if (table_queued_ || !enqueue_) return;
  table_queued_ = true;
  enqueue_(tableKey());
}

Result<ReconcileResult> RouteController::reconcile(const ObjectKey& key) {
  if (key == tableKey()) return publishTable();
  auto stored = store_.get(key);
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) return stored.status();
    std::lock_guard lock(mu_);
    if (key.kind == "Application") {
      auto it = apps_.find(key);
      if (it == apps_.end()) return ReconcileResult{};
      const bool had_routes = !it->second.routes.empty();
      apps_.erase(it);
      if (had_routes) markStale();
    } else {
      auto it = instances_.find(key);
      if (it == instances_.end()) return ReconcileResult{};
      const bool was_backend = it->second.ready;
      instances_.erase(it);
      if (was_backend) markStale();
    }
    return ReconcileResult{};
  }
  if (key.kind == "Application") {
    refreshApplication(**stored);
  } else {
    refreshInstance(**stored);
  }
  return ReconcileResult{};
}

// Routes come from the spec alone, so an application is parsed only when its spec changed
// (a new generation, or a new object under the same name): the status writes the other
// controllers make cost a lookup.
void RouteController::refreshApplication(const StoredObject& stored) {
  const ObjectKey key = stored.key();
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(key);
    if (it != apps_.end() && it->second.uid == stored.metadata.uid &&
        it->second.generation == stored.metadata.generation)
      return;
  }
  const Object app = stored.object();
  AppEntry entry;
  entry.uid = stored.metadata.uid;
  entry.generation = stored.metadata.generation;
  for (const auto& component : app.spec.value("components", json::array())) {
    const std::string name = component.value("name", "");
    int index = 0;
    for (const auto& r : component.value("routes", json::array())) {
      RouteSpec spec;
      spec.id = key.tenant + "/" + key.name + "/" + name + "/" + std::to_string(index++);
      spec.host = r.value("host", "");
      spec.path_prefix = r.value("path", "/");
      spec.timeout_ms =
          static_cast<int64_t>(parseDurationSeconds(r.value("timeout", "30s")).value_or(30) * 1000);
      spec.retries = r.value("retries", 0);
      if (auto m = r.find("match"); m != r.end() && m->contains("headers"))
        spec.match = {{"headers", (*m)["headers"]}};
      spec.component = name;
      spec.port = portName(component, r.value("port", json()));
      entry.routes.push_back(std::move(spec));
    }
  }
  std::lock_guard lock(mu_);
  AppEntry& cached = apps_[key];
  const bool changed = cached.routes != entry.routes;
  cached = std::move(entry);
  if (changed) markStale();
}

void RouteController::refreshInstance(const StoredObject& stored) {
  const ObjectKey key = stored.key();
  {
    std::lock_guard lock(mu_);
    auto it = instances_.find(key);
    if (it != instances_.end() && it->second.rv == stored.resourceVersion()) return;
  }
  const Object instance = stored.object();
  InstanceEntry e;
  e.rv = stored.resourceVersion();
  e.ready = instance.status.value("ready", false) && instance.status.contains("address");
  e.application = instance.spec.value("application", "");
  e.component = instance.spec.value("component", "");
  e.address = instance.status.value("address", "");
  if (auto ports = instance.status.find("ports");
      ports != instance.status.end() && ports->is_object()) {
    for (const auto& [name, port] : ports->items())
      if (port.is_number_integer()) e.ports[name] = port.get<int>();
  }
  std::lock_guard lock(mu_);
  auto [it, added] = instances_.try_emplace(key, e);
  const bool changed = added ? e.ready : !it->second.routesLike(e);
  it->second = std::move(e);
  if (changed) markStale();
}

json RouteController::buildTable(int64_t version) const {
  // Ready backends by (tenant, application, component).
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const InstanceEntry*>>
      ready;
  for (const auto& [key, e] : instances_)
    if (e.ready) ready[{key.tenant, e.application, e.component}].push_back(&e);

  json routes = json::array();
  for (const auto& [key, entry] : apps_) {
    for (const RouteSpec& spec : entry.routes) {
      json route = {{"id", spec.id},
                    {"host", spec.host},
                    {"pathPrefix", spec.path_prefix},
                    {"timeoutMs", spec.timeout_ms},
                    {"retries", spec.retries},
                    {"balancer", "round_robin"}};
      if (!spec.match.is_null()) route["match"] = spec.match;
      json backends = json::array();
      if (auto r = ready.find({key.tenant, key.name, spec.component}); r != ready.end()) {
        for (const InstanceEntry* e : r->second) {
          auto port = spec.port ? e->ports.find(*spec.port) : e->ports.end();
          if (port == e->ports.end()) continue;
          backends.push_back(
              {{"address", e->address + ":" + std::to_string(port->second)}, {"weight", 100}});
        }
      }
      route["backends"] = std::move(backends);
      routes.push_back(std::move(route));
    }
  }
  return {{"version", version}, {"routes", std::move(routes)}};
}

Result<ReconcileResult> RouteController::publishTable() {
  // Building and publishing is O(routes); under a burst of changes it runs at most every
  // 50 ms, or every three times its own duration if that is longer, so a large table costs a
  // bounded share of a core. Changes arriving meanwhile are batched into the next table.
  const auto now = std::chrono::steady_clock::now();
  json table;
  {
    std::lock_guard lock(mu_);
    if (!stale_) {
      table_queued_ = false;
      return ReconcileResult{};
    }
    if (next_build_ && now < *next_build_)
      return ReconcileResult{
          std::chrono::duration_cast<std::chrono::milliseconds>(*next_build_ - now)};
    // Changes from here on need another table. The version is read after the caches it
    // describes were filled, and the store's revision never goes back, so versions only grow.
    stale_ = false;
    table_queued_ = false;
    table = buildTable(store_.revision());
  }
  Status published = publisher_.publish(table);
  const auto took = std::chrono::steady_clock::now() - now;
  std::lock_guard lock(mu_);
  next_build_ =
      now + std::max<std::chrono::steady_clock::duration>(std::chrono::milliseconds(50), 3 * took);
  if (!published.isOk()) {
    // Retried with backoff by the manager; meanwhile changes need not queue it again.
    stale_ = true;
    table_queued_ = true;
    return published;
  }
  return ReconcileResult{};
}

}  // namespace skiff
