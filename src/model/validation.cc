#include "model/validation.h"

#include "image/tag_pattern.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include <re2/re2.h>

#include "common/clock.h"
#include "common/time_zone.h"
#include "model/formats.h"
#include "model/kinds.h"
#include "model/schema.h"
#include "model/schemas.h"

namespace skiff {
namespace {

// Revision names append "-<number>" to the application's name; 50 leaves room for it within
// the 63 characters of a DNS label.
constexpr size_t kMaxApplicationNameLength = 50;
constexpr size_t kMaxAnnotationsBytes = 256 * 1024;
constexpr size_t kMaxStatusBytes = 256 * 1024;

using Errors = std::vector<FieldError>;

// Typed views that tolerate values of the wrong type: schema validation has already reported
// those, and the cross-field rules below must still run (and not crash) on what is left.
const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}
const std::string* stringMember(const json& obj, const char* key) {
  const json* v = member(obj, key);
  return v != nullptr && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}
// The member as a string, or `fallback` when it is absent or of another type (which the schema
// check reports on its own), so that semantic checks never throw on a mistyped field.
std::string stringOr(const json& obj, const char* key, const char* fallback) {
  const std::string* v = stringMember(obj, key);
  return v != nullptr ? *v : fallback;
}
const json* objectMember(const json& obj, const char* key) {
  const json* v = member(obj, key);
  return v != nullptr && v->is_object() ? v : nullptr;
}
const json& arrayMember(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  const json* v = member(obj, key);
  return v != nullptr && v->is_array() ? *v : kEmpty;
}
std::optional<int64_t> intMember(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (v == nullptr || !v->is_number_integer()) return std::nullopt;
  return v->get<int64_t>();
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Reports unless exactly one (or, with allow_none, at most one) of `keys` is present.
void requireOneOf(const json& obj, std::initializer_list<const char*> keys, bool allow_none,
                  const std::string& path, Errors& errors) {
  if (!obj.is_object()) return;
  std::vector<std::string> present;
  std::vector<std::string> names;
  for (const char* k : keys) {
    names.push_back(k);
    if (obj.contains(k)) present.push_back(k);
  }
  if (present.size() == 1 || (present.empty() && allow_none)) return;
  std::string list;
  for (size_t i = 0; i < names.size(); ++i)
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  if (present.empty()) {
    errors.push_back({path, "must set one of " + list});
  } else {
    errors.push_back({path, "must set only one of " + list + ", got " + joined(present)});
  }
}

// ---- Application rules ----------------------------------------------------------------

struct DeclaredPorts {
  std::map<std::string, int64_t> by_name;
  std::vector<std::string> names;  // in declaration order, for messages
  std::set<int64_t> numbers;
};

DeclaredPorts declaredPorts(const json& comp, const std::string& path, Errors& errors) {
  DeclaredPorts ports;
  std::map<std::string, size_t> first_name;
  std::map<int64_t, size_t> first_number;
  const json& list = arrayMember(comp, "ports");
  for (size_t i = 0; i < list.size(); ++i) {
    std::string p = indexPath(childPath(path, "ports"), i);
    const std::string* name = stringMember(list[i], "name");
    std::optional<int64_t> number = intMember(list[i], "port");
    if (name != nullptr) {
      if (auto [it, added] = first_name.emplace(*name, i); !added) {
        errors.push_back({childPath(p, "name"), "duplicate port name " + showValue(*name) +
                                                    " (also ports[" + std::to_string(it->second) +
                                                    "])"});
      } else {
        ports.names.push_back(*name);
        if (number) ports.by_name[*name] = *number;
      }
    }
    if (number) {
      if (auto [it, added] = first_number.emplace(*number, i); !added) {
        errors.push_back({childPath(p, "port"), "duplicate port " + std::to_string(*number) +
                                                    " (also ports[" + std::to_string(it->second) +
                                                    "])"});
      } else {
        ports.numbers.insert(*number);
      }
    }
  }
  return ports;
}

// A reference to a port of the component, by name or number.
void checkPortRef(const json* ref, const std::string& ref_path, const DeclaredPorts& ports,
                  const std::string& component_path, Errors& errors) {
  if (ref == nullptr) return;
  std::string shown;
  if (ref->is_string()) {
    if (ports.by_name.count(ref->get<std::string>()) > 0) return;
    shown = "port " + showValue(*ref);
  } else if (ref->is_number_integer()) {
    if (ports.numbers.count(ref->get<int64_t>()) > 0) return;
    shown = "port " + showValue(*ref);
  } else {
    return;
  }
  std::string declared =
      ports.names.empty() ? "no ports are declared" : "declared: " + joined(ports.names);
  errors.push_back({ref_path, shown + " is not declared in " + childPath(component_path, "ports") +
                                  " (" + declared + ")"});
}

void checkProbes(const json& comp, const std::string& path, const DeclaredPorts& ports,
                 Errors& errors) {
  const json* health = objectMember(comp, "health");
  if (health == nullptr) return;
  for (const char* kind : {"readiness", "liveness", "startup"}) {
    const json* probe = objectMember(*health, kind);
    if (probe == nullptr) continue;
    std::string p = childPath(childPath(path, "health"), kind);
    requireOneOf(*probe, {"http", "tcp", "exec"}, false, p, errors);
    for (const char* handler : {"http", "tcp"})
      if (const json* h = objectMember(*probe, handler))
        checkPortRef(member(*h, "port"), childPath(childPath(p, handler), "port"), ports, path,
                     errors);
    auto success = intMember(*probe, "successThreshold");
    if (std::string_view(kind) != "readiness" && success && *success != 1)
      errors.push_back(
          {childPath(p, "successThreshold"),
           std::string("must be 1 for a ") + kind + " probe, got " + std::to_string(*success)});
  }
}

void checkEnv(const json& comp, const std::string& path, Errors& errors) {
  const json& env = arrayMember(comp, "env");
  std::map<std::string, size_t> first;
  for (size_t i = 0; i < env.size(); ++i) {
    std::string p = indexPath(childPath(path, "env"), i);
    requireOneOf(env[i], {"value", "valueFrom"}, false, p, errors);
    if (const json* from = objectMember(env[i], "valueFrom"))
      requireOneOf(*from, {"config", "secret"}, false, childPath(p, "valueFrom"), errors);
    if (const std::string* name = stringMember(env[i], "name")) {
      if (auto [it, added] = first.emplace(*name, i); !added)
        errors.push_back({childPath(p, "name"), "duplicate variable " + showValue(*name) +
                                                    " (also env[" + std::to_string(it->second) +
                                                    "])"});
    }
  }
  const json& env_from = arrayMember(comp, "envFrom");
  for (size_t i = 0; i < env_from.size(); ++i)
    requireOneOf(env_from[i], {"config", "secret"}, false, indexPath(childPath(path, "envFrom"), i),
                 errors);
}

void checkResources(const json& comp, const std::string& path, Errors& errors) {
  const json* res = objectMember(comp, "resources");
  if (res == nullptr) return;
  std::string p = childPath(path, "resources");
  bool shorthand = res->contains("cpu") || res->contains("memory");
  if (shorthand && (res->contains("requests") || res->contains("limits"))) {
    errors.push_back({p,
                      "set either cpu/memory (request equals limit) or requests/limits, not "
                      "both"});
    return;
  }
  const json* requests = objectMember(*res, "requests");
  const json* limits = objectMember(*res, "limits");
  if (requests == nullptr || limits == nullptr) return;
  using Parser = std::optional<int64_t> (*)(const json&);
  for (auto [name, parse] : {std::pair<const char*, Parser>{"cpu", parseCpuMillis},
                             std::pair<const char*, Parser>{"memory", parseMemoryBytes}}) {
    const json* request = member(*requests, name);
    const json* limit = member(*limits, name);
    if (request == nullptr || limit == nullptr) continue;
    auto r = parse(*request);
    auto l = parse(*limit);
    if (r && l && *r > *l)
      errors.push_back(
          {childPath(childPath(p, "requests"), name),
           "must not exceed the limit " + showValue(*limit) + ", got " + showValue(*request)});
  }
}

void checkAutoscale(const json& comp, const std::string& path, Errors& errors) {
  const json* scale = objectMember(comp, "autoscale");
  if (scale == nullptr) return;
  std::string p = childPath(path, "autoscale");
  auto min = intMember(*scale, "min");
  auto max = intMember(*scale, "max");
  if (min && max && *min > *max)
    errors.push_back({childPath(p, "min"), "must not exceed max (" + std::to_string(*max) +
                                               "), got " + std::to_string(*min)});
  const json& schedules = arrayMember(*scale, "schedules");
  for (size_t i = 0; i < schedules.size(); ++i) {
    const std::string sp = indexPath(childPath(p, "schedules"), i);
    auto smin = intMember(schedules[i], "min");
    auto smax = intMember(schedules[i], "max");
    if (smin && smax && *smin > *smax)
      errors.push_back({childPath(sp, "min"), "must not exceed max (" + std::to_string(*smax) +
                                                  "), got " + std::to_string(*smin)});
    if (!smin && !smax && schedules[i].is_object())
      errors.push_back({sp, "needs a min or a max to apply while its window is open"});
    if (const std::string* zone = stringMember(schedules[i], "timeZone")) {
      auto loaded = TimeZone::load(*zone);
      if (!loaded.ok()) errors.push_back({childPath(sp, "timeZone"), loaded.status().message()});
    }
  }
  static const char* kTargets[] = {"targetCPU", "targetMemory", "targetRequestsPerSecond",
                                   "targetP99"};
  if (std::none_of(std::begin(kTargets), std::end(kTargets),
                   [&](const char* t) { return scale->contains(t); }) &&
      schedules.empty())
    errors.push_back({p,
                      "needs a target (targetCPU, targetMemory, targetRequestsPerSecond, "
                      "targetP99) or schedules to scale by"});
}

void checkRollout(const json& comp, const std::string& path, Errors& errors) {
  const json* rollout = objectMember(comp, "rollout");
  if (rollout == nullptr) return;
  std::string p = childPath(path, "rollout");
  const std::string* strategy = stringMember(*rollout, "strategy");
  if (rollout->contains("steps") && strategy != nullptr && *strategy != "canary") {
    errors.push_back({childPath(p, "steps"),
                      "only apply to the canary strategy, got strategy " + showValue(*strategy)});
    return;
  }
  const std::string strategy_name = strategy != nullptr ? *strategy : "rolling";
  for (const auto& [field, allowed] : std::initializer_list<std::pair<const char*, const char*>>{
           {"preview", ""}, {"keepWarm", "bluegreen"}, {"sticky", "canary"}}) {
    if (!rollout->contains(field)) continue;
    const bool fits = *allowed == '\0' ? strategy_name != "rolling" : strategy_name == allowed;
    if (!fits)
      errors.push_back(
          {childPath(p, field), std::string("only applies to the ") +
                                    (*allowed == '\0' ? "canary and bluegreen" : allowed) +
                                    " strateg" + (*allowed == '\0' ? "ies" : "y") +
                                    ", got strategy " + showValue(strategy_name)});
  }
  if (const json* preview = objectMember(*rollout, "preview"))
    requireOneOf(*preview, {"host", "header"}, false, childPath(p, "preview"), errors);
  const json& steps = arrayMember(*rollout, "steps");
  std::optional<int64_t> previous;
  for (size_t i = 0; i < steps.size(); ++i) {
    auto weight = intMember(steps[i], "weight");
    if (!weight) continue;
    if (previous && *weight <= *previous)
      errors.push_back({childPath(indexPath(childPath(p, "steps"), i), "weight"),
                        "must be greater than the previous step's weight (" +
                            std::to_string(*previous) + "), got " + std::to_string(*weight)});
    previous = weight;
  }
}

void checkVolumes(const json& comp, const std::string& path, bool stateful, Errors& errors) {
  const json& volumes = arrayMember(comp, "volumes");
  std::map<std::string, size_t> names;
  std::map<std::string, size_t> paths;
  for (size_t i = 0; i < volumes.size(); ++i) {
    std::string p = indexPath(childPath(path, "volumes"), i);
    const json& v = volumes[i];
    if (const std::string* name = stringMember(v, "name")) {
      if (auto [it, added] = names.emplace(*name, i); !added)
        errors.push_back({childPath(p, "name"), "duplicate volume name " + showValue(*name) +
                                                    " (also volumes[" + std::to_string(it->second) +
                                                    "])"});
    }
    if (const std::string* mount = stringMember(v, "path")) {
      if (auto [it, added] = paths.emplace(*mount, i); !added)
        errors.push_back({childPath(p, "path"), "duplicate mount path " + showValue(*mount) +
                                                    " (also volumes[" + std::to_string(it->second) +
                                                    "])"});
    }
    const json* source = objectMember(v, "source");
    if (source == nullptr) continue;
    requireOneOf(*source, {"persistent", "emptyDir", "config", "secret"}, false,
                 childPath(p, "source"), errors);
    bool sized = source->contains("persistent") || source->contains("emptyDir");
    if (!sized && v.contains("size"))
      errors.push_back({childPath(p, "size"),
                        "applies only to persistent and emptyDir volumes; a config or secret "
                        "volume is as large as its keys"});
    if (stateful && source->contains("persistent") && !v.contains("size"))
      errors.push_back(
          {childPath(p, "size"), "is required for a persistent volume of a stateful component"});
  }
}

// Fills what the schema cannot default because it depends on other fields.
void defaultComponent(json& comp) {
  if (!comp.is_object()) return;
  const std::string* type = stringMember(comp, "type");
  if (!comp.contains("restartPolicy") && type != nullptr) {
    bool batch = *type == "job" || *type == "cronjob";
    comp["restartPolicy"] = batch ? "OnFailure" : "Always";
  }
  if (json* rollout = comp.contains("rollout") ? &comp["rollout"] : nullptr;
      rollout != nullptr && rollout->is_object() && !rollout->contains("steps")) {
    const std::string* strategy = stringMember(*rollout, "strategy");
    if (strategy != nullptr && *strategy == "canary")
      (*rollout)["steps"] =
          json::array({{{"weight", 10}, {"pause", "60s"}}, {{"weight", 50}, {"pause", "60s"}}});
  }
}

void checkComponent(const json& comp, const std::string& path, Errors& errors) {
  if (!comp.is_object()) return;
  if (!comp.contains("image") && !comp.contains("run"))
    errors.push_back({path,
                      "must set image, run or both (run overrides the image's "
                      "entrypoint)"});
  if (const json* follow = objectMember(comp, "autoDeploy")) {
    if (!comp.contains("image"))
      errors.push_back({childPath(path, "autoDeploy"),
                        "needs the component's image: it follows that image's repository"});
    if (const std::string* tags = stringMember(*follow, "tags")) {
      if (auto pattern = image::TagPattern::parse(*tags); !pattern.ok())
        errors.push_back(
            {childPath(childPath(path, "autoDeploy"), "tags"), pattern.status().message()});
    }
  }
  const std::string* type = stringMember(comp, "type");
  std::string kind = type != nullptr ? *type : "service";
  bool batch = kind == "job" || kind == "cronjob";
  if (kind == "cronjob" && !comp.contains("schedule"))
    errors.push_back({childPath(path, "schedule"), "is required for a cronjob component"});
  if (kind != "cronjob" && comp.contains("schedule"))
    errors.push_back({childPath(path, "schedule"),
                      "is only allowed for cronjob components, this one is a " + kind});
  const std::string* restart = stringMember(comp, "restartPolicy");
  if (batch && restart != nullptr && *restart == "Always")
    errors.push_back({childPath(path, "restartPolicy"),
                      "must be OnFailure or Never for a " + kind + " component, got \"Always\""});

  DeclaredPorts ports = declaredPorts(comp, path, errors);
  checkProbes(comp, path, ports, errors);
  checkEnv(comp, path, errors);
  checkResources(comp, path, errors);
  checkAutoscale(comp, path, errors);
  checkRollout(comp, path, errors);
  if (const json* rollout = objectMember(comp, "rollout")) {
    if (const json* analysis = objectMember(*rollout, "analysis")) {
      const json& checks = arrayMember(*analysis, "checks");
      for (size_t i = 0; i < checks.size(); ++i)
        checkPortRef(
            member(checks[i], "port"),
            childPath(
                indexPath(childPath(childPath(childPath(path, "rollout"), "analysis"), "checks"),
                          i),
                "port"),
            ports, path, errors);
    }
  }
  checkVolumes(comp, path, kind == "stateful", errors);

  const json& routes = arrayMember(comp, "routes");
  if (!routes.empty() && ports.names.empty() && ports.numbers.empty()) {
    errors.push_back({childPath(path, "routes"),
                      "need the component to declare ports (" + childPath(path, "ports") + ")"});
    return;
  }
  for (size_t i = 0; i < routes.size(); ++i) {
    std::string p = indexPath(childPath(path, "routes"), i);
    checkPortRef(member(routes[i], "port"), childPath(p, "port"), ports, path, errors);
  }
}

void checkDependencies(const json& spec, const std::string& path,
                       const std::vector<std::string>& names, Errors& errors) {
  const json& deps = arrayMember(spec, "dependsOn");
  std::set<std::string> known(names.begin(), names.end());
  std::map<std::string, std::vector<std::string>> edges;
  bool references_ok = true;
  for (size_t i = 0; i < deps.size(); ++i) {
    std::string p = indexPath(childPath(path, "dependsOn"), i);
    const std::string* from = stringMember(deps[i], "from");
    const std::string* to = stringMember(deps[i], "to");
    for (auto [field, name] : {std::pair{"from", from}, std::pair{"to", to}}) {
      if (name != nullptr && known.count(*name) == 0) {
        errors.push_back({childPath(p, field), "no component named " + showValue(*name) +
                                                   " (components: " + joined(names) + ")"});
        references_ok = false;
      }
    }
    if (from == nullptr || to == nullptr) continue;
    if (*from == *to) {
      errors.push_back({p, "a component cannot depend on itself (" + *from + ")"});
      references_ok = false;
      continue;
    }
    edges[*from].push_back(*to);
  }
  if (!references_ok) return;
  // Depth-first search for a cycle; components are few (at most 64), recursion is shallow.
  enum class Mark { kNew, kActive, kDone };
  std::map<std::string, Mark> marks;
  std::vector<std::string> trail;
  std::function<bool(const std::string&)> visit = [&](const std::string& node) {
    marks[node] = Mark::kActive;
    trail.push_back(node);
    for (const auto& next : edges[node]) {
      if (marks[next] == Mark::kActive) {
        auto start = std::find(trail.begin(), trail.end(), next);
        std::string cycle;
        for (auto it = start; it != trail.end(); ++it) cycle += *it + " -> ";
        errors.push_back({childPath(path, "dependsOn"), "dependency cycle " + cycle + next});
        return true;
      }
      if (marks[next] == Mark::kNew && visit(next)) return true;
    }
    marks[node] = Mark::kDone;
    trail.pop_back();
    return false;
  };
  for (const auto& name : names)
    if (marks[name] == Mark::kNew && visit(name)) return;
}

void checkRouteConflicts(const json& spec, const std::string& path, Errors& errors) {
  std::map<std::string, std::string> seen;  // (host, path, match) -> where
  std::map<std::string, std::pair<std::string, std::string>> tls_secrets;  // host -> secret, where
  const json& components = arrayMember(spec, "components");
  for (size_t c = 0; c < components.size(); ++c) {
    std::string cpath = indexPath(childPath(path, "components"), c);
    const json& routes = arrayMember(components[c], "routes");
    for (size_t r = 0; r < routes.size(); ++r) {
      const std::string* host = stringMember(routes[r], "host");
      const std::string* route_path = stringMember(routes[r], "path");
      if (host == nullptr || route_path == nullptr) continue;
      const json* match = member(routes[r], "match");
      std::string key = *host + '\n' + *route_path + '\n' + (match ? match->dump() : "");
      std::string where = indexPath(childPath(cpath, "routes"), r);
      if (auto [it, added] = seen.emplace(key, where); !added)
        errors.push_back({where, "duplicate route for host " + showValue(*host) + " path " +
                                     showValue(*route_path) + " (also " + it->second + ")"});
      // One host has one certificate: its routes may not name different secrets.
      const json* tls = member(routes[r], "tls");
      const std::string* secret = tls != nullptr ? stringMember(*tls, "secret") : nullptr;
      if (secret == nullptr) continue;
      auto [other, added] = tls_secrets.emplace(*host, std::make_pair(*secret, where));
      if (!added && other->second.first != *secret)
        errors.push_back({childPath(childPath(where, "tls"), "secret"),
                          "host " + showValue(*host) + " already takes its certificate from " +
                              "secret " + showValue(other->second.first) + " (" +
                              other->second.second + ")"});
    }
  }
}

void defaultApplication(json& spec) {
  if (!spec.is_object() || !spec.contains("components")) return;
  json& components = spec["components"];
  if (!components.is_array()) return;
  for (json& comp : components) defaultComponent(comp);
}

void checkApplication(const json& spec, const std::string& path, Errors& errors) {
  const json& components = arrayMember(spec, "components");
  std::vector<std::string> names;
  std::map<std::string, size_t> first;
  for (size_t i = 0; i < components.size(); ++i) {
    std::string p = indexPath(childPath(path, "components"), i);
    if (const std::string* name = stringMember(components[i], "name")) {
      if (auto [it, added] = first.emplace(*name, i); !added) {
        errors.push_back({childPath(p, "name"), "duplicate component name " + showValue(*name) +
                                                    " (also components[" +
                                                    std::to_string(it->second) + "])"});
      } else {
        names.push_back(*name);
      }
    }
    checkComponent(components[i], p, errors);
  }
  checkDependencies(spec, path, names, errors);
  checkRouteConflicts(spec, path, errors);
}

// ---- Identity and permission rules ------------------------------------------------------

void checkUser(const json& spec, Errors& errors) {
  if (const std::string* email = stringMember(spec, "email"); email != nullptr && !email->empty()) {
    size_t at = email->find('@');
    if (at == 0 || at == std::string::npos || at + 1 == email->size() ||
        email->find_first_of(" \t\r\n") != std::string::npos)
      errors.push_back(
          {"spec.email", "must be an address like name@example.com, got " + showValue(*email)});
  }
}

void checkRole(const json& spec, Errors& errors) {
  const json& rules = arrayMember(spec, "rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    const json& resources = arrayMember(rules[i], "resources");
    for (size_t j = 0; j < resources.size(); ++j) {
      if (!resources[j].is_string()) continue;
      const std::string& r = resources[j].get_ref<const std::string&>();
      if (!isRbacResource(r))
        errors.push_back({indexPath(childPath(indexPath("spec.rules", i), "resources"), j),
                          "unknown resource " + showValue(r) + ": use one of " +
                              joined(allResources()) + ", \"<resource>/*\" or \"*\""});
    }
  }
}

void checkToken(const json& spec, Errors& errors) {
  if (const std::string* at = stringMember(spec, "expiresAt")) {
    std::chrono::system_clock::time_point t;
    if (!parseTimestamp(*at, &t))
      errors.push_back({"spec.expiresAt",
                        "must be an RFC 3339 UTC time like "
                        "\"2026-01-31T00:00:00Z\", got " +
                            showValue(*at)});
  }
}

// ---- Configuration -----------------------------------------------------------------------

constexpr size_t kMaxDataBytes = 1 << 20;

// Keys become file names and variable names; values are never quoted back (they may be
// secret), only their sizes.
void checkCluster(const std::string& name, const json& spec, Errors& errors) {
  if (name == "local")
    errors.push_back({"metadata.name", "\"local\" is the built-in runtime; choose another name"});
  const std::string server = stringOr(spec, "server", "");
  if (spec.contains("server") && server.rfind("https://", 0) != 0)
    errors.push_back({"spec.server", "must be an https:// URL, got " + showValue(server)});
  const bool cert = spec.contains("clientCertificate"), key = spec.contains("clientKey");
  if (cert != key)
    errors.push_back({cert ? "spec.clientKey" : "spec.clientCertificate",
                      "a client certificate needs its key, and a key its certificate"});
  if (!cert && !spec.contains("token"))
    errors.push_back({"spec", "needs a token or a clientCertificate and clientKey"});
  const std::string prefix = stringOr(spec, "namespacePrefix", "skiff-");
  if (prefix.size() > 20 ||
      prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    errors.push_back({"spec.namespacePrefix",
                      "at most 20 lowercase letters, digits and '-', got " + showValue(prefix)});
}

void checkData(const json& spec, bool secret, Errors& errors) {
  const json* data = objectMember(spec, "data");
  if (data == nullptr) return;
  size_t total = 0;
  for (auto it = data->begin(); it != data->end(); ++it) {
    const std::string& key = it.key();
    const bool charset_ok =
        !key.empty() && key.size() <= 253 &&
        key.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
            std::string::npos;
    if (!charset_ok || key == "." || key == "..")
      errors.push_back({childPath("spec.data", key),
                        "keys must be 1-253 letters, digits, '-', '_' or '.' (not \".\" or "
                        "\"..\"), got " +
                            showValue(key)});
    if (it->is_string()) total += key.size() + it->get_ref<const std::string&>().size();
  }
  if (total > kMaxDataBytes)
    errors.push_back({"spec.data", "must hold at most 1 MiB of keys and values, got " +
                                       std::to_string(total) + " bytes"});
  if (secret && stringOr(spec, "type", "opaque") == "registry") {
    for (const char* key : {"server", "username", "password"})
      if (stringMember(*data, key) == nullptr)
        errors.push_back({childPath("spec.data", key), "is required for type registry"});
    return;
  }
  if (!secret || stringOr(spec, "type", "opaque") != "tls") return;
  const struct {
    const char* key;
    const char* pem;
  } required[] = {{"tls.crt", "-----BEGIN CERTIFICATE-----"}, {"tls.key", "PRIVATE KEY-----"}};
  for (const auto& r : required) {
    const std::string* value = stringMember(*data, r.key);
    if (value == nullptr)
      errors.push_back({childPath("spec.data", r.key), "is required for type tls"});
    else if (value->find(r.pem) == std::string::npos)
      errors.push_back({childPath("spec.data", r.key),
                        std::string("must be PEM (a block containing \"") + r.pem + "\")"});
  }
}

// ---- Alerting ---------------------------------------------------------------------------
// The query of a metric condition is parsed at admission by the API (alert/rule.h): the model
// cannot link the query language, which sits above the store.

// Alert labels are Prometheus label names, so Alertmanager and PromQL take them as they are.
bool isAlertLabelName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void checkLabelNames(const json& names, const std::string& path, Errors& errors) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i].is_string() && !isAlertLabelName(names[i].get_ref<const std::string&>()))
      errors.push_back({indexPath(path, i), "must be a label name ([a-zA-Z_][a-zA-Z0-9_]*), got " +
                                                showValue(names[i])});
}

