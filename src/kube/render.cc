#include "kube/render.h"

#include <openssl/sha.h>

#include <cmath>
#include <set>

#include "model/formats.h"
#include "model/well_known.h"

namespace skiff::kube {
namespace {

Status invalid(const std::string& field, const std::string& message) {
  return Status(StatusCode::kInvalid, field + ": " + message, {{field, message}});
}

json labelsOf(const RenderInput& in, const std::string& component) {
  json labels = {{kManagedByLabel, "skiff"},
                 {kTenantLabel, in.tenant},
                 {kApplicationLabel, in.application},
                 {"app.kubernetes.io/instance", in.application}};
  if (!component.empty()) {
    labels["app.kubernetes.io/name"] = component;
    labels["app.kubernetes.io/component"] = component;
  }
  return labels;
}

json selectorOf(const RenderInput& in, const std::string& component) {
  return {{"app.kubernetes.io/instance", in.application},
          {"app.kubernetes.io/component", component}};
}

json metadataOf(const RenderInput& in, const std::string& name, const std::string& component,
                int64_t revision = 0) {
  return {
      {"name", name},
      {"namespace", in.ns},
      {"labels", labelsOf(in, component)},
      {"annotations", {{kRevisionAnnotation, std::to_string(revision ? revision : in.revision)}}}};
}

std::string cpuOf(const json& v) { return std::to_string(*parseCpuMillis(v)) + "m"; }
std::string memoryOf(const json& v) { return std::to_string(*parseMemoryBytes(v)); }

json amounts(const json& a) {
  json out = json::object();
  if (a.contains("cpu")) out["cpu"] = cpuOf(a["cpu"]);
  if (a.contains("memory")) out["memory"] = memoryOf(a["memory"]);
  return out;
}

json resourcesOf(const json& r) {
  json out = json::object();
  json shorthand = amounts(r);  // cpu/memory: request = limit
  json requests = shorthand, limits = shorthand;
  if (r.contains("requests")) requests.update(amounts(r["requests"]));
  if (r.contains("limits")) limits.update(amounts(r["limits"]));
  if (!requests.empty()) out["requests"] = requests;
  if (!limits.empty()) out["limits"] = limits;
  return out;
}

// Kubernetes takes whole seconds; Skiff takes fractions. Round up: never probe sooner.
int64_t seconds(const json& v, int64_t minimum) {
  return std::max<int64_t>(minimum, static_cast<int64_t>(std::ceil(v.get<double>())));
}

json probeOf(const json& p) {
  json out = {{"initialDelaySeconds", seconds(p.value("initialDelaySeconds", json(0)), 0)},
              {"periodSeconds", seconds(p.value("periodSeconds", json(10)), 1)},
              {"timeoutSeconds", seconds(p.value("timeoutSeconds", json(1)), 1)},
              {"successThreshold", p.value("successThreshold", 1)},
              {"failureThreshold", p.value("failureThreshold", 3)}};
  if (p.contains("http")) {
    const json& h = p["http"];
    json get = {{"path", h.value("path", "/")},
                {"port", h["port"]},
                {"scheme", h.value("scheme", "http") == "https" ? "HTTPS" : "HTTP"}};
    if (h.contains("headers")) get["httpHeaders"] = h["headers"];
    out["httpGet"] = get;
  } else if (p.contains("tcp")) {
    out["tcpSocket"] = {{"port", p["tcp"]["port"]}};
  } else if (p.contains("exec")) {
    out["exec"] = {{"command", p["exec"]["command"]}};
  }
  return out;
}

std::string dataName(const RenderInput& in, const std::string& ref) {
  // "config/NAME" -> "<app>-config-NAME"
  const size_t slash = ref.find('/');
  return in.application + "-" + ref.substr(0, slash) + "-" + ref.substr(slash + 1);
}

// SHA-256 (hex) of the data of `refs`.
std::string dataDigest(const RenderInput& in, const std::set<std::string>& refs) {
  std::string text;
  for (const auto& ref : refs) text += ref + "\n" + in.data.at(ref).dump() + "\n";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

Status needData(const RenderInput& in, const std::string& ref, const std::string& field) {
  if (in.data.count(ref)) return Status::ok();
  return invalid(field, ref.substr(0, ref.find('/')) + " \"" + ref.substr(ref.find('/') + 1) +
                            "\" does not exist in tenant \"" + in.tenant + "\"");
}

// The pod template of `c`; `claims` collects volumeClaimTemplates (stateful) or the
// PersistentVolumeClaims a service needs.
Result<json> podTemplate(const RenderInput& in, const json& c, const std::string& field,
                         const std::string& workload, bool stateful, std::vector<json>& claims) {
  const std::string name = c["name"];
  json container = {{"name", name}};
  if (!c.contains("image"))
    return invalid(field + ".image",
                   "a component needs an image to run on Kubernetes (a process runs only on the "
                   "local backend)");
  container["image"] = c["image"];
  if (c.contains("run")) {
    container["command"] = json::array({c["run"]["command"]});
    if (c["run"].contains("args")) container["args"] = c["run"]["args"];
    if (c["run"].contains("workingDir")) container["workingDir"] = c["run"]["workingDir"];
  }
  std::set<std::string> used;  // the Configs and Secrets the pods read
  json env = json::array();
  if (c.contains("ports")) {
    json ports = json::array();
    for (const auto& p : c["ports"]) {
      ports.push_back({{"name", p["name"]}, {"containerPort", p["port"]}, {"protocol", "TCP"}});
    }
    container["ports"] = ports;
    // The local runtime's contract: PORT is the first declared port.
    env.push_back({{"name", "PORT"}, {"value", std::to_string(c["ports"][0]["port"].get<int>())}});
  }
  size_t i = 0;
  for (const auto& e : c.value("env", json::array())) {
    const std::string at = field + ".env[" + std::to_string(i++) + "]";
    if (e.contains("value")) {
      env.push_back({{"name", e["name"]}, {"value", e["value"]}});
      continue;
    }
    const json& from = e["valueFrom"];
    const bool secret = from.contains("secret");
    const json& ref = secret ? from["secret"] : from["config"];
    const std::string key =
        std::string(secret ? "secret/" : "config/") + ref["name"].get<std::string>();
    if (Status s = needData(in, key, at + ".valueFrom"); !s.isOk()) return s;
    used.insert(key);
    env.push_back({{"name", e["name"]},
                   {"valueFrom",
                    {{secret ? "secretKeyRef" : "configMapKeyRef",
                      {{"name", dataName(in, key)}, {"key", ref["key"]}}}}}});
  }
  container["env"] = env;
  i = 0;
  json env_from = json::array();
  for (const auto& e : c.value("envFrom", json::array())) {
    const std::string at = field + ".envFrom[" + std::to_string(i++) + "]";
    const bool secret = e.contains("secret");
    const std::string key = std::string(secret ? "secret/" : "config/") +
                            e[secret ? "secret" : "config"].get<std::string>();
    if (Status s = needData(in, key, at); !s.isOk()) return s;
    used.insert(key);
    json source = {{secret ? "secretRef" : "configMapRef", {{"name", dataName(in, key)}}}};
    if (e.contains("prefix")) source["prefix"] = e["prefix"];
    env_from.push_back(source);
  }
  if (!env_from.empty()) container["envFrom"] = env_from;
  if (c.contains("resources")) container["resources"] = resourcesOf(c["resources"]);
  const json health = c.value("health", json::object());
  if (health.contains("readiness")) container["readinessProbe"] = probeOf(health["readiness"]);
  if (health.contains("liveness")) container["livenessProbe"] = probeOf(health["liveness"]);
  if (health.contains("startup")) container["startupProbe"] = probeOf(health["startup"]);

  json security = json::object();
  if (c.value("readOnlyRoot", false)) security["readOnlyRootFilesystem"] = true;
  if (c.contains("user")) {
    const std::string user = c["user"];
    const size_t colon = user.find(':');
    const std::string uid = user.substr(0, colon);
    if (uid.empty() || uid.find_first_not_of("0123456789") != std::string::npos)
      return invalid(field + ".user",
                     "Kubernetes runs as a numeric uid[:gid], not a user name: \"" + user + "\"");
    security["runAsUser"] = std::stoll(uid);
    if (colon != std::string::npos) {
      const std::string gid = user.substr(colon + 1);
      if (gid.empty() || gid.find_first_not_of("0123456789") != std::string::npos)
        return invalid(field + ".user", "the group must be numeric: \"" + user + "\"");
      security["runAsGroup"] = std::stoll(gid);
    }
  }
  if (!security.empty()) container["securityContext"] = security;

  json volumes = json::array();
  json mounts = json::array();
  i = 0;
  for (const auto& v : c.value("volumes", json::array())) {
    const std::string at = field + ".volumes[" + std::to_string(i++) + "]";
    const std::string vname = v["name"];
    mounts.push_back(
        {{"name", vname}, {"mountPath", v["path"]}, {"readOnly", v.value("readOnly", false)}});
    const json source = v.value("source", json{{"persistent", json::object()}});
    if (source.contains("emptyDir")) {
      json empty = json::object();
      if (v.contains("size")) empty["sizeLimit"] = memoryOf(v["size"]);
      volumes.push_back({{"name", vname}, {"emptyDir", empty}});
    } else if (source.contains("config") || source.contains("secret")) {
      const bool secret = source.contains("secret");
      const std::string key = std::string(secret ? "secret/" : "config/") +
                              source[secret ? "secret" : "config"].get<std::string>();
      if (Status s = needData(in, key, at + ".source"); !s.isOk()) return s;
      used.insert(key);
      mounts.back()["readOnly"] = true;
      volumes.push_back({{"name", vname},
                         {secret ? "secret" : "configMap",
                          {{secret ? "secretName" : "name", dataName(in, key)}}}});
    } else {
      json claim_spec = {{"accessModes", json::array({"ReadWriteOnce"})}};
      if (v.contains("size")) {
        claim_spec["resources"] = {{"requests", {{"storage", memoryOf(v["size"])}}}};
      } else if (stateful) {
        return invalid(at + ".size", "a stateful component's persistent volume needs a size");
      } else {
        claim_spec["resources"] = {{"requests", {{"storage", "1073741824"}}}};
      }
      if (stateful) {
        claims.push_back({{"metadata", {{"name", vname}, {"labels", labelsOf(in, name)}}},
                          {"spec", claim_spec}});
      } else {
        const std::string claim = workload + "-" + vname;
        claims.push_back({{"apiVersion", "v1"},
                          {"kind", "PersistentVolumeClaim"},
                          {"metadata", metadataOf(in, claim, name)},
                          {"spec", claim_spec}});
        volumes.push_back({{"name", vname}, {"persistentVolumeClaim", {{"claimName", claim}}}});
      }
    }
  }
  if (!mounts.empty()) container["volumeMounts"] = mounts;

  json pod = {{"containers", json::array({container})},
              {"terminationGracePeriodSeconds", c.value("terminationGracePeriodSeconds", 30)},
              {"enableServiceLinks", false}};
  if (!volumes.empty()) pod["volumes"] = volumes;
  const std::string type = c.value("type", "service");
  std::string restart = c.value("restartPolicy", "");
  if (type == "job" || type == "cronjob") {
    if (restart.empty() || restart == "Always") restart = "OnFailure";
    pod["restartPolicy"] = restart;
  } else if (!restart.empty() && restart != "Always") {
    return invalid(field + ".restartPolicy",
                   "a " + type + " component restarts Always on Kubernetes, not " + restart);
  }
  json metadata = {{"labels", labelsOf(in, name)}};
  // Pods read their Configs and Secrets when they start: new data must mean new pods, as on
  // the embedded runtime.
  if (!used.empty()) metadata["annotations"] = {{kConfigDigestAnnotation, dataDigest(in, used)}};
  return json{{"metadata", metadata}, {"spec", pod}};
}

json intOrPercent(const json& v) {
  if (v.is_string()) {
    const std::string s = v;
    if (!s.empty() && s.back() != '%') return std::stoll(s);
  }
  return v;
}

// Routes to the Service `service`; during a release (`tracks`) split by weight between its
// stable and canary Services: HTTPRoute backend weights, or ingress-nginx's canary Ingress.
void renderRoutes(const RenderInput& in, const json& c, const std::string& service,
                  const ComponentTracks* tracks, std::vector<json>& out) {
  const std::string name = c["name"];
  const std::string stable = tracks ? service + "-stable" : service;
  size_t i = 0;
  for (const auto& r : c.value("routes", json::array())) {
    const std::string route_name = service + "-" + std::to_string(i++);
    json port = r["port"].is_number() ? json{{"number", r["port"]}} : json{{"name", r["port"]}};
    if (in.gateway_api) {
      // HTTPRoute backends name the port by number only.
      json number = r["port"];
      if (!number.is_number()) {
        for (const auto& p : c.value("ports", json::array()))
          if (p["name"] == r["port"]) number = p["port"];
      }
      json backends = json::array({{{"name", stable}, {"port", number}}});
      if (tracks) {
        backends[0]["weight"] = 100 - tracks->weight;
        backends.push_back(
            {{"name", service + "-canary"}, {"port", number}, {"weight", tracks->weight}});
      }
      out.push_back(
          {{"apiVersion", "gateway.networking.k8s.io/v1"},
           {"kind", "HTTPRoute"},
           {"metadata", metadataOf(in, route_name, name)},
           {"spec",
            {{"parentRefs", json::array({{{"name", "skiff"}}})},
             {"hostnames", json::array({r["host"]})},
             {"rules",
              json::array({{{"matches", json::array({{{"path",
                                                       {{"type", "PathPrefix"},
                                                        {"value", r.value("path", "/")}}}}})},
                            {"backendRefs", backends}}})}}}});
      continue;
    }
    json ingress = {
        {"apiVersion", "networking.k8s.io/v1"},
        {"kind", "Ingress"},
        {"metadata", metadataOf(in, route_name, name)},
        {"spec",
         {{"rules",
           json::array(
               {{{"host", r["host"]},
                 {"http",
                  {{"paths",
                    json::array({{{"path", r.value("path", "/")},
                                  {"pathType", "Prefix"},
                                  {"backend",
                                   {{"service", {{"name", stable}, {"port", port}}}}}}})}}}}})}}}};
    if (r.contains("tls")) {
      const std::string secret = r["tls"]["secret"];
      ingress["spec"]["tls"] =
          json::array({{{"hosts", json::array({r["host"]})},
                        {"secretName", in.application + "-secret-" + secret}}});
    }
    out.push_back(ingress);
    if (tracks) {
      // ingress-nginx sends `weight`% of the requests for the same host and path here.
      json canary = ingress;
      canary["metadata"]["name"] = route_name + "-canary";
      canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"] = "true";
      canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] =
          std::to_string(tracks->weight);
      canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] =
          service + "-canary";
      out.push_back(canary);
    }
  }
}

json deployment(const RenderInput& in, const std::string& name, const std::string& component,
                json pod, const std::string& track, const json& rollout, const json& replicas,
                int64_t revision) {
  json selector = selectorOf(in, component);
  selector[kTrackLabel] = track;
  pod["metadata"]["labels"][kTrackLabel] = track;
  json spec = {{"selector", {{"matchLabels", selector}}},
               {"template", pod},
               {"revisionHistoryLimit", 10},
               {"strategy",
                {{"type", "RollingUpdate"},
                 {"rollingUpdate",
                  {{"maxSurge", intOrPercent(rollout.value("maxSurge", json("25%")))},
                   {"maxUnavailable", intOrPercent(rollout.value("maxUnavailable", json(0)))}}}}}};
  // An autoscaled workload's replicas belong to its HorizontalPodAutoscaler.
  if (!replicas.is_null()) spec["replicas"] = replicas;
  if (in.paused) spec["paused"] = true;
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", metadataOf(in, name, component, revision)},
          {"spec", spec}};
}

