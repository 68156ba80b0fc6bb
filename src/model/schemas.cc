#include "model/schemas.h"

#include <string>
#include <utility>

namespace skiff {
namespace {

// Small constructors keep the schemas below readable as a description of the model.

json object(json properties, std::vector<std::string> required = {}) {
  json s = {
      {"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = required;
  return s;
}

json arrayOf(json items) { return {{"type", "array"}, {"items", std::move(items)}}; }

json arrayOf(json items, int min_items, int max_items) {
  json s = arrayOf(std::move(items));
  if (min_items > 0) s["minItems"] = min_items;
  if (max_items > 0) s["maxItems"] = max_items;
  return s;
}

json string() { return {{"type", "string"}}; }
json string(const char* format) { return {{"type", "string"}, {"format", format}}; }
json boundedString(int max_length) { return {{"type", "string"}, {"maxLength", max_length}}; }
json boolean() { return {{"type", "boolean"}}; }
json integer(int64_t min, int64_t max) {
  return {{"type", "integer"}, {"minimum", min}, {"maximum", max}};
}
json integerAtLeast(int64_t min) { return {{"type", "integer"}, {"minimum", min}}; }
json oneOfStrings(std::initializer_list<const char*> values) {
  json e = json::array();
  for (const char* v : values) e.push_back(v);
  return {{"type", "string"}, {"enum", std::move(e)}};
}
// Quantities are strings ("500m", "1Gi") but YAML reads `cpu: 2` as a number; take both.
json quantity(const char* format) { return {{"type", {"string", "number"}}, {"format", format}}; }
// A port by number or by the name of a declared port.
json portRef() {
  return {{"type", {"integer", "string"}},
          {"minimum", 1},
          {"maximum", 65535},
          {"maxLength", 15},
          {"format", "dns-label"},
          {"description", "a port number, or the name of a port the component declares"}};
}

json with(json schema, const char* key, json value) {
  schema[key] = std::move(value);
  return schema;
}
json described(json schema, const char* text) {
  return with(std::move(schema), "description", text);
}
json defaulted(json schema, json value) {
  return with(std::move(schema), "default", std::move(value));
}

json resourceAmounts() {
  return object({{"cpu", quantity("cpu-quantity")}, {"memory", quantity("memory-quantity")}});
}

json resources() {
  return described(
      object({{"cpu", described(quantity("cpu-quantity"), "request and limit, in cores")},
              {"memory", described(quantity("memory-quantity"), "request and limit, in bytes")},
              {"requests", resourceAmounts()},
              {"limits", resourceAmounts()}}),
      "either the cpu/memory shorthand (request = limit) or requests and limits");
}

json probe() {
  json http = object(
      {{"path", defaulted(string("http-path"), "/")},
       {"port", portRef()},
       {"scheme", defaulted(oneOfStrings({"http", "https"}), "http")},
       {"headers", arrayOf(object({{"name", with(string(), "minLength", 1)}, {"value", string()}},
                                  {"name", "value"}))}},
      {"port"});
  json tcp = object({{"port", portRef()}}, {"port"});
  json exec = object({{"command", arrayOf(string(), 1, 0)}}, {"command"});
  json number_at_least_zero = {{"type", "number"}, {"minimum", 0}};
  return described(
      object({{"http", http},
              {"tcp", tcp},
              {"exec", exec},
              {"initialDelaySeconds", defaulted(number_at_least_zero, 0)},
              {"periodSeconds",
               defaulted({{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 3600}}, 10)},
              {"timeoutSeconds", defaulted({{"type", "number"}, {"exclusiveMinimum", 0}}, 1)},
              {"successThreshold", defaulted(integerAtLeast(1), 1)},
              {"failureThreshold", defaulted(integerAtLeast(1), 3)}}),
      "exactly one of http, tcp and exec");
}

json envVar() {
  json key_ref = object({{"name", string("dns-label")}, {"key", with(string(), "minLength", 1)}},
                        {"name", "key"});
  return described(
      object({{"name", string("env-name")},
              {"value", string()},
              {"valueFrom", described(object({{"config", key_ref}, {"secret", key_ref}}),
                                      "exactly one of config and secret")}},
             {"name"}),
      "exactly one of value and valueFrom");
}

json envFrom() {
  return described(
      object(
          {{"config", string("dns-label")}, {"secret", string("dns-label")}, {"prefix", string()}}),
      "exactly one of config and secret; every key becomes a variable");
}

json autoscale() {
  json schedule = described(
      object({{"cron", string("cron")},
              {"timeZone", described(defaulted(string(), "UTC"),
                                     "an IANA time zone the cron expression is read in, e.g. "
                                     "Europe/Berlin")},
              {"duration", described(defaulted(string("duration"), "1h"),
                                     "how long each window the schedule opens lasts")},
              {"min", integerAtLeast(0)},
              {"max", integerAtLeast(1)}},
             {"cron"}),
      "while a window is open, its min and/or max replace the component's");
  return object(
      {{"min", defaulted(integerAtLeast(0), 1)},
       {"max", integerAtLeast(1)},
       {"targetCPU", described(integer(1, 1000), "cpu used, % of the cpu request")},
       {"targetMemory", described(integer(1, 1000), "memory used, % of the memory request")},
       {"targetRequestsPerSecond",
        described({{"type", "number"}, {"exclusiveMinimum", 0}}, "per ready instance")},
       {"targetP99", described(string("duration"), "the gateway's 99th percentile latency")},
       {"tolerance", described(defaulted({{"type", "number"}, {"minimum", 0}, {"maximum", 1}}, 0.1),
                               "no change while every metric is within this ratio of its target")},
       {"scaleUpStabilizationSeconds", defaulted(integer(0, 3600), 0)},
       {"scaleDownStabilizationSeconds", defaulted(integer(0, 3600), 300)},
       {"schedules", arrayOf(schedule)}},
      {"max"});
}

json autoDeploy() {
  return described(
      object({{"tags", described(with(string(), "minLength", 1),
                                 "a glob (\"1.4.*\") or a semver range (\"^1.4\", \">=1.4 <2\")")},
              {"interval", defaulted(string("duration"), "1m")}},
             {"tags"}),
      "follow the image's repository: a newer tag matching `tags`, found by polling every "
      "`interval` or by the registry's notification (POST /api/v1/hooks/registry), becomes the "
      "component's image and is released with its rollout strategy");
}

json rollout() {
  json int_or_percent = {{"format", "int-or-percent"}};
  json step = object({{"weight", integer(1, 100)}, {"pause", string("duration")}}, {"weight"});
  json check = object({{"path", string("http-path")},
                       {"port", portRef()},
                       {"expectStatus", defaulted(integer(100, 599), 200)}},
                      {"path", "port"});
  json analysis = object({{"interval", defaulted(string("duration"), "30s")},
                          {"checks", described(arrayOf(check),
                                               "HTTP GETs sent to every ready instance of the new "
                                               "revision at each check, besides the gateway's "
                                               "figures; another status is a breach")},
                          {"maxErrorRate", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
                          {"maxP99", string("duration")},
                          {"minRequests", defaulted(integerAtLeast(1), 20)},
                          {"failureLimit", defaulted(integerAtLeast(1), 1)}});
  return defaulted(
      object({{"strategy", defaulted(oneOfStrings({"rolling", "canary", "bluegreen"}), "rolling")},
              {"maxSurge", defaulted(int_or_percent, "25%")},
              {"maxUnavailable", defaulted(int_or_percent, 0)},
              {"steps", described(arrayOf(step, 1, 20),
                                  "canary only: traffic weights, strictly increasing; default "
                                  "10% then 50%, 60s each")},
              {"analysis", analysis},
              {"autoPromote", defaulted(boolean(), true)},
              {"preview",
               described(object({{"host", string("hostname")},
                                 {"header", object({{"name", with(string(), "minLength", 1)},
                                                    {"value", string()}},
                                                   {"name", "value"})}}),
                         "canary and bluegreen: requests to this host, or carrying this header, "
                         "on the component's routes go to the new revision only")},
              {"keepWarm", described(string("duration"),
                                     "bluegreen only: how long the replaced set keeps running "
                                     "without traffic after the switch, so that `skiff rollout "
                                     "undo` switches back at once; default 5m")},
              {"sticky", described(boolean(),
                                   "canary only: each client (by its address) stays on the "
                                   "revision it first reached while the weights allow")}}),
      json::object());
}

json route() {
  json header_match =
      object({{"name", with(string(), "minLength", 1)},
              {"value", string()},
              {"type", defaulted(oneOfStrings({"exact", "prefix", "present"}), "exact")}},
             {"name"});
  // Cookies and query parameters match exactly, as sent.
  json value_match =
      object({{"name", with(string(), "minLength", 1)}, {"value", string()}}, {"name", "value"});
  json match = object({{"headers", arrayOf(header_match)},
                       {"cookies", arrayOf(value_match)},
                       {"query", arrayOf(value_match)}});
  json tls = described(object({{"secret", string("dns-label")}}, {"secret"}),
                       "HTTPS for the host on the gateway's TLS listener: the certificate chain "
                       "and key of this Secret (type tls, in the application's tenant), chosen "
                       "by SNI");
  return object({{"host", string("hostname")},
                 {"path", defaulted(string("http-path"), "/")},
                 {"port", portRef()},
                 {"match", match},
                 {"timeout", defaulted(string("duration"), "30s")},
                 {"retries", defaulted(integer(0, 10), 0)},
                 {"revision", described(integerAtLeast(1),
                                        "A/B: requests this route takes go to the instances "
                                        "running this revision's template (a release's stable "
                                        "or canary set) instead of following the weights")},
                 {"tls", tls}},
                {"host", "port"});
}

// A volume mounts one source at `path`. The source is one of
//   persistent: {}      storage that outlives instances (the default); `size` required for
//                       stateful components
//   emptyDir: {}        scratch space that lives as long as the instance
//   config: <name>      the keys of a Config, one file each (read-only)
//   secret: <name>      the keys of a Secret, one file each (read-only)
json volume() {
  json empty = object(json::object());
  json source = described(object({{"persistent", empty},
                                  {"emptyDir", empty},
                                  {"config", string("dns-label")},
                                  {"secret", string("dns-label")}}),
                          "exactly one of persistent, emptyDir, config and secret");
  return object({{"name", string("dns-label")},
                 {"path", string("absolute-path")},
                 {"size", quantity("memory-quantity")},
                 {"readOnly", defaulted(boolean(), false)},
                 {"source", defaulted(source, {{"persistent", json::object()}})}},
                {"name", "path"});
}

json component() {
  json run = object({{"command", with(string(), "minLength", 1)},
                     {"args", arrayOf(string())},
                     {"workingDir", string("absolute-path")}},
                    {"command"});
  json port = object({{"name", with(string("dns-label"), "maxLength", 15)},
                      {"port", integer(1, 65535)},
                      {"protocol", defaulted(oneOfStrings({"http", "tcp", "grpc"}), "http")}},
                     {"name", "port"});
  json health = object({{"readiness", probe()}, {"liveness", probe()}, {"startup", probe()}});
  return described(
      object(
          {{"name", with(string("dns-label"), "maxLength", 40)},
           {"type", defaulted(oneOfStrings({"service", "stateful", "job", "cronjob"}), "service")},
           {"image", string("image-ref")},
           {"run", described(run, "the command to run; overrides the image's entrypoint")},
           {"user", described(string(),
                              "containers: uid[:gid] or a user (and group) of the "
                              "image's /etc/passwd; default: the image's User")},
           {"readOnlyRoot",
            described(defaulted(boolean(), false), "containers: a read-only root filesystem")},
           {"replicas", defaulted(integer(0, 1000), 1)},
           {"ports", arrayOf(port)},
           {"env", arrayOf(envVar())},
           {"envFrom", arrayOf(envFrom())},
           {"resources", resources()},
           {"health", health},
           {"autoscale", autoscale()},
           {"rollout", rollout()},
           {"autoDeploy", autoDeploy()},
           {"routes", arrayOf(route())},
           {"volumes", arrayOf(volume())},
           {"terminationGracePeriodSeconds", defaulted(integer(0, 3600), 30)},
           {"schedule", described(string("cron"), "cronjob only")},
           {"restartPolicy",
            described(oneOfStrings({"Always", "OnFailure", "Never"}),
                      "default Always for service and stateful, OnFailure for job and cronjob")}},
          {"name"}),
      "one process type of the application; needs image, run or both");
}

json buildApplicationSpec() {
  json dependency =
      object({{"from", string("dns-label")}, {"to", string("dns-label")}}, {"from", "to"});
  return object({{"components", arrayOf(component(), 1, 64)},
                 {"dependsOn", defaulted(described(arrayOf(dependency),
                                                   "`from` starts after `to` is ready; no cycles"),
                                         json::array())},
                 {"cluster", defaulted(string("dns-label"), "local")},
                 {"rolloutOnConfigChange",
                  described(defaulted(boolean(), false),
                            "a change to a Config or Secret the components use releases a new "
                            "revision; otherwise only instances started later see it")}},
                {"components"});
}

// ---- Configuration (docs/config.md) -------------------------------------------------------

json dataMap() {
  return described(
      defaulted({{"type", "object"}, {"additionalProperties", string()}}, json::object()),
      "keys (letters, digits, '-', '_', '.') to text values; each key becomes an "
      "environment variable or a file");
}

json buildConfigSpec() { return object({{"data", dataMap()}}); }

json buildSecretSpec() {
  return described(
      object({{"type", described(defaulted(oneOfStrings({"opaque", "tls", "registry"}), "opaque"),
                                 "tls: a certificate chain and key under tls.crt and tls.key "
                                 "(PEM), e.g. for a route's host; registry: server "
                                 "(host[:port]), username and password for pulling the "
                                 "tenant's images")},
              {"data", dataMap()}}),
      "sealed at rest; served only to callers allowed to get secrets");
}

json buildVolumeSpec() {
  return described(
      object({{"size", described(quantity("memory-quantity"),
                                 "enforced where the host allows (a loop-mounted ext4 file); "
                                 "none: as much as the host has")},
              {"application", string("dns-label")},
              {"component", string("dns-label")},
              {"volume", described(string("dns-label"), "the component's volume name")},
              {"ordinal", described(integerAtLeast(0), "the stateful instance it belongs to")}}),
      "persistent storage of a component's volume; deleted only when this object is deleted");
}

json buildEventSpec() {
  json about = object({{"kind", string()}, {"name", string()}}, {"kind", "name"});
  return described(
      object({{"object", described(about, "what happened to: an Instance, an Application")},
              {"application", string("dns-label")},
              {"component", string("dns-label")},
              {"type", oneOfStrings({"Normal", "Warning"})},
              {"reason", described(boundedString(128),
                                   "one word a rule can match: Started, OOMKilled, Scaled...")},
              {"message", boundedString(4096)},
              {"count", described(integerAtLeast(1), "how often it happened (repeats aggregate)")},
              {"firstAt", string()},
              {"lastAt", string()},
              {"source", described(string(), "the part of Skiff that saw it")}},
             {"object", "type", "reason"}),
      "something that happened to an object; written by Skiff, kept for --event-retention");
}

// ---- Alerting (docs/alerting.md) ----------------------------------------------------------

json stringMap() { return {{"type", "object"}, {"additionalProperties", string()}}; }

json secretKeyRef(const char* what) {
  return described(object({{"name", string("dns-label")}, {"key", with(string(), "minLength", 1)}},
                          {"name", "key"}),
                   what);
}

json buildAlertRuleSpec() {
  json metric = described(
      object({{"query", described(with(string(), "minLength", 1),
                                  "a PromQL query (docs/observability.md), confined to the "
                                  "tenant's series")},
              {"op", defaulted(oneOfStrings({">", "<", ">=", "<=", "==", "!="}), ">")},
              {"threshold", {{"type", "number"}}}},
             {"query", "threshold"}),
      "holds for every series of the query's result whose value compares true with the "
      "threshold; each series is an alert of its own, labelled like the series");
  json log = described(
      object({{"application", string("dns-label")},
              {"component", described(string("dns-label"), "only this component's instances")},
              {"pattern", with(with(string(), "minLength", 1), "maxLength", 1024)},
              {"regex", described(defaulted(boolean(), false),
                                  "pattern is an ECMAScript regular expression searched in each "
                                  "line; otherwise a plain substring")},
              {"count", defaulted(integer(1, 1000000), 1)},
              {"window", defaulted(string("duration"), "5m")}},
             {"application", "pattern"}),
      "holds while the application's instances printed a line matching pattern at least count "
      "times within the window");
  json event = described(
      object({{"reason", described(with(string(), "minLength", 1),
                                   "an Event reason: CrashLoopBackOff, OOMKilled, Unhealthy...")},
              {"application", described(string("dns-label"), "only this application's events")},
              {"window", defaulted(string("duration"), "5m")}},
             {"reason"}),
      "holds while an Event of that reason happened within the window, per application");
  json inhibits = described(
      object({{"rules", described(arrayOf(with(string(), "minLength", 1), 1, 64),
                                  "names of the rules whose alerts are held back")},
              {"equal", described(arrayOf(string(), 0, 32),
                                  "labels that must have the same value in both alerts")}},
             {"rules"}),
      "while this rule fires, alerts of those rules with the same values of the equal labels are "
      "not notified");
  return described(
      object(
          {{"severity", defaulted(oneOfStrings({"critical", "warning", "info"}), "warning")},
           {"disabled", described(defaulted(boolean(), false),
                                  "a disabled rule is not evaluated; named like a built-in rule "
                                  "(e.g. crashloopbackoff), it turns that rule off")},
           {"labels",
            described(defaulted(stringMap(), json::object()), "added to every alert of the rule")},
           {"annotations", described(defaulted(stringMap(), json::object()),
                                     "text for people; {{ $value }}, {{ $labels.NAME }} and "
                                     "{{ $rule }} are replaced")},
           {"for", described(defaulted(string("duration"), "0s"),
                             "how long the condition must hold before the alert fires")},
           {"metric", metric},
           {"log", log},
           {"event", event},
           {"receivers", described(defaulted(arrayOf(string("dns-label"), 0, 32), json::array()),
                                   "names of the tenant's Receivers to notify")},
           {"groupBy", described(defaulted(arrayOf(string(), 0, 32),
                                           json::array({"alertname", "application"})),
                                 "alerts with equal values of these labels are notified together")},
           {"groupWait", described(defaulted(string("duration"), "5s"),
                                   "how long a new group waits for more alerts before its first "
                                   "notification")},
           {"groupInterval", described(defaulted(string("duration"), "1m"),
                                       "how long after a notification a group's changes are sent")},
           {"repeatInterval", described(defaulted(string("duration"), "4h"),
                                        "how often alerts that still fire are sent again")},
           {"inhibits", inhibits}}),
      "exactly one of metric, log and event (none only when disabled)");
}

json buildReceiverSpec() {
  json webhook =
      object({{"url", described(with(string(), "minLength", 1), "an http:// or https:// URL")},
              {"secret", secretKeyRef("a key of a Secret in the tenant: the body is signed with it "
                                      "(X-Skiff-Signature: sha256=HMAC-SHA256 in hex)")},
              {"headers", described(stringMap(), "sent with every request")}},
             {"url"});
  json alertmanager = object(
      {{"url", described(with(string(), "minLength", 1),
                         "the Alertmanager's base URL; alerts are posted to /api/v2/alerts")}},
      {"url"});
  json email = object(
      {{"smarthost", described(with(string(), "minLength", 1), "the SMTP server, host:port")},
       {"from", with(string(), "minLength", 3)},
       {"to", arrayOf(with(string(), "minLength", 3), 1, 32)},
       {"username", described(string(), "AUTH PLAIN with this user and the password")},
       {"password", secretKeyRef("a key of a Secret in the tenant holding the password")}},
      {"smarthost", "from", "to"});
  return described(
      object({{"webhook", webhook},
              {"alertmanager", alertmanager},
              {"email", email},
              {"sendResolved",
               described(defaulted(boolean(), true), "also notify when an alert stops firing")},
              {"defaultRules", described(defaulted(boolean(), false),
                                         "also receive the built-in rules' alerts of every "
                                         "application of the tenant")}}),
      "exactly one of webhook, alertmanager and email");
}

json buildSilenceSpec() {
  return described(
      object({{"matchers", described(stringMap(),
                                     "label: value pairs an alert must all carry to be silenced, "
                                     "e.g. {alertname: HighErrorRate, application: shop}")},
              {"startsAt", described(string(), "RFC 3339; absent: from its creation")},
              {"endsAt", described(string(), "RFC 3339")},
              {"comment", boundedString(1024)}},
             {"matchers", "endsAt"}),
      "alerts matching every matcher are not notified between startsAt and endsAt");
}

json buildClusterSpec() {
  return described(
      object({{"server", described(string(), "the API server, https://host:port")},
              {"caData", described(string(),
                                   "PEM certificates of the CA that signed the API "
                                   "server's certificate; empty: the system's")},
              {"token", described(string(), "a bearer token, or")},
              {"clientCertificate", described(string(), "a client certificate (PEM) and")},
              {"clientKey", described(string(), "its key (PEM)")},
              {"namespacePrefix",
               described(defaulted(string(), "skiff-"),
                         "a tenant's namespace is this prefix and the tenant's name")}},
             {"server"}),
      "a Kubernetes cluster to run applications on; `skiff cluster add` reads one from a "
      "kubeconfig");
}

json buildTenantSpec() {
  json quota = object({{"cpu", quantity("cpu-quantity")},
                       {"memory", quantity("memory-quantity")},
                       {"storage", quantity("memory-quantity")},
                       {"instances", integer(0, 100000)},
                       {"applications", integer(0, 10000)}});
  json limits = described(
      object(
          {{"defaultRequest", described(resourceAmounts(), "requests of components that set none")},
           {"default", described(resourceAmounts(), "limits of components that set none")},
           {"max", described(resourceAmounts(), "the most one instance may be given")}}),
      "like a Kubernetes LimitRange: applied to applications when they are admitted");
  json logs = described(
      object({{"retention",
               described(string("duration"),
                         "how long logs are kept: those of deleted instances and earlier runs, "
                         "and rotated files (default: the server's --log-retention)")},
              {"maxBytes", described(quantity("memory-quantity"),
                                     "the most disk the tenant's instance logs may take; past "
                                     "it the oldest files go first (default: no limit)")}}),
      "retention of the tenant's instance logs (docs/observability.md#logs)");
  return object({{"displayName", boundedString(256)},
                 {"description", boundedString(1024)},
                 {"quota", quota},
                 {"limits", limits},
                 {"logs", logs},
                 {"networkIsolation", defaulted(boolean(), true)}});
}

json buildRevisionSpec() {
  return described(
      object({{"application", string("dns-label")},
              {"revision", integerAtLeast(1)},
              {"applicationGeneration", integerAtLeast(0)},
              {"template", applicationSpecSchema()},
              {"changeCause", string()},
              {"configVersions",
               described({{"type", "object"}, {"additionalProperties", integerAtLeast(0)}},
                         "the resourceVersion of each Config (\"config/NAME\") and "
                         "Secret (\"secret/NAME\") the revision was released "
                         "with; 0 when missing")}},
             {"application", "revision", "template"}),
      "written by Skiff: an immutable snapshot of an application's spec");
}

json buildInstanceSpec() {
  return object(
      {{"application", string("dns-label")},
       {"component", string("dns-label")},
       {"revision", integerAtLeast(1)},
       {"ordinal", integerAtLeast(0)},
       {"node", string()},
       {"terminating", described(boolean(),
                                 "set by Skiff to retire the instance: it is taken out of "
                                 "routing, stopped within its grace period, then deleted")}},
      {"application", "component", "revision"});
}

// ---- Identities and permissions (docs/security.md) ----------------------------------------
// Credentials (password hashes, token digests) are not part of these: they live in internal
// kinds the API never serves (model/kinds.h).

json buildUserSpec() {
  return object(
      {{"displayName", boundedString(256)},
       {"email", described(boundedString(254), "an address like name@example.com")},
       {"groups", described(arrayOf(string("dns-label"), 0, 64),
                            "groups the user belongs to; bindings may name a group")},
       {"disabled", described(defaulted(boolean(), false),
                              "a disabled user cannot log in, and its tokens stop working")},
       {"source", described(defaulted(oneOfStrings({"local", "ldap", "oidc"}), "local"),
                            "where the user signs in: a local password, the LDAP directory or "
                            "the OIDC issuer; ldap and oidc users are created at their first "
                            "sign-in")}});
}

json buildRoleSpec() {
  json rule = object(
      {{"verbs", described(arrayOf(oneOfStrings({"get", "list", "watch", "create", "update",
                                                 "patch", "delete", "*"}),
                                   1, 0),
                           "\"*\" is every verb")},
       {"resources", described(arrayOf(with(string(), "minLength", 1), 1, 0),
                               "API resources (\"applications\"), subresources "
                               "(\"instances/logs\"), \"<resource>/*\" for every subresource of "
                               "one, or \"*\" for all")}},
      {"verbs", "resources"});
  return object({{"description", boundedString(1024)}, {"rules", arrayOf(rule, 1, 256)}},
                {"rules"});
}

json buildBindingSpec(const char* where) {
  json subject = object({{"kind", oneOfStrings({"User", "Group"})}, {"name", string("dns-label")}},
                        {"kind", "name"});
  return described(
      object({{"role", described(string("dns-label"), "a built-in role or a Role's name")},
              {"subjects", arrayOf(subject, 1, 256)}},
             {"role", "subjects"}),
      where);
}

json buildTokenSpec() {
  return described(
      object({{"user", string("dns-label")},
              {"type", defaulted(oneOfStrings({"api", "session"}), "api")},
              {"roles", described(arrayOf(string("dns-label")),
                                  "limits the token to these roles' permissions (never more than "
                                  "the user's); empty: the user's")},
              {"tenants", described(arrayOf(string("dns-label")),
                                    "limits the token to these tenants; empty: no limit")},
              {"expiresAt", described(string(), "RFC 3339 UTC, e.g. 2026-01-31T00:00:00Z")},
              {"description", boundedString(1024)}},
             {"user", "expiresAt"}),
      "created through the token endpoint, which returns the secret once; delete to revoke");
}

}  // namespace

const json& applicationSpecSchema() {
  static const json schema = buildApplicationSpec();
  return schema;
}

const json* specSchema(std::string_view kind) {
  static const json tenant = buildTenantSpec();
  static const json revision = buildRevisionSpec();
  static const json instance = buildInstanceSpec();
  if (kind == "Tenant") return &tenant;
  if (kind == "Application") return &applicationSpecSchema();
  if (kind == "Revision") return &revision;
  if (kind == "Instance") return &instance;
  static const json config = buildConfigSpec();
  static const json secret = buildSecretSpec();
  if (kind == "Config") return &config;
  if (kind == "Secret") return &secret;
  static const json volume = buildVolumeSpec();
  if (kind == "Volume") return &volume;
  static const json cluster = buildClusterSpec();
  if (kind == "Cluster") return &cluster;
  static const json event = buildEventSpec();
  if (kind == "Event") return &event;
  static const json alert_rule = buildAlertRuleSpec();
  static const json receiver = buildReceiverSpec();
  static const json silence = buildSilenceSpec();
  if (kind == "AlertRule") return &alert_rule;
  if (kind == "Receiver") return &receiver;
  if (kind == "Silence") return &silence;
  static const json user = buildUserSpec();
  static const json role = buildRoleSpec();
  static const json binding = buildBindingSpec("grants the role to the subjects in this tenant");
  static const json platform_binding =
      buildBindingSpec("grants the role to the subjects at platform scope: in every tenant");
  static const json token = buildTokenSpec();
  if (kind == "User") return &user;
  if (kind == "Role") return &role;
  if (kind == "RoleBinding") return &binding;
  if (kind == "PlatformRoleBinding") return &platform_binding;
  if (kind == "Token") return &token;
  return nullptr;
}

json metadataSchema(std::string_view kind) {
  json name = string("dns-label");
  if (kind == "Application") name["maxLength"] = 50;
  json read_only_string = with(string(), "readOnly", true);
  return object({{"name", name},
                 {"tenant", described(string("dns-label"), "the tenant in the URL; omit it")},
                 {"uid", read_only_string},
                 {"labels", {{"type", "object"}, {"additionalProperties", boundedString(63)}}},
                 {"annotations", {{"type", "object"}, {"additionalProperties", string()}}},
                 {"resourceVersion",
                  described(integerAtLeast(0), "required on update: the version replaced")},
                 {"generation", with(integerAtLeast(0), "readOnly", true)},
                 {"createdAt", read_only_string}},
                {"name"});
}

}  // namespace skiff