// A duration member within [min, max] seconds (the schema checked its format).
void checkDurationRange(const json& obj, const char* key, const std::string& path, double min,
                        double max, const char* bounds, Errors& errors) {
  const std::string* text = stringMember(obj, key);
  if (text == nullptr) return;
  auto seconds = parseDurationSeconds(*text);
  if (seconds && (*seconds < min || *seconds > max))
    errors.push_back(
        {childPath(path, key), std::string("must be ") + bounds + ", got " + showValue(*text)});
}

void checkAlertRule(const json& spec, Errors& errors) {
  const bool disabled = spec.is_object() && spec.value("disabled", false) == true;
  requireOneOf(spec, {"metric", "log", "event"}, disabled, "spec", errors);
  if (const json* labels = objectMember(spec, "labels")) {
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      if (!isAlertLabelName(it.key()))
        errors.push_back(
            {childPath("spec.labels", it.key()), "must be a label name ([a-zA-Z_][a-zA-Z0-9_]*)"});
      if (it.key() == "alertname" || it.key() == "tenant")
        errors.push_back({childPath("spec.labels", it.key()),
                          "is set by Skiff (the rule's name, its tenant) and cannot be given"});
    }
  }
  checkLabelNames(arrayMember(spec, "groupBy"), "spec.groupBy", errors);
  if (const json* inhibits = objectMember(spec, "inhibits"))
    checkLabelNames(arrayMember(*inhibits, "equal"), "spec.inhibits.equal", errors);
  checkDurationRange(spec, "for", "spec", 0, 7 * 86400, "at most 168h", errors);
  checkDurationRange(spec, "groupWait", "spec", 0, 3600, "at most 1h", errors);
  checkDurationRange(spec, "groupInterval", "spec", 1, 86400, "between 1s and 24h", errors);
  checkDurationRange(spec, "repeatInterval", "spec", 1, 30 * 86400, "between 1s and 720h", errors);
  if (const json* log = objectMember(spec, "log")) {
    // Matches are kept per line for the window: an hour bounds what one rule holds.
    checkDurationRange(*log, "window", "spec.log", 1, 3600, "between 1s and 1h", errors);
    const std::string* pattern = stringMember(*log, "pattern");
    if (pattern != nullptr && log->value("regex", false) == true) {
      // The syntax `skiff logs --grep -E` speaks (runtime/local/log_search.h): RE2's.
      RE2::Options options;
      options.set_log_errors(false);
      options.set_max_mem(8 << 20);
      RE2 compiled(*pattern, options);
      if (!compiled.ok())
        errors.push_back({"spec.log.pattern",
                          "is not a valid regular expression (" + compiled.error() +
                              "; the syntax is RE2's, as Go's regexp): " + showValue(*pattern)});
    }
  }
  if (const json* event = objectMember(spec, "event"))
    checkDurationRange(*event, "window", "spec.event", 1, 7 * 86400, "between 1s and 168h", errors);
}

