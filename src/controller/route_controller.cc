#include "controller/route_controller.h"

#include <algorithm>
#include <set>

#include "controller/instance_set_controller.h"
#include "controller/revision_controller.h"
#include "model/formats.h"
#include "model/object.h"
#include "model/well_known.h"
#include "net/tls.h"

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

constexpr const char* kTlsCondition = "TLSReady";

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The canary weight of each component an application is releasing (status.release).
std::map<std::string, int> canaryWeights(const json& status) {
  std::map<std::string, int> weights;
  auto release = status.find("release");
  if (release == status.end() || !release->is_object()) return weights;
  auto components = release->find("components");
  if (components == release->end() || !components->is_object()) return weights;
  for (const auto& [component, entry] : components->items())
    if (entry.is_object()) weights[component] = entry.value("weight", 0);
  return weights;
}

// Gateway weights are integers; a side's share is spread over its backends in ten-thousandths.
constexpr int kWeightScale = 100;

}  // namespace

const ObjectKey& RouteController::tableKey() {
  static const ObjectKey key{"RouteTable", "", "gateway"};
  return key;
}

std::vector<WatchedKind> RouteController::watches() const {
  auto own = [](const StoredObject& o) { return std::optional<ObjectKey>(o.key()); };
  return {{"Application", own}, {"Instance", own}, {"Secret", own}};
}

void RouteController::bindQueue(std::function<void(const ObjectKey&)> enqueue) {
  enqueue_ = std::move(enqueue);
}

void RouteController::republish() {
  std::lock_guard lock(mu_);
  gateway_version_ = 0;
  certificates_changed_ = true;
  markStale();
}

void RouteController::touch(const ObjectKey& app) {
  touched_.insert(app);
  markStale();
}

void RouteController::markStale() {
  stale_ = true;
  if (table_queued_ || !enqueue_) return;
  table_queued_ = true;
  enqueue_(tableKey());
}

Result<ReconcileResult> RouteController::reconcile(const ObjectKey& key) {
  if (key == tableKey()) return publishTable();
  if (key.kind == "Secret") return refreshSecret(key);
  auto stored = store_.get(key);
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) return stored.status();
    std::lock_guard lock(mu_);
    if (key.kind == "Application") {
      auto it = apps_.find(key);
      if (it == apps_.end()) return ReconcileResult{};
      const bool had_routes = !it->second.routes.empty();
      for (const RouteSpec& spec : it->second.routes)
        certificates_changed_ = certificates_changed_ || !spec.tls_secret.empty();
      apps_.erase(it);
      if (had_routes) touch(key);
    } else {
      auto it = instances_.find(key);
      if (it == instances_.end()) return ReconcileResult{};
      const bool was_backend = it->second.ready;
      const ObjectKey app{"Application", key.tenant, it->second.application};
      instances_.erase(it);
      if (was_backend) touch(app);
    }
    return ReconcileResult{};
  }
  if (key.kind == "Application") {
    refreshApplication(**stored);
    if (Status s = updateTlsCondition(**stored); !s.isOk()) return s;
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
  // A release's weights live in the status; most status writes have none and had none, and
  // cost a substring search.
  const bool releasing = stored.jsonText().find("\"release\"") != std::string::npos;
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(key);
    if (it != apps_.end() && it->second.uid == stored.metadata.uid &&
        it->second.generation == stored.metadata.generation && !it->second.unresolved_pins) {
      if (!releasing && it->second.canary_weights.empty()) return;
    } else {
      it = apps_.end();
    }
    if (it != apps_.end()) {
      // Only the weights can have changed.
      std::map<std::string, int> weights;
      if (releasing) weights = canaryWeights(stored.object().status);
      if (weights != it->second.canary_weights) {
        it->second.canary_weights = std::move(weights);
        touch(key);
      }
      return;
    }
  }
  const Object app = stored.object();
  AppEntry entry;
  entry.canary_weights = canaryWeights(app.status);
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
      if (auto m = r.find("match"); m != r.end() && m->is_object() && !m->empty()) spec.match = *m;
      spec.pinned_revision = r.value("revision", int64_t{0});
      if (spec.pinned_revision > 0) {
        spec.pinned_hash = pinnedHash(key, spec.pinned_revision, name);
        entry.unresolved_pins = entry.unresolved_pins || spec.pinned_hash.empty();
      }
      spec.component = name;
      spec.port = portName(component, r.value("port", json()));
      if (auto tls = r.find("tls"); tls != r.end() && tls->is_object())
        spec.tls_secret = tls->value("secret", "");
      spec.preview = component.value("rollout", json::object()).value("preview", json());
      spec.sticky = component.value("rollout", json::object()).value("sticky", false);
      entry.routes.push_back(std::move(spec));
    }
  }
  // Secrets named for the first time are read now; later changes arrive as Secret events.
  std::map<ObjectKey, SecretEntry> named;
  for (const RouteSpec& spec : entry.routes) {
    if (spec.tls_secret.empty()) continue;
    ObjectKey secret{"Secret", key.tenant, spec.tls_secret};
    bool cached = false;
    {
      std::lock_guard lock(mu_);
      cached = secrets_.contains(secret);
    }
    if (!cached && !named.contains(secret)) named.emplace(secret, loadSecret(secret));
  }
  std::lock_guard lock(mu_);
  for (auto& [secret, loaded] : named) secrets_.try_emplace(secret, std::move(loaded));
  AppEntry& cached = apps_[key];
  const bool changed =
      cached.routes != entry.routes || cached.canary_weights != entry.canary_weights;
  if (changed)
    for (const auto* routes : {&cached.routes, &entry.routes})
      for (const RouteSpec& spec : *routes)
        certificates_changed_ = certificates_changed_ || !spec.tls_secret.empty();
  cached = std::move(entry);
  if (changed) touch(key);
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
  if (auto hash = stored.metadata.labels.find(kTemplateHashLabel);
      hash != stored.metadata.labels.end())
    e.hash = hash->second;
  auto track = stored.metadata.labels.find(kTrackLabel);
  e.canary = track != stored.metadata.labels.end() && track->second == "canary";
  if (track != stored.metadata.labels.end() && track->second == "warm") e.ready = false;
  if (const int64_t revision = instance.spec.value("revision", int64_t{0}); revision > 0)
    e.revision = std::to_string(revision);
  if (auto ports = instance.status.find("ports");
      ports != instance.status.end() && ports->is_object()) {
    for (const auto& [name, port] : ports->items())
      if (port.is_number_integer()) e.ports[name] = port.get<int>();
  }
  std::lock_guard lock(mu_);
  auto [it, added] = instances_.try_emplace(key, e);
  const bool changed = added ? e.ready : !it->second.routesLike(e);
  if (changed) {
    touch({"Application", key.tenant, it->second.application});
    touch({"Application", key.tenant, e.application});
  }
  it->second = std::move(e);
}