json service(const RenderInput& in, const std::string& name, const json& c, json selector) {
  json ports = json::array();
  for (const auto& p : c["ports"]) {
    ports.push_back(
        {{"name", p["name"]}, {"port", p["port"]}, {"targetPort", p["port"]}, {"protocol", "TCP"}});
  }
  json spec = {{"selector", std::move(selector)}, {"ports", ports}};
  if (c.value("type", "service") == "stateful") spec["clusterIP"] = "None";
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadataOf(in, name, c["name"])},
          {"spec", spec}};
}

}  // namespace

std::string namespaceOf(const std::string& prefix, const std::string& tenant) {
  return prefix + tenant;
}

std::string applicationSelector(const std::string& application) {
  return std::string(kManagedByLabel) + "=skiff," + kApplicationLabel + "=" + application;
}

Result<std::vector<json>> renderApplication(const RenderInput& in) {
  std::vector<json> out;
  for (const auto& [ref, data] : in.data) {
    const bool secret = ref.rfind("secret/", 0) == 0;
    json object = {{"apiVersion", "v1"},
                   {"kind", secret ? "Secret" : "ConfigMap"},
                   {"metadata", metadataOf(in, dataName(in, ref), "")}};
    object[secret ? "stringData" : "data"] = data.value("data", json::object());
    if (secret) {
      const std::string type = data.value("type", "opaque");
      object["type"] = type == "tls" ? "kubernetes.io/tls" : "Opaque";
    }
    out.push_back(object);
  }
  size_t index = 0;
  for (const auto& c : in.spec.value("components", json::array())) {
    const std::string field = "spec.components[" + std::to_string(index++) + "]";
    const std::string name = c["name"];
    const std::string workload = in.application + "-" + name;
    const std::string type = c.value("type", "service");
    const bool stateful = type == "stateful";
    std::vector<json> claims;
    auto pod = podTemplate(in, c, field, workload, stateful, claims);
    if (!pod.ok()) return pod.status();
    json meta = metadataOf(in, workload, name);
    const json selector = {{"matchLabels", selectorOf(in, name)}};
    const json rollout = c.value("rollout", json::object());
    const bool autoscaled = c.contains("autoscale");
    const auto release = in.releases.find(name);
    const ComponentTracks* tracks =
        type == "service" && release != in.releases.end() ? &release->second : nullptr;
    if (type == "service") {
      const json replicas = autoscaled ? json() : json(c.value("replicas", 1));
      if (tracks) {
        std::vector<json> shared;  // the stable set mounts the same claims
        auto stable_pod = podTemplate(in, tracks->stable, field, workload, false, shared);
        if (!stable_pod.ok()) return stable_pod.status();
        out.push_back(deployment(in, workload, name, *stable_pod, "stable", rollout, replicas,
                                 tracks->stable_revision));
        out.push_back(deployment(in, workload + "-canary", name, *pod, "canary", rollout,
                                 tracks->canary_replicas, in.revision));
      } else {
        out.push_back(deployment(in, workload, name, *pod, "stable", rollout, replicas, 0));
      }
      for (auto& claim : claims) out.push_back(std::move(claim));
    } else if (stateful) {
      json spec = {{"selector", selector},
                   {"serviceName", workload},
                   {"template", *pod},
                   {"podManagementPolicy", "OrderedReady"},
                   {"updateStrategy", {{"type", "RollingUpdate"}}}};
      if (!claims.empty()) spec["volumeClaimTemplates"] = claims;
      if (!autoscaled) spec["replicas"] = c.value("replicas", 1);
      out.push_back(
          {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"metadata", meta}, {"spec", spec}});
    } else if (type == "job") {
      out.push_back({{"apiVersion", "batch/v1"},
                     {"kind", "Job"},
                     {"metadata", meta},
                     {"spec", {{"backoffLimit", 6}, {"template", *pod}}}});
    } else {
      out.push_back({{"apiVersion", "batch/v1"},
                     {"kind", "CronJob"},
                     {"metadata", meta},
                     {"spec",
                      {{"schedule", c.value("schedule", "")},
                       {"concurrencyPolicy", "Forbid"},
                       {"jobTemplate",
                        {{"metadata", {{"labels", labelsOf(in, name)}}},
                         {"spec", {{"backoffLimit", 6}, {"template", *pod}}}}}}}});
    }
    if ((type == "service" || stateful) && c.contains("ports")) {
      json pods = selectorOf(in, name);
      if (tracks != nullptr) {
        for (const std::string track : {"stable", "canary"}) {
          json only = pods;
          only[kTrackLabel] = track;
          out.push_back(service(in, workload + "-" + track, c, only));
        }
        if (tracks->bluegreen) pods[kTrackLabel] = tracks->weight == 100 ? "canary" : "stable";
      }
      out.push_back(service(in, workload, c, pods));
      renderRoutes(in, c, workload, tracks, out);
    }
    if (autoscaled && (type == "service" || stateful)) {
      const json& a = c["autoscale"];
      json metrics = json::array();
      for (const auto& [key, resource] :
           {std::pair{"targetCPU", "cpu"}, std::pair{"targetMemory", "memory"}}) {
        if (!a.contains(key)) continue;
        json target = {{"type", "Utilization"}, {"averageUtilization", a[key]}};
        json metric = {{"name", resource}, {"target", target}};
        metrics.push_back({{"type", "Resource"}, {"resource", metric}});
      }
      json spec = {
          {"scaleTargetRef",
           {{"apiVersion", "apps/v1"},
            {"kind", stateful ? "StatefulSet" : "Deployment"},
            {"name", workload}}},
          {"minReplicas", std::max(1, a.value("min", 1))},
          {"maxReplicas", a["max"]},
          {"behavior",
           {{"scaleDown",
             {{"stabilizationWindowSeconds", a.value("scaleDownStabilizationSeconds", 300)}}}}}};
      if (!metrics.empty()) spec["metrics"] = metrics;
      out.push_back({{"apiVersion", "autoscaling/v2"},
                     {"kind", "HorizontalPodAutoscaler"},
                     {"metadata", metadataOf(in, workload, name)},
                     {"spec", spec}});
    }
  }
  return out;
}