bool hasControlCharacters(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < ' ' || c == 0x7f; });
}

void checkUrl(const json& obj, const std::string& path, Errors& errors) {
  const std::string* url = stringMember(obj, "url");
  if (url == nullptr) return;
  const bool scheme = url->rfind("http://", 0) == 0 || url->rfind("https://", 0) == 0;
  const size_t host = url->find("://") + 3;
  if (!scheme || url->size() <= host || (*url)[host] == '/' || hasControlCharacters(*url) ||
      url->find(' ') != std::string::npos)
    errors.push_back({childPath(path, "url"),
                      "must be an http:// or https:// URL like \"https://hooks.example/alerts\", "
                      "got " +
                          showValue(*url)});
}

void checkMailAddress(const json& value, const std::string& path, Errors& errors) {
  if (!value.is_string()) return;
  const std::string& address = value.get_ref<const std::string&>();
  // Addresses go into the SMTP dialogue and the message's headers: no room for line breaks.
  const size_t at = address.find('@');
  if (at == 0 || at == std::string::npos || at + 1 == address.size() ||
      hasControlCharacters(address) || address.find_first_of(" <>") != std::string::npos)
    errors.push_back({path, "must be an address like ops@example.com, got " + showValue(value)});
}

void checkReceiver(const json& spec, Errors& errors) {
  requireOneOf(spec, {"webhook", "alertmanager", "email"}, false, "spec", errors);
  if (const json* webhook = objectMember(spec, "webhook")) {
    checkUrl(*webhook, "spec.webhook", errors);
    if (const json* headers = objectMember(*webhook, "headers")) {
      for (auto it = headers->begin(); it != headers->end(); ++it) {
        const std::string p = childPath("spec.webhook.headers", it.key());
        std::string lower = it.key();
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (it.key().empty() || hasControlCharacters(it.key()) ||
            it.key().find_first_of(" :") != std::string::npos)
          errors.push_back({p, "must be an HTTP header name"});
        else if (lower == "host" || lower == "content-length" || lower == "content-type" ||
                 lower == "x-skiff-signature" || lower == "x-skiff-timestamp")
          errors.push_back({p, "is set by Skiff and cannot be given"});
        if (it->is_string() && hasControlCharacters(it->get_ref<const std::string&>()))
          errors.push_back({p, "must not contain control characters (line breaks)"});
      }
    }
  }
  if (const json* am = objectMember(spec, "alertmanager"))
    checkUrl(*am, "spec.alertmanager", errors);
  if (const json* email = objectMember(spec, "email")) {
    const std::string host = stringOr(*email, "smarthost", "");
    const size_t colon = host.rfind(':');
    const std::string port = colon == std::string::npos ? "" : host.substr(colon + 1);
    if (email->contains("smarthost") &&
        (colon == std::string::npos || colon == 0 || port.empty() || port.size() > 5 ||
         port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
         std::stoi(port) > 65535 || hasControlCharacters(host)))
      errors.push_back(
          {"spec.email.smarthost",
           "must be host:port, like \"smtp.example.com:587\", got " + showValue(host)});
    if (const json* from = member(*email, "from"))
      checkMailAddress(*from, "spec.email.from", errors);
    const json& to = arrayMember(*email, "to");
    for (size_t i = 0; i < to.size(); ++i)
      checkMailAddress(to[i], indexPath("spec.email.to", i), errors);
    if (email->contains("password") && stringOr(*email, "username", "").empty())
      errors.push_back({"spec.email.username", "is required with a password"});
    if (hasControlCharacters(stringOr(*email, "username", "")))
      errors.push_back({"spec.email.username", "must not contain control characters"});
  }
}