std::string RouteController::pinnedHash(const ObjectKey& app, int64_t revision,
                                        const std::string& component) const {
  auto stored = store_.get({"Revision", app.tenant, revisionName(app.name, revision)});
  // Not made yet (the apply that pins it makes it): looked for again on the next event.
  if (!stored.ok()) return "";
  const Object object = (*stored)->object();
  const json components =
      object.spec.value("template", json::object()).value("components", json::array());
  for (const auto& c : components)
    if (c.value("name", "") == component)
      return templateHash(c, object.spec.value("configVersions", json::object()));
  return "";
}

RouteController::SecretEntry RouteController::loadSecret(const ObjectKey& key) const {
  SecretEntry entry;
  auto got = store_.get(key);
  if (!got.ok()) {
    entry.problem =
        got.status().code() == StatusCode::kNotFound
            ? "secret " + quoted(key.name) + " does not exist in tenant " + quoted(key.tenant)
            : "secret " + quoted(key.name) + " cannot be read: " + got.status().message();
    return entry;
  }
  entry.rv = (*got)->resourceVersion();
  const Object secret = (*got)->object();
  const std::string type = secret.spec.value("type", "opaque");
  const json data = secret.spec.value("data", json::object());
  if (type != "tls") {
    entry.problem = "secret " + quoted(key.name) + " is of type " + quoted(type) +
                    ", not \"tls\" (tls.crt and tls.key)";
    return entry;
  }
  entry.certificate = data.value("tls.crt", "");
  entry.key = data.value("tls.key", "");
  // The same check the gateway makes, so that one bad secret never fails the whole table.
  auto context = net::makeServerTlsContextFromPem(entry.certificate, entry.key);
  auto fingerprint = net::certificateFingerprintOfPem(entry.certificate);
  if (!context.ok() || !fingerprint.ok()) {
    entry.problem = "secret " + quoted(key.name) + " holds no usable certificate: " +
                    (context.ok() ? fingerprint.status() : context.status()).message();
    entry.certificate.clear();
    entry.key.clear();
    return entry;
  }
  entry.fingerprint = std::move(fingerprint).value();
  return entry;
}