std::vector<json> renderTenant(const std::string& ns, const std::string& tenant,
                               const json& tenant_spec) {
  const json labels = {{kManagedByLabel, "skiff"}, {kTenantLabel, tenant}};
  auto meta = [&](const std::string& name) {
    return json{{"name", name}, {"namespace", ns}, {"labels", labels}};
  };
  std::vector<json> out;
  out.push_back({{"apiVersion", "v1"},
                 {"kind", "Namespace"},
                 {"metadata", {{"name", ns}, {"labels", labels}}}});
  const json quota = tenant_spec.value("quota", json::object());
  json hard = json::object();
  if (quota.contains("cpu")) hard["limits.cpu"] = hard["requests.cpu"] = cpuOf(quota["cpu"]);
  if (quota.contains("memory"))
    hard["limits.memory"] = hard["requests.memory"] = memoryOf(quota["memory"]);
  if (quota.contains("storage")) hard["requests.storage"] = memoryOf(quota["storage"]);
  if (quota.contains("instances")) hard["pods"] = std::to_string(quota["instances"].get<int>());
  if (!hard.empty()) {
    out.push_back({{"apiVersion", "v1"},
                   {"kind", "ResourceQuota"},
                   {"metadata", meta("skiff-quota")},
                   {"spec", {{"hard", hard}}}});
  }
  const json limits = tenant_spec.value("limits", json::object());
  json item = {{"type", "Container"}};
  for (const auto& [from, to] : {std::pair{"defaultRequest", "defaultRequest"},
                                 std::pair{"default", "default"}, std::pair{"max", "max"}}) {
    if (limits.contains(from)) item[to] = amounts(limits[from]);
  }
  if (item.size() > 1) {
    out.push_back({{"apiVersion", "v1"},
                   {"kind", "LimitRange"},
                   {"metadata", meta("skiff-limits")},
                   {"spec", {{"limits", json::array({item})}}}});
  }
  if (tenant_spec.value("networkIsolation", true)) {
    // Peers: this tenant's pods, and namespaces that are no tenant's (the ingress controller,
    // kube-system); never another tenant's.
    json not_a_tenant = {{"namespaceSelector",
                          {{"matchExpressions", json::array({{{"key", kTenantLabel},
                                                              {"operator", "DoesNotExist"}}})}}}};
    out.push_back(
        {{"apiVersion", "networking.k8s.io/v1"},
         {"kind", "NetworkPolicy"},
         {"metadata", meta("skiff-isolation")},
         {"spec",
          {{"podSelector", json::object()},
           {"policyTypes", json::array({"Ingress"})},
           {"ingress", json::array({{{"from", json::array({{{"podSelector", json::object()}},
                                                           not_a_tenant})}}})}}}});
  }
  return out;
}

}  // namespace skiff::kube