void checkSilence(const json& spec, Errors& errors) {
  const json* matchers = objectMember(spec, "matchers");
  if (matchers != nullptr && matchers->empty())
    errors.push_back({"spec.matchers",
                      "must name at least one label (e.g. alertname), or the "
                      "silence would hold back every alert"});
  if (matchers != nullptr)
    for (auto it = matchers->begin(); it != matchers->end(); ++it)
      if (!isAlertLabelName(it.key()))
        errors.push_back({childPath("spec.matchers", it.key()),
                          "must be a label name ([a-zA-Z_][a-zA-Z0-9_]*)"});
  std::chrono::system_clock::time_point starts{}, ends{};
  bool have_starts = false, have_ends = false;
  for (const auto& [key, out, have] :
       {std::tuple{"startsAt", &starts, &have_starts}, std::tuple{"endsAt", &ends, &have_ends}}) {
    const std::string* text = stringMember(spec, key);
    if (text == nullptr) continue;
    *have = parsePreciseTimestamp(*text, out);
    if (!*have)
      errors.push_back(
          {childPath("spec", key),
           "must be an RFC 3339 UTC time like \"2026-01-31T00:00:00Z\", got " + showValue(*text)});
  }
  if (have_starts && have_ends && ends <= starts)
    errors.push_back({"spec.endsAt", "must be after startsAt"});
}