Result<ReconcileResult> RouteController::refreshSecret(const ObjectKey& key) {
  {
    std::lock_guard lock(mu_);
    if (!secrets_.contains(key)) {
      // Only secrets that routes name are kept; the others' events cost this scan.
      bool named = false;
      for (const auto& [app, entry] : apps_) {
        if (app.tenant != key.tenant) continue;
        for (const RouteSpec& spec : entry.routes) named = named || spec.tls_secret == key.name;
        if (named) break;
      }
      if (!named) return ReconcileResult{};
    }
  }
  SecretEntry entry = loadSecret(key);
  std::lock_guard lock(mu_);
  auto [it, added] = secrets_.try_emplace(key, entry);
  if (!added && it->second == entry) return ReconcileResult{};
  it->second = std::move(entry);
  certificates_changed_ = true;
  markStale();
  return ReconcileResult{};
}

std::map<std::string, RouteController::CertificateOwner> RouteController::certificateOwners()
    const {
  std::map<std::string, CertificateOwner> owners;
  for (const auto& [key, entry] : apps_) {
    for (const RouteSpec& spec : entry.routes) {
      if (spec.tls_secret.empty() || owners.contains(spec.host)) continue;
      ObjectKey secret{"Secret", key.tenant, spec.tls_secret};
      auto it = secrets_.find(secret);
      if (it == secrets_.end() || !it->second.problem.empty()) continue;
      owners.emplace(spec.host, CertificateOwner{key, std::move(secret)});
    }
  }
  return owners;
}

Status RouteController::updateTlsCondition(const StoredObject& stored) {
  const ObjectKey key = stored.key();
  std::string problems, served;
  bool has_tls = false;
  {
    std::lock_guard lock(mu_);
    auto app = apps_.find(key);
    if (app == apps_.end()) return Status::ok();
    // Who serves each host costs every application's routes: only worth it for one with TLS.
    const bool any_tls = std::any_of(app->second.routes.begin(), app->second.routes.end(),
                                     [](const RouteSpec& r) { return !r.tls_secret.empty(); });
    const auto owners = any_tls ? certificateOwners() : std::map<std::string, CertificateOwner>();
    std::set<std::string> seen;
    for (const RouteSpec& spec : app->second.routes) {
      if (spec.tls_secret.empty() || !seen.insert(spec.host).second) continue;
      has_tls = true;
      const ObjectKey secret{"Secret", key.tenant, spec.tls_secret};
      auto entry = secrets_.find(secret);
      auto owner = owners.find(spec.host);
      std::string problem;
      if (entry == secrets_.end())
        problem = "secret " + quoted(spec.tls_secret) + " has not been read yet";
      else if (!entry->second.problem.empty())
        problem = entry->second.problem;
      else if (owner != owners.end() &&
               (owner->second.application != key || owner->second.secret != secret))
        problem = "host " + quoted(spec.host) + " already serves secret " +
                  quoted(owner->second.secret.name) + " of application " +
                  quoted(owner->second.application.tenant + "/" + owner->second.application.name);
      if (!problem.empty()) {
        problems += (problems.empty() ? "" : "; ") + ("host " + spec.host + ": " + problem);
      } else {
        served += (served.empty() ? "" : ", ") + spec.host + " (secret " + spec.tls_secret + ", " +
                  entry->second.fingerprint + ")";
      }
    }
  }
  // Most applications have no TLS routes and never had: no parse for them.
  if (!has_tls && stored.jsonText().find(kTlsCondition) == std::string::npos) return Status::ok();
  const Object app = stored.object();
  Object updated = app;
  if (!has_tls) {
    // Routes no longer ask for certificates: the condition would only mislead.
    auto conditions = updated.status.find("conditions");
    if (conditions == updated.status.end() || !conditions->is_array()) return Status::ok();
    json kept = json::array();
    for (const json& c : *conditions)
      if (c.value("type", "") != kTlsCondition) kept.push_back(c);
    *conditions = std::move(kept);
  } else if (problems.empty()) {
    setCondition(updated.status,
                 {kTlsCondition, "True", "CertificatesServed", "HTTPS serves " + served, ""},
                 formatTimestamp(clock_.now()));
  } else {
    setCondition(
        updated.status,
        {kTlsCondition, "False", "CertificateUnavailable",
         "HTTPS is refused for " + problems + (served.empty() ? "" : "; it serves " + served), ""},
        formatTimestamp(clock_.now()));
  }
  if (updated.status == app.status) return Status::ok();
  UpdateOptions update;
  update.status_only = true;
  auto written = store_.update(std::move(updated), update);
  return written.ok() ? Status::ok() : written.status();
}