// ---- Envelope -------------------------------------------------------------------------

void checkStringMap(const json& map, const std::string& path, bool label_values, Errors& errors) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string p = childPath(path, it.key());
    if (std::string e = labelKeyError(it.key()); !e.empty())
      errors.push_back({p, "invalid key: " + e});
    if (!it->is_string()) {
      errors.push_back({p, "must be a string, got " + typeName(*it)});
      continue;
    }
    if (!label_values) continue;
    if (std::string e = labelValueError(it->get_ref<const std::string&>()); !e.empty())
      errors.push_back({p, e + ", got " + showValue(*it)});
  }
}

void readMetadata(const json* meta, const KindInfo& kind, const AdmitOptions& options,
                  ObjectMeta& out, Errors& errors) {
  if (meta == nullptr || meta->is_null()) {
    errors.push_back({"metadata.name", "is required"});
    return;
  }
  if (!meta->is_object()) {
    errors.push_back({"metadata", "must be an object, got " + typeName(*meta)});
    return;
  }
  static const json kKnown = {"name", "tenant",          "labels",     "annotations",
                              "uid",  "resourceVersion", "generation", "createdAt"};
  for (auto it = meta->begin(); it != meta->end(); ++it) {
    if (std::find(kKnown.begin(), kKnown.end(), it.key()) == kKnown.end())
      errors.push_back({childPath("metadata", it.key()), "unknown field " + showValue(it.key())});
  }

  const json* name = member(*meta, "name");
  if (name == nullptr || name->is_null()) {
    errors.push_back({"metadata.name", "is required"});
  } else if (!name->is_string()) {
    errors.push_back({"metadata.name", "must be a string, got " + typeName(*name)});
  } else {
    out.name = name->get<std::string>();
    if (!isDnsLabel(out.name)) {
      errors.push_back({"metadata.name", checkFormat("dns-label", *name)});
    } else if (std::string_view(kind.kind) == "Application" &&
               out.name.size() > kMaxApplicationNameLength) {
      errors.push_back(
          {"metadata.name", "must be at most " + std::to_string(kMaxApplicationNameLength) +
                                " characters for an Application (revision names add a suffix), "
                                "got " +
                                std::to_string(out.name.size())});
    }
  }

  const json* tenant = member(*meta, "tenant");
  if (tenant != nullptr && !tenant->is_null()) {
    if (kind.scope == Scope::kPlatform) {
      errors.push_back({"metadata.tenant", std::string("must be omitted: ") + kind.kind +
                                               " objects do not belong to a tenant"});
    } else if (!tenant->is_string() || tenant->get<std::string>() != options.tenant) {
      errors.push_back({"metadata.tenant", "must be " + showValue(options.tenant) +
                                               " (the tenant in the URL) or omitted, got " +
                                               showValue(*tenant)});
    }
  }
  out.tenant = options.tenant;

  if (const json* labels = member(*meta, "labels"); labels != nullptr && !labels->is_null()) {
    if (!labels->is_object()) {
      errors.push_back({"metadata.labels", "must be an object, got " + typeName(*labels)});
    } else {
      checkStringMap(*labels, "metadata.labels", true, errors);
      for (auto it = labels->begin(); it != labels->end(); ++it)
        if (it->is_string()) out.labels[it.key()] = it->get<std::string>();
    }
  }

  if (const json* notes = member(*meta, "annotations"); notes != nullptr && !notes->is_null()) {
    if (!notes->is_object()) {
      errors.push_back({"metadata.annotations", "must be an object, got " + typeName(*notes)});
    } else {
      checkStringMap(*notes, "metadata.annotations", false, errors);
      size_t total = 0;
      for (auto it = notes->begin(); it != notes->end(); ++it) {
        total += it.key().size();
        if (it->is_string()) {
          total += it->get_ref<const std::string&>().size();
          out.annotations[it.key()] = it->get<std::string>();
        }
      }
      if (total > kMaxAnnotationsBytes)
        errors.push_back(
            {"metadata.annotations", "must total at most 256 KiB (keys and values), got " +
                                         std::to_string(total) + " bytes"});
    }
  }

  if (const json* rv = member(*meta, "resourceVersion"); rv != nullptr && !rv->is_null()) {
    // Clients that treat versions as opaque strings (as Kubernetes does) send "42".
    json number = *rv;
    if (rv->is_string()) {
      const std::string& s = rv->get_ref<const std::string&>();
      if (!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos)
        number = std::stoll(s);
    }
    if (!number.is_number_integer() || number.get<int64_t>() < 0 ||
        (number.is_number_unsigned() && number.get<uint64_t>() > INT64_MAX)) {
      errors.push_back(
          {"metadata.resourceVersion",
           "must be a non-negative integer (the resourceVersion you read), got " + showValue(*rv)});
    } else {
      out.resource_version = number.get<int64_t>();
    }
  }
}

}  // namespace

Result<Object> admitObject(const json& doc, const AdmitOptions& options) {
  const KindInfo* kind = findKind(options.kind);
  if (kind == nullptr || options.kind != kind->kind)
    return internalError("admission for unknown kind \"" + options.kind + "\"");
  if (!doc.is_object())
    return Status(StatusCode::kInvalid,
                  std::string("the body must be a ") + kind->kind + " object, got " + typeName(doc),
                  {{"", "must be an object with apiVersion, kind, metadata and spec"}});

  Errors errors;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    static const json kKnown = {"apiVersion", "kind", "metadata", "spec", "status"};
    if (std::find(kKnown.begin(), kKnown.end(), it.key()) == kKnown.end())
      errors.push_back({childPath("", it.key()),
                        "unknown field " + showValue(it.key()) +
                            " (an object has apiVersion, kind, metadata, spec and status)"});
  }
  if (const json* v = member(doc, "apiVersion"); v != nullptr && !v->is_null() && *v != kApiVersion)
    errors.push_back(
        {"apiVersion", std::string("must be \"") + kApiVersion + "\", got " + showValue(*v)});
  if (const json* k = member(doc, "kind"); k != nullptr && !k->is_null() && *k != kind->kind)
    errors.push_back({"kind", std::string("must be \"") + kind->kind +
                                  "\" (the kind the URL names), got " + showValue(*k)});

  Object object;
  object.kind = kind->kind;
  readMetadata(member(doc, "metadata"), *kind, options, object.metadata, errors);

  json spec = json::object();
  if (const json* s = member(doc, "spec"); s != nullptr && !s->is_null()) spec = *s;
  if (!spec.is_object()) {
    errors.push_back({"spec", "must be an object, got " + typeName(spec)});
  } else {
    const json* schema = specSchema(kind->kind);
    SKIFF_ASSERT(schema != nullptr, std::string("no schema for kind ") + kind->kind);
    applySchemaDefaults(*schema, spec);
    if (object.kind == "Application") defaultApplication(spec);
    if (object.kind == "Revision" && spec.contains("template"))
      defaultApplication(spec["template"]);
    validateSchema(*schema, spec, "spec", errors);
    if (object.kind == "Application") checkApplication(spec, "spec", errors);
    if (object.kind == "User") checkUser(spec, errors);
    if (object.kind == "Role") checkRole(spec, errors);
    if (object.kind == "Token") checkToken(spec, errors);
    if (object.kind == "Cluster") checkCluster(object.metadata.name, spec, errors);
    if (object.kind == "Config" || object.kind == "Secret")
      checkData(spec, object.kind == "Secret", errors);
    if (object.kind == "AlertRule") checkAlertRule(spec, errors);
    if (object.kind == "Receiver") checkReceiver(spec, errors);
    if (object.kind == "Silence") checkSilence(spec, errors);
    if (object.kind == "Revision") {
      if (const json* t = objectMember(spec, "template"))
        checkApplication(*t, "spec.template", errors);
    }
  }

  if (!errors.empty()) {
    std::string what = object.metadata.name.empty()
                           ? std::string("the ") + kind->kind
                           : std::string(kind->kind) + " " + showValue(object.metadata.name);
    std::string count =
        errors.size() == 1 ? "1 problem" : std::to_string(errors.size()) + " problems";
    return Status(StatusCode::kInvalid, what + " is invalid (" + count + ")", std::move(errors));
  }
  object.spec = std::move(spec);
  return object;
}