RouteController::BuiltRoutes RouteController::buildRoutes(const std::set<ObjectKey>* only) const {
  BuiltRoutes built;
  if (only != nullptr && only->empty()) return built;
  // Ready backends of those applications, by (tenant, application, component).
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const InstanceEntry*>>
      ready;
  for (const auto& [key, e] : instances_)
    if (e.ready &&
        (only == nullptr || only->contains(ObjectKey{"Application", key.tenant, e.application})))
      ready[{key.tenant, e.application, e.component}].push_back(&e);

  auto backendOf = [](const InstanceEntry& e, int port, int weight) {
    json backend = {{"address", e.address + ":" + std::to_string(port)}, {"weight", weight}};
    if (!e.revision.empty()) backend["revision"] = e.revision;
    return backend;
  };
  auto build = [&](const ObjectKey& key, const AppEntry& entry) {
    auto& routes = built[key];
    for (const RouteSpec& spec : entry.routes) {
      json route = {{"id", spec.id},
                    {"host", spec.host},
                    {"pathPrefix", spec.path_prefix},
                    {"timeoutMs", spec.timeout_ms},
                    {"retries", spec.retries},
                    {"balancer", "round_robin"}};
      if (!spec.match.is_null()) route["match"] = spec.match;
      if (spec.sticky) route["sticky"] = true;
      // The ready instances that serve this route's port, canary ones apart during a release.
      std::vector<std::pair<const InstanceEntry*, int>> serving[2];  // [canary] -> instance, port
      auto weight = entry.canary_weights.find(spec.component);
      const bool released = weight != entry.canary_weights.end() && spec.pinned_revision == 0;
      if (auto r = ready.find({key.tenant, key.name, spec.component}); r != ready.end()) {
        for (const InstanceEntry* e : r->second) {
          auto port = spec.port ? e->ports.find(*spec.port) : e->ports.end();
          if (port == e->ports.end()) continue;
          if (spec.pinned_revision > 0 && e->hash != spec.pinned_hash) continue;
          serving[released && e->canary].emplace_back(e, port->second);
        }
      }
      // Each side's share of the traffic; when one side has no ready instance, the other takes
      // it all rather than answer 503.
      int share[2] = {100, 0};
      if (released && !serving[1].empty()) {
        share[0] = serving[0].empty() ? 0 : 100 - weight->second;
        share[1] = 100 - share[0];
      }
      json backends = json::array();
      for (int side = 0; side < 2; ++side) {
        if (share[side] == 0 || serving[side].empty()) continue;
        const int each =
            std::max<int>(1, share[side] * kWeightScale / static_cast<int>(serving[side].size()));
        for (const auto& [e, port] : serving[side])
          backends.push_back(backendOf(*e, port, released ? each : 100));
      }
      // The preview: the same route for the preview host, or with the preview header, to
      // the canary set alone.
      if (released && spec.preview.is_object() && !serving[1].empty()) {
        json preview = route;
        preview["id"] = spec.id + "/preview";
        if (spec.preview.contains("host")) preview["host"] = spec.preview["host"];
        if (spec.preview.contains("header")) {
          json match = spec.match.is_object() ? spec.match : json::object();
          json headers = match.value("headers", json::array());
          headers.push_back({{"name", spec.preview["header"].value("name", "")},
                             {"value", spec.preview["header"].value("value", "")}});
          match["headers"] = std::move(headers);
          preview["match"] = std::move(match);
        }
        json canary_backends = json::array();
        for (const auto& [e, port] : serving[1])
          canary_backends.push_back(backendOf(*e, port, 100));
        preview["backends"] = std::move(canary_backends);
        routes.emplace_back(spec.id + "/preview", preview.dump());
      }
      route["backends"] = std::move(backends);
      routes.emplace_back(spec.id, route.dump());
    }
  };
  if (only == nullptr) {
    for (const auto& [key, entry] : apps_) build(key, entry);
  } else {
    for (const ObjectKey& key : *only)
      if (auto app = apps_.find(key); app != apps_.end()) build(key, app->second);
  }
  return built;
}

std::string RouteController::wholeTable(uint64_t version, const BuiltRoutes& built) const {
  // Written route by route: a whole table's document would be most of what the controller
  // allocates, and the heap keeps it after it is freed.
  std::string table = "{\"version\":" + std::to_string(version) + ",\"routes\":[";
  for (const auto& [key, routes] : built) {
    for (const auto& [id, text] : routes) {
      if (table.back() != '[') table += ',';
      table += text;
    }
  }
  json certificates = json::array();
  for (const auto& [host, owner] : certificateOwners()) {
    const SecretEntry& secret = secrets_.at(owner.secret);
    certificates.push_back(
        {{"host", host}, {"certificate", secret.certificate}, {"key", secret.key}});
  }
  table += "],\"certificates\":" + certificates.dump() + "}";
  return table;
}