Status validateStatus(const json& status) {
  if (!status.is_object())
    return Status(StatusCode::kInvalid, "the status is invalid",
                  {{"status", "must be an object, got " + typeName(status)}});
  size_t size = status.dump(-1, ' ', false, json::error_handler_t::replace).size();
  if (size > kMaxStatusBytes)
    return Status(
        StatusCode::kInvalid, "the status is invalid",
        {{"status", "must serialize to at most 256 KiB, got " + std::to_string(size) + " bytes"}});
  return Status::ok();
}

json objectSchema(const std::string& kind) {
  const json* spec = specSchema(kind);
  if (spec == nullptr) return {{"type", "object"}};
  json status = {{"type", "object"},
                 {"description",
                  "what Skiff observed: observedGeneration, conditions and kind-specific "
                  "fields; written only through the status subresource"},
                 {"additionalProperties", true}};
  json schema = {
      {"type", "object"},
      {"required", {"metadata"}},
      {"additionalProperties", false},
      {"properties",
       {{"apiVersion", {{"type", "string"}, {"enum", {kApiVersion}}, {"default", kApiVersion}}},
        {"kind", {{"type", "string"}, {"enum", {kind}}, {"default", kind}}},
        {"metadata", metadataSchema(kind)},
        {"spec", *spec},
        {"status", status}}}};
  return toOpenApiSchema(schema);
}

}  // namespace skiff