std::optional<RouteDelta> RouteController::deltaOfTouched(
    uint64_t version, const BuiltRoutes& built,
    std::vector<std::pair<std::string, std::optional<size_t>>>& sent) const {
  RouteDelta delta;
  delta.base_version = gateway_version_;
  delta.version = version;
  for (const ObjectKey& key : touched_) {
    std::set<std::string_view> now;
    if (auto app = built.find(key); app != built.end()) {
      for (const auto& [id, text] : app->second) {
        now.insert(id);
        const size_t hash = std::hash<std::string>{}(text);
        if (auto p = published_.find(id); p != published_.end() && p->second == hash) continue;
        delta.upsert.push_back(text);
        sent.emplace_back(id, hash);
      }
    }
    // Route ids are "TENANT/APPLICATION/...": the application's are a range of published_.
    const std::string prefix = key.tenant + "/" + key.name + "/";
    for (auto p = published_.lower_bound(prefix);
         p != published_.end() && p->first.compare(0, prefix.size(), prefix) == 0; ++p) {
      if (now.contains(p->first)) continue;
      delta.remove.push_back(p->first);
      sent.emplace_back(p->first, std::nullopt);
    }
  }
  // Past half the table, the whole table costs the gateway about as much and says it all.
  if (sent.size() > published_.size() / 2 + 16) return std::nullopt;
  return delta;
}

Result<ReconcileResult> RouteController::publishTable() {
  // Publishing is O(changes) with a publisher that takes deltas, but a whole table is O(routes),
  // here and in the gateway, which parses, checks and stores it on the same machine. Under a
  // burst of changes a table starts at most every 50 ms, or every four times the last one's
  // building and publishing if that is longer, so a large table costs a bounded share of the
  // cores (with 11,000 routes, whole tables published back to back took a third of both). The
  // wait is capped at 500 ms, well inside an instance's drain (1 s by default), which must see
  // it leave the gateway's table before it stops. Changes arriving meanwhile are batched into
  // the next table.
  const auto now = std::chrono::steady_clock::now();
  std::string table;
  std::optional<RouteDelta> delta;
  std::vector<std::pair<std::string, std::optional<size_t>>> sent;  // a delta's routes
  std::map<std::string, size_t> whole;                              // a whole table's
  uint64_t version = 0;
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
    version = static_cast<uint64_t>(store_.revision());
    if (publisher_.takesDeltas() && gateway_version_ != 0 && !certificates_changed_)
      delta = deltaOfTouched(version, buildRoutes(&touched_), sent);
    if (!delta) {
      sent.clear();
      const BuiltRoutes built = buildRoutes(nullptr);
      table = wholeTable(version, built);
      for (const auto& [key, routes] : built)
        for (const auto& [id, text] : routes) whole[id] = std::hash<std::string>{}(text);
      certificates_changed_ = false;
    }
    touched_.clear();
  }
  Status published = Status::ok();
  if (!delta)
    published = publisher_.publish(table);
  else if (!sent.empty())
    published = publisher_.publishDelta(*delta);
  const auto took = std::chrono::steady_clock::now() - now;
  std::lock_guard lock(mu_);
  next_build_ = now + std::clamp<std::chrono::steady_clock::duration>(
                          4 * took, std::chrono::milliseconds(50), std::chrono::milliseconds(500));
  if (!delta && published.code() == StatusCode::kConflict) {
    // The gateway holds a newer table than this one: what it holds is not ours to patch.
    gateway_version_ = 0;
  } else if (!published.isOk()) {
    // Retried with backoff by the manager, as a whole table: what the gateway holds is not
    // known. Meanwhile changes need not queue it again.
    gateway_version_ = 0;
    certificates_changed_ = true;
    stale_ = true;
    table_queued_ = true;
    return published;
  } else if (delta) {
    for (auto& [id, hash] : sent) {
      if (hash)
        published_[id] = *hash;
      else
        published_.erase(id);
    }
    if (!sent.empty()) gateway_version_ = version;
  } else {
    published_ = std::move(whole);
    gateway_version_ = version;
  }
  // Certificates may have changed hands (a secret replaced, a host's owner gone): the
  // applications with TLS routes look at their conditions again.
  if (enqueue_ && !delta) {
    for (const auto& [key, entry] : apps_) {
      for (const RouteSpec& spec : entry.routes) {
        if (spec.tls_secret.empty()) continue;
        enqueue_(key);
        break;
      }
    }
  }
  return ReconcileResult{};
}

}  // namespace skiff
