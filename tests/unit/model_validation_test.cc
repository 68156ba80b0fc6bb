// Admission of objects (model/validation.h): envelope rules, schema defaults and checks, and
// the application's cross-field rules, asserted by exact field path and message.
#include "model/validation.h"

#include <gtest/gtest.h>

#include <string>

#include "model/codec.h"
#include "model/formats.h"

namespace skiff {
namespace {

json yaml(const std::string& text) {
  auto doc = decodeDocument(text, "application/yaml");
  EXPECT_TRUE(doc.ok()) << doc.status().toString();
  return doc.ok() ? *doc : json();
}

// The application from DESIGN.md, adapted to the model.
const char* kShop = R"(
apiVersion: skiff.dev/v1
kind: Application
metadata: {name: shop, tenant: acme, labels: {app.kubernetes.io/name: shop, tier: web}}
spec:
  components:
  - name: web
    type: service
    image: registry.local:5000/acme/web:1.4.2
    replicas: 3
    ports: [{name: http, port: 8080}]
    env: [{name: CACHE_ADDR, value: cache:6379}]
    resources: {cpu: 500m, memory: 256Mi}
    health:
      readiness: {http: {path: /healthz, port: http}, periodSeconds: 2}
      liveness:  {tcp: {port: http}, failureThreshold: 3}
    autoscale: {min: 2, max: 10, targetCPU: 70, schedules: [{cron: "0 8 * * 1-5", min: 5}]}
    rollout: {strategy: canary, steps: [{weight: 10, pause: 60s}, {weight: 50, pause: 60s}],
              analysis: {maxErrorRate: 0.01, maxP99: 500ms}}
    routes: [{host: shop.example.test, path: /, port: http}]
  - name: cache
    type: stateful
    image: registry.local:5000/acme/redis:7
    ports: [{name: redis, port: 6379}]
    volumes: [{name: data, path: /data, size: 1Gi}]
  dependsOn: [{from: web, to: cache}]
)";

Result<Object> admitApp(const json& doc) { return admitObject(doc, {"Application", "acme"}); }

TEST(ModelValidationTest, DesignDocumentApplicationIsAdmittedWithDefaults) {
  auto object = admitApp(yaml(kShop));
  ASSERT_TRUE(object.ok()) << object.status().toString();
  EXPECT_EQ(object->kind, "Application");
  EXPECT_EQ(object->metadata.name, "shop");
  EXPECT_EQ(object->metadata.tenant, "acme");
  EXPECT_EQ(object->metadata.labels.at("tier"), "web");
  const json& spec = object->spec;
  EXPECT_EQ(spec["cluster"], "local");
  const json& web = spec["components"][0];
  EXPECT_EQ(web["restartPolicy"], "Always");
  EXPECT_EQ(web["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(web["ports"][0]["protocol"], "http");
  EXPECT_EQ(web["health"]["readiness"]["periodSeconds"], 2);
  EXPECT_EQ(web["health"]["readiness"]["timeoutSeconds"], 1);
  EXPECT_EQ(web["health"]["readiness"]["http"]["scheme"], "http");
  EXPECT_EQ(web["health"]["liveness"]["periodSeconds"], 10);
  EXPECT_EQ(web["autoscale"]["scaleDownStabilizationSeconds"], 300);
  EXPECT_EQ(web["rollout"]["maxSurge"], "25%");
  EXPECT_EQ(web["rollout"]["maxUnavailable"], 0);
  EXPECT_EQ(web["rollout"]["analysis"]["interval"], "30s");
  EXPECT_EQ(web["rollout"]["analysis"]["failureLimit"], 1);
  EXPECT_EQ(web["rollout"]["autoPromote"], true);
  EXPECT_EQ(web["routes"][0]["timeout"], "30s");
  EXPECT_EQ(web["routes"][0]["retries"], 0);
  const json& cache = spec["components"][1];
  EXPECT_EQ(cache["replicas"], 1);
  EXPECT_EQ(cache["rollout"]["strategy"], "rolling");
  EXPECT_EQ(cache["volumes"][0]["readOnly"], false);
  EXPECT_EQ(cache["volumes"][0]["source"], (json{{"persistent", json::object()}}));
  EXPECT_TRUE(object->status.empty());
}

TEST(ModelValidationTest, AdmissionIsIdempotent) {
  auto first = admitApp(yaml(kShop));
  ASSERT_TRUE(first.ok());
  auto second = admitApp(first->toJson());
  ASSERT_TRUE(second.ok()) << second.status().toString();
  EXPECT_EQ(second->spec, first->spec);
}

TEST(ModelValidationTest, CodeDefaultsDependOnOtherFields) {
  auto object = admitApp(yaml(R"(
metadata: {name: app}
spec:
  components:
  - {name: job, type: job, run: {command: /bin/migrate}}
  - {name: cj, type: cronjob, image: tool, schedule: "@hourly"}
  - {name: web, image: web, rollout: {strategy: canary}}
)"));
  ASSERT_TRUE(object.ok()) << object.status().toString();
  EXPECT_EQ(object->spec["components"][0]["restartPolicy"], "OnFailure");
  EXPECT_EQ(object->spec["components"][1]["restartPolicy"], "OnFailure");
  EXPECT_EQ(object->spec["components"][2]["rollout"]["steps"],
            json::parse(R"([{"weight": 10, "pause": "60s"}, {"weight": 50, "pause": "60s"}])"));
}

struct BadCase {
  const char* name;
  const char* yaml;  // merged onto a valid one-component application
  const char* path;
  const char* message;
};

// Replaces the spec of a minimal valid application with `spec_yaml`.
json appWithSpec(const char* spec_yaml) {
  json doc = yaml("metadata: {name: app}\n");
  doc["spec"] = yaml(spec_yaml);
  return doc;
}

class BadApplicationTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadApplicationTest, ReportsPathAndMessage) {
  const BadCase& c = GetParam();
  auto object = admitApp(appWithSpec(c.yaml));
  ASSERT_FALSE(object.ok()) << c.name;
  EXPECT_EQ(object.status().code(), StatusCode::kInvalid);
  FieldError expected{c.path, c.message};
  bool found = false;
  for (const auto& f : object.status().fields()) found = found || f == expected;
  EXPECT_TRUE(found) << c.name << ": expected {" << c.path << ": " << c.message << "} in\n"
                     << object.status().toString();
}

const BadCase kBadCases[] = {
    {"port out of range",
     "components: [{name: web, image: w, ports: [{name: http, port: 8080}]}, "
     "{name: api, image: a, ports: [{name: http, port: 70000}]}]",
     "spec.components[1].ports[0].port", "must be between 1 and 65535, got 70000"},
    {"unknown field", "components: [{name: web, image: w, foo: 1}]", "spec.components[0].foo",
     "unknown field \"foo\""},
    {"misspelled field", "components: [{name: web, imgae: w}]", "spec.components[0].imgae",
     "unknown field \"imgae\" (did you mean \"image\"?)"},
    {"components required", "cluster: local", "spec.components", "is required"},
    {"no components", "components: []", "spec.components", "must have at least 1 item, got 0"},
    {"wrong type", "components: [{name: web, image: 5}]", "spec.components[0].image",
     "must be a string, got number"},
    {"enum", "components: [{name: web, image: w, type: svc}]", "spec.components[0].type",
     "must be one of service, stateful, job, cronjob, got \"svc\""},
    {"dns label", "components: [{name: Web_1, image: w}]", "spec.components[0].name",
     "must be a DNS label (lowercase letters, digits and '-', 1-63 characters, starting and "
     "ending with a letter or digit), got \"Web_1\""},
    {"component name length",
     "components: [{name: abcdefghijabcdefghijabcdefghijabcdefghijab, image: w}]",
     "spec.components[0].name", "must be at most 40 characters, got 42"},
    {"fractional replicas", "components: [{name: web, image: w, replicas: 2.5}]",
     "spec.components[0].replicas", "must be an integer, got 2.5"},
    {"image ref", "components: [{name: web, image: Registry/Web}]", "spec.components[0].image",
     "must be an image reference like \"registry.example:5000/team/app:1.2\" (lowercase "
     "repository path, optional :tag and @sha256:digest), got \"Registry/Web\""},
    {"image or run", "components: [{name: web}]", "spec.components[0]",
     "must set image, run or both (run overrides the image's entrypoint)"},
    {"empty command", "components: [{name: web, run: {command: ''}}]",
     "spec.components[0].run.command", "must not be empty"},
    {"duplicate component", "components: [{name: web, image: a}, {name: web, image: b}]",
     "spec.components[1].name", "duplicate component name \"web\" (also components[0])"},
    {"duplicate port name",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}, {name: http, port: 81}]}]",
     "spec.components[0].ports[1].name", "duplicate port name \"http\" (also ports[0])"},
    {"duplicate port number",
     "components: [{name: web, image: a, ports: [{name: a, port: 80}, {name: b, port: 80}]}]",
     "spec.components[0].ports[1].port", "duplicate port 80 (also ports[0])"},
    {"port name length",
     "components: [{name: web, image: a, ports: [{name: abcdefghijklmnop, port: 80}]}]",
     "spec.components[0].ports[0].name", "must be at most 15 characters, got 16"},
    {"undeclared probe port",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], "
     "health: {readiness: {http: {port: admin}}}}]",
     "spec.components[0].health.readiness.http.port",
     "port \"admin\" is not declared in spec.components[0].ports (declared: http)"},
    {"undeclared probe port number",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], "
     "health: {liveness: {tcp: {port: 81}}}}]",
     "spec.components[0].health.liveness.tcp.port",
     "port 81 is not declared in spec.components[0].ports (declared: http)"},
    {"probe handler count",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], "
     "health: {readiness: {http: {port: 80}, tcp: {port: 80}}}}]",
     "spec.components[0].health.readiness",
     "must set only one of http, tcp or exec, got http, tcp"},
    {"probe without handler", "components: [{name: web, image: a, health: {startup: {}}}]",
     "spec.components[0].health.startup", "must set one of http, tcp or exec"},
    {"liveness success threshold",
     "components: [{name: web, image: a, health: {liveness: {exec: {command: [x]}, "
     "successThreshold: 2}}}]",
     "spec.components[0].health.liveness.successThreshold",
     "must be 1 for a liveness probe, got 2"},
    {"period zero",
     "components: [{name: web, image: a, health: {readiness: {exec: {command: [x]}, "
     "periodSeconds: 0}}}]",
     "spec.components[0].health.readiness.periodSeconds",
     "must be greater than 0 and at most 3600, got 0"},
    {"exec command empty",
     "components: [{name: web, image: a, health: {readiness: {exec: {command: []}}}}]",
     "spec.components[0].health.readiness.exec.command", "must have at least 1 item, got 0"},
    {"env both",
     "components: [{name: web, image: a, env: [{name: A, value: x, valueFrom: "
     "{config: {name: c, key: k}}}]}]",
     "spec.components[0].env[0]", "must set only one of value or valueFrom, got value, valueFrom"},
    {"env neither", "components: [{name: web, image: a, env: [{name: A}]}]",
     "spec.components[0].env[0]", "must set one of value or valueFrom"},
    {"env name", "components: [{name: web, image: a, env: [{name: 1A, value: x}]}]",
     "spec.components[0].env[0].name",
     "must be an environment variable name (letters, digits and '_', not starting with a "
     "digit), got \"1A\""},
    {"env from both", "components: [{name: web, image: a, envFrom: [{config: c, secret: s}]}]",
     "spec.components[0].envFrom[0]", "must set only one of config or secret, got config, secret"},
    {"resources mixed",
     "components: [{name: web, image: a, resources: {cpu: 1, limits: {cpu: 2}}}]",
     "spec.components[0].resources",
     "set either cpu/memory (request equals limit) or requests/limits, not both"},
    {"request above limit",
     "components: [{name: web, image: a, resources: {requests: {memory: 2Gi}, "
     "limits: {memory: 1Gi}}}]",
     "spec.components[0].resources.requests.memory",
     "must not exceed the limit \"1Gi\", got \"2Gi\""},
    {"cpu quantity", "components: [{name: web, image: a, resources: {cpu: lots}}]",
     "spec.components[0].resources.cpu",
     "must be a CPU quantity like \"500m\", \"0.5\" or \"2\" (cores), got \"lots\""},
    {"autoscale min above max", "components: [{name: web, image: a, autoscale: {min: 5, max: 2}}]",
     "spec.components[0].autoscale.min", "must not exceed max (2), got 5"},
    {"autoscale max required", "components: [{name: web, image: a, autoscale: {min: 1}}]",
     "spec.components[0].autoscale.max", "is required"},
    {"cron range",
     "components: [{name: web, image: a, autoscale: {max: 3, schedules: [{cron: '0 25 * * *'}]}}]",
     "spec.components[0].autoscale.schedules[0].cron",
     "must be a cron schedule (\"minute hour day-of-month month day-of-week\" or @hourly, "
     "@daily, @weekly, @monthly, @yearly): the hour 25 is out of range 0-23, got \"0 25 * * *\""},
    {"steps not canary", "components: [{name: web, image: a, rollout: {steps: [{weight: 10}]}}]",
     "spec.components[0].rollout.steps",
     "only apply to the canary strategy, got strategy \"rolling\""},
    {"preview on rolling",
     "components: [{name: web, image: a, rollout: {preview: {host: p.test}}}]",
     "spec.components[0].rollout.preview",
     "only applies to the canary and bluegreen strategies, got strategy \"rolling\""},
    {"keepWarm on canary",
     "components: [{name: web, image: a, rollout: {strategy: canary, keepWarm: 1m}}]",
     "spec.components[0].rollout.keepWarm",
     "only applies to the bluegreen strategy, got strategy \"canary\""},
    {"preview host and header",
     "components: [{name: web, image: a, rollout: {strategy: bluegreen, preview: {host: p.test, "
     "header: {name: x-preview, value: '1'}}}}]",
     "spec.components[0].rollout.preview", "must set only one of host or header, got host, header"},
    {"steps decreasing",
     "components: [{name: web, image: a, rollout: {strategy: canary, steps: [{weight: 50}, "
     "{weight: 50}]}}]",
     "spec.components[0].rollout.steps[1].weight",
     "must be greater than the previous step's weight (50), got 50"},
    {"max surge", "components: [{name: web, image: a, rollout: {maxSurge: 120%}}]",
     "spec.components[0].rollout.maxSurge",
     "must be a non-negative integer or a percentage from \"0%\" to \"100%\", got \"120%\""},
    {"pause duration",
     "components: [{name: web, image: a, rollout: {strategy: canary, steps: [{weight: 10, "
     "pause: 1 minute}]}}]",
     "spec.components[0].rollout.steps[0].pause",
     "must be a duration like \"500ms\", \"30s\", \"5m\" or \"1h30m\", got \"1 minute\""},
    {"routes without ports",
     "components: [{name: web, image: a, routes: [{host: a.example, port: 80}]}]",
     "spec.components[0].routes", "need the component to declare ports (spec.components[0].ports)"},
    {"route port",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], "
     "routes: [{host: a.example, port: grpc}]}]",
     "spec.components[0].routes[0].port",
     "port \"grpc\" is not declared in spec.components[0].ports (declared: http)"},
    {"route host",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], "
     "routes: [{host: A_B, port: 80}]}]",
     "spec.components[0].routes[0].host",
     "must be a host name (lowercase dot-separated DNS labels, at most 253 characters, "
     "optionally starting with \"*.\"), got \"A_B\""},
    {"route path",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], "
     "routes: [{host: a.example, path: api, port: 80}]}]",
     "spec.components[0].routes[0].path",
     "must be an HTTP path starting with '/' without spaces or control characters, got \"api\""},
    {"duplicate route",
     "components: [{name: a, image: a, ports: [{name: http, port: 80}], routes: [{host: "
     "'*.shop.test', port: 80}]}, {name: b, image: b, ports: [{name: http, port: 80}], "
     "routes: [{host: '*.shop.test', path: /, port: http}]}]",
     "spec.components[1].routes[0]",
     "duplicate route for host \"*.shop.test\" path \"/\" (also spec.components[0].routes[0])"},
    {"one host, two tls secrets",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], routes: [{host: "
     "shop.test, port: 80, tls: {secret: a}}, {host: shop.test, path: /api, port: 80, tls: "
     "{secret: b}}]}]",
     "spec.components[0].routes[1].tls.secret",
     "host \"shop.test\" already takes its certificate from secret \"a\" "
     "(spec.components[0].routes[0])"},
    {"route tls without secret",
     "components: [{name: web, image: a, ports: [{name: http, port: 80}], routes: [{host: "
     "shop.test, port: 80, tls: {}}]}]",
     "spec.components[0].routes[0].tls.secret", "is required"},
    {"stateful volume size",
     "components: [{name: db, type: stateful, image: pg, volumes: [{name: data, path: /data}]}]",
     "spec.components[0].volumes[0].size",
     "is required for a persistent volume of a stateful component"},
    {"duplicate volume path",
     "components: [{name: db, image: pg, volumes: [{name: a, path: /data}, {name: b, path: "
     "/data}]}]",
     "spec.components[0].volumes[1].path", "duplicate mount path \"/data\" (also volumes[0])"},
    {"volume path relative",
     "components: [{name: db, image: pg, volumes: [{name: a, path: data}]}]",
     "spec.components[0].volumes[0].path",
     "must be an absolute path (starting with '/', without \"..\" segments), got \"data\""},
    {"volume two sources",
     "components: [{name: db, image: pg, volumes: [{name: a, path: /a, source: {config: c, "
     "emptyDir: {}}}]}]",
     "spec.components[0].volumes[0].source",
     "must set only one of persistent, emptyDir, config or secret, got emptyDir, config"},
    {"autoscale without target", "components: [{name: web, image: a, autoscale: {max: 3}}]",
     "spec.components[0].autoscale",
     "needs a target (targetCPU, targetMemory, targetRequestsPerSecond, targetP99) or schedules "
     "to scale by"},
    {"autoscale schedule time zone",
     "components: [{name: web, image: a, autoscale: {max: 3, schedules: [{cron: '0 8 * * *', "
     "min: 2, timeZone: Mars/Olympus}]}}]",
     "spec.components[0].autoscale.schedules[0].timeZone",
     "unknown time zone \"Mars/Olympus\" (not in /usr/share/zoneinfo) (use an IANA name like "
     "\"Europe/Berlin\" or \"UTC\")"},
    {"autoscale schedule without bounds",
     "components: [{name: web, image: a, autoscale: {max: 3, schedules: [{cron: '0 8 * * *'}]}}]",
     "spec.components[0].autoscale.schedules[0]",
     "needs a min or a max to apply while its window is open"},
    {"cronjob schedule", "components: [{name: cj, image: a, type: cronjob}]",
     "spec.components[0].schedule", "is required for a cronjob component"},
    {"schedule on service", "components: [{name: web, image: a, schedule: '@daily'}]",
     "spec.components[0].schedule",
     "is only allowed for cronjob components, this one is a service"},
    {"job restart always", "components: [{name: j, image: a, type: job, restartPolicy: Always}]",
     "spec.components[0].restartPolicy",
     "must be OnFailure or Never for a job component, got \"Always\""},
    {"dependency unknown",
     "components: [{name: web, image: a}, {name: cache, image: b}]\n"
     "dependsOn: [{from: web, to: db}]",
     "spec.dependsOn[0].to", "no component named \"db\" (components: web, cache)"},
    {"dependency cycle",
     "components: [{name: web, image: a}, {name: cache, image: b}]\n"
     "dependsOn: [{from: web, to: cache}, {from: cache, to: web}]",
     "spec.dependsOn", "dependency cycle web -> cache -> web"},
    {"self dependency", "components: [{name: web, image: a}]\ndependsOn: [{from: web, to: web}]",
     "spec.dependsOn[0]", "a component cannot depend on itself (web)"},
    {"cluster", "components: [{name: web, image: a}]\ncluster: Local", "spec.cluster",
     "must be a DNS label (lowercase letters, digits and '-', 1-63 characters, starting and "
     "ending with a letter or digit), got \"Local\""},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadApplicationTest, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(ModelValidationTest, AllViolationsAreReported) {
  auto object = admitApp(appWithSpec(
      "components: [{name: Web, image: a, replicas: -1, ports: [{name: http, port: 0}]}]\n"
      "extra: 1\n"));
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.status().fields().size(), 4u) << object.status().toString();
  EXPECT_EQ(object.status().message(), "Application \"app\" is invalid (4 problems)");
}

struct EnvelopeCase {
  const char* name;
  const char* yaml;
  const char* path;
  const char* message;
};

class BadEnvelopeTest : public ::testing::TestWithParam<EnvelopeCase> {};

TEST_P(BadEnvelopeTest, ReportsPathAndMessage) {
  const EnvelopeCase& c = GetParam();
  json doc = yaml(c.yaml);
  if (!doc.contains("spec")) doc["spec"] = yaml("components: [{name: web, image: web}]");
  auto object = admitApp(doc);
  ASSERT_FALSE(object.ok()) << c.name;
  FieldError expected{c.path, c.message};
  bool found = false;
  for (const auto& f : object.status().fields()) found = found || f == expected;
  EXPECT_TRUE(found) << c.name << ": expected {" << c.path << ": " << c.message << "} in\n"
                     << object.status().toString();
}

const EnvelopeCase kEnvelopeCases[] = {
    {"api version", "apiVersion: v1\nmetadata: {name: a}", "apiVersion",
     "must be \"skiff.dev/v1\", got \"v1\""},
    {"kind", "kind: Tenant\nmetadata: {name: a}", "kind",
     "must be \"Application\" (the kind the URL names), got \"Tenant\""},
    {"top level field", "metadata: {name: a}\nspce: {}", "spce",
     "unknown field \"spce\" (an object has apiVersion, kind, metadata, spec and status)"},
    {"no metadata", "kind: Application", "metadata.name", "is required"},
    {"no name", "metadata: {labels: {a: b}}", "metadata.name", "is required"},
    {"name", "metadata: {name: My_App}", "metadata.name",
     "must be a DNS label (lowercase letters, digits and '-', 1-63 characters, starting and "
     "ending with a letter or digit), got \"My_App\""},
    {"long application name",
     "metadata: {name: abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijk}", "metadata.name",
     "must be at most 50 characters for an Application (revision names add a suffix), got 51"},
    {"tenant", "metadata: {name: a, tenant: other}", "metadata.tenant",
     "must be \"acme\" (the tenant in the URL) or omitted, got \"other\""},
    {"unknown metadata", "metadata: {name: a, namespace: x}", "metadata.namespace",
     "unknown field \"namespace\""},
    {"label key", "metadata: {name: a, labels: {'bad key': x}}", "metadata.labels[\"bad key\"]",
     "invalid key: the name \"bad key\" must be 1-63 characters of letters, digits, '-', '_' and "
     "'.', starting and ending with a letter or digit"},
    {"label prefix", "metadata: {name: a, labels: {'Example.com/app': x}}",
     "metadata.labels[\"Example.com/app\"]",
     "invalid key: the prefix \"Example.com\" must be a DNS subdomain (lowercase dot-separated "
     "DNS labels, at most 253 characters)"},
    {"label value", "metadata: {name: a, labels: {app: 'a b'}}", "metadata.labels.app",
     "must be at most 63 characters of letters, digits, '-', '_' and '.', starting and ending "
     "with a letter or digit (or empty), got \"a b\""},
    {"annotation value", "metadata: {name: a, annotations: {note: 1}}", "metadata.annotations.note",
     "must be a string, got number"},
    {"resource version", "metadata: {name: a, resourceVersion: -1}", "metadata.resourceVersion",
     "must be a non-negative integer (the resourceVersion you read), got -1"},
    {"spec type", "metadata: {name: a}\nspec: [1]", "spec", "must be an object, got array"},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadEnvelopeTest, ::testing::ValuesIn(kEnvelopeCases),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(ModelValidationTest, EnvelopeDefaultsAndServerFields) {
  json doc = yaml(R"(
metadata:
  name: a
  uid: 0b7c
  generation: 7
  createdAt: "2024-01-01T00:00:00Z"
  resourceVersion: "42"
  annotations: {note: anything at all}
  labels: {empty: ""}
spec: {components: [{name: web, image: web}]}
status: {phase: Running}
)");
  auto object = admitApp(doc);
  ASSERT_TRUE(object.ok()) << object.status().toString();
  EXPECT_EQ(object->metadata.resource_version, 42);
  EXPECT_EQ(object->metadata.uid, "");
  EXPECT_EQ(object->metadata.generation, 0);
  EXPECT_EQ(object->metadata.created_at, "");
  EXPECT_EQ(object->metadata.annotations.at("note"), "anything at all");
  EXPECT_EQ(object->metadata.labels.at("empty"), "");
  EXPECT_TRUE(object->status.empty());  // written only through the status subresource
}

TEST(ModelValidationTest, AnnotationsAreBounded) {
  json doc = yaml("metadata: {name: a}\nspec: {components: [{name: web, image: web}]}");
  doc["metadata"]["annotations"]["big"] = std::string(300 * 1024, 'x');
  auto object = admitApp(doc);
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.status().fields().at(0).path, "metadata.annotations");
}

TEST(ModelValidationTest, NonObjectBodyIsRejected) {
  auto object = admitApp(json::array());
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.status().code(), StatusCode::kInvalid);
}

TEST(ModelValidationTest, TenantSpecMayBeEmpty) {
  auto object = admitObject(yaml("metadata: {name: acme}"), {"Tenant", ""});
  ASSERT_TRUE(object.ok()) << object.status().toString();
  EXPECT_EQ(object->spec, (json{{"networkIsolation", true}}));
  EXPECT_EQ(object->metadata.tenant, "");
  auto full = admitObject(yaml(R"(
kind: Tenant
metadata: {name: acme}
spec:
  displayName: ACME Corp
  quota: {cpu: 16, memory: 64Gi, storage: 1.5Ti, instances: 100, applications: 20}
  networkIsolation: false
)"),
                          {"Tenant", ""});
  ASSERT_TRUE(full.ok()) << full.status().toString();
  EXPECT_EQ(full->spec["networkIsolation"], false);
}

TEST(ModelValidationTest, TenantRules) {
  auto object = admitObject(
      yaml("metadata: {name: acme, tenant: acme}\nspec: {quota: {memory: 1GB, instances: -1}}"),
      {"Tenant", ""});
  ASSERT_FALSE(object.ok());
  std::vector<FieldError> expected = {
      {"metadata.tenant", "must be omitted: Tenant objects do not belong to a tenant"},
      {"spec.quota.instances", "must be between 0 and 100000, got -1"},
      {"spec.quota.memory",
       "must be a memory quantity like \"256Mi\", \"1.5Gi\", \"512M\" or a number of bytes, got "
       "\"1GB\""},
  };
  EXPECT_EQ(object.status().fields(), expected);
}

TEST(ModelValidationTest, InstanceSpec) {
  auto ok = admitObject(yaml(R"(
metadata: {name: shop-web-0}
spec: {application: shop, component: web, revision: 3, ordinal: 0, node: local}
status: {phase: Running}
)"),
                        {"Instance", "acme"});
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  auto bad = admitObject(yaml("metadata: {name: i}\nspec: {application: shop, revision: 0}"),
                         {"Instance", "acme"});
  ASSERT_FALSE(bad.ok());
  std::vector<FieldError> expected = {
      {"spec.component", "is required"},
      {"spec.revision", "must be at least 1, got 0"},
  };
  EXPECT_EQ(bad.status().fields(), expected);
}

// Kind-specific checks read fields the schema may already have rejected for their type; they
// must report, not throw (the decode fuzzer found a Secret whose `type` was a list).
TEST(ModelValidationTest, MistypedFieldsAreReportedNotThrown) {
  for (const char* kind : {"Secret", "Config", "Cluster"}) {
    auto bad = admitObject(
        yaml("metadata: {name: c}\nspec: {type: [a], server: [b], namespacePrefix: {c: d}, "
             "data: {a: b}}"),
        {kind, kind == std::string("Cluster") ? "" : "acme"});
    ASSERT_FALSE(bad.ok()) << kind;
    EXPECT_NE(bad.status().toString().find("spec."), std::string::npos) << kind;
  }
}

TEST(ModelValidationTest, RevisionTemplateIsValidatedAsAnApplication) {
  auto ok = admitObject(yaml(R"(
metadata: {name: shop-1}
spec:
  application: shop
  revision: 1
  applicationGeneration: 1
  template: {components: [{name: web, image: web}]}
)"),
                        {"Revision", "acme"});
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  EXPECT_EQ(ok->spec["template"]["components"][0]["replicas"], 1);
  auto bad = admitObject(yaml(R"(
metadata: {name: shop-1}
spec:
  application: shop
  revision: 1
  template: {components: [{name: web}], dependsOn: [{from: web, to: db}]}
)"),
                         {"Revision", "acme"});
  ASSERT_FALSE(bad.ok());
  std::vector<FieldError> expected = {
      {"spec.template.components[0]",
       "must set image, run or both (run overrides the image's entrypoint)"},
      {"spec.template.dependsOn[0].to", "no component named \"db\" (components: web)"},
  };
  EXPECT_EQ(bad.status().fields(), expected);
}

TEST(ModelValidationTest, ValidateStatus) {
  EXPECT_TRUE(validateStatus(json::object()).isOk());
  EXPECT_EQ(validateStatus(json::array()).fields().at(0),
            (FieldError{"status", "must be an object, got array"}));
  json big = {{"x", std::string(300 * 1024, 'y')}};
  EXPECT_EQ(validateStatus(big).code(), StatusCode::kInvalid);
}

TEST(ModelValidationTest, ObjectSchemaIsOpenApi3) {
  json schema = objectSchema("Application");
  EXPECT_EQ(schema["properties"]["kind"]["enum"], json::array({"Application"}));
  EXPECT_EQ(schema["required"], json::array({"metadata"}));
  const json& component = schema["properties"]["spec"]["properties"]["components"]["items"];
  EXPECT_EQ(component["properties"]["name"]["format"], "dns-label");
  EXPECT_EQ(component["properties"]["replicas"]["default"], 1);
  // int-or-percent and type lists become oneOf; exclusiveMinimum becomes a boolean.
  const json& rollout = component["properties"]["rollout"]["properties"];
  EXPECT_EQ(rollout["maxSurge"]["oneOf"].size(), 2u);
  EXPECT_FALSE(rollout["maxSurge"].contains("format"));
  const json& probe = component["properties"]["health"]["properties"]["readiness"]["properties"];
  EXPECT_EQ(probe["periodSeconds"]["exclusiveMinimum"], true);
  EXPECT_EQ(probe["periodSeconds"]["minimum"], 0);
  EXPECT_FALSE(probe["http"]["properties"]["port"].contains("type"));
  EXPECT_EQ(probe["http"]["properties"]["port"]["oneOf"].size(), 2u);
  // No type lists anywhere: OpenAPI 3.0 requires a single type name.
  std::vector<const json*> pending = {&schema};
  while (!pending.empty()) {
    const json* node = pending.back();
    pending.pop_back();
    if (node->is_object()) {
      if (auto t = node->find("type"); t != node->end()) {
        EXPECT_TRUE(t->is_string()) << *node;
      }
    }
    if (!node->is_object()) continue;
    for (auto it = node->begin(); it != node->end(); ++it) {
      if (it.key() == "properties") {
        for (const auto& property : *it) pending.push_back(&property);
      } else if (it->is_object()) {
        pending.push_back(&*it);
      } else if (it->is_array()) {
        for (const auto& branch : *it) pending.push_back(&branch);
      }
    }
  }
  EXPECT_EQ(
      objectSchema("Tenant")["properties"]["spec"]["properties"]["networkIsolation"]["default"],
      true);
}

TEST(ModelFormatsTest, Parsers) {
  EXPECT_EQ(parseDurationSeconds("1h30m"), 5400.0);
  EXPECT_EQ(parseDurationSeconds("500ms"), 0.5);
  EXPECT_EQ(parseDurationSeconds("1.5s"), 1.5);
  EXPECT_FALSE(parseDurationSeconds("-5s"));
  EXPECT_FALSE(parseDurationSeconds("5"));
  EXPECT_FALSE(parseDurationSeconds("5 s"));
  EXPECT_EQ(parseCpuMillis("500m"), 500);
  EXPECT_EQ(parseCpuMillis("0.5"), 500);
  EXPECT_EQ(parseCpuMillis(json(2)), 2000);
  EXPECT_FALSE(parseCpuMillis("1Gi"));
  EXPECT_EQ(parseMemoryBytes("256Mi"), 256 << 20);
  EXPECT_EQ(parseMemoryBytes("1.5Gi"), 1536ll << 20);
  EXPECT_EQ(parseMemoryBytes("512M"), 512000000);
  EXPECT_EQ(parseMemoryBytes("1000000"), 1000000);
  EXPECT_FALSE(parseMemoryBytes("1GB"));
  EXPECT_FALSE(parseMemoryBytes(json(-1)));
  EXPECT_EQ(cronError("*/15 0-23/2 1,15 * 1-5"), "");
  EXPECT_EQ(cronError("@weekly"), "");
  EXPECT_EQ(cronError("0 8 * *"),
            "expected 5 fields (minute hour day-of-month month "
            "day-of-week), found 4");
  EXPECT_EQ(cronError("0 0 0 * *"), "the day-of-month 0 is out of range 1-31");
  EXPECT_EQ(cronError("5-1 * * * *"), "the minute range \"5-1\" runs backwards");
  EXPECT_NE(cronError("@often"), "");
  EXPECT_EQ(checkFormat("image-ref", "nginx"), "");
  EXPECT_EQ(checkFormat("image-ref", "localhost:5000/a/b_c__d-e:v1.0"), "");
  EXPECT_EQ(checkFormat("image-ref", "r.io/a@sha256:" + std::string(64, 'a')), "");
  EXPECT_NE(checkFormat("image-ref", "r.io/a@sha256:abc"), "");
  EXPECT_NE(checkFormat("image-ref", "a//b"), "");
  EXPECT_NE(checkFormat("image-ref", "a:"), "");
  EXPECT_EQ(checkFormat("hostname", "*.shop.example"), "");
  EXPECT_NE(checkFormat("hostname", "shop..example"), "");
  EXPECT_NE(checkFormat("absolute-path", "/a/../b"), "");
  EXPECT_EQ(checkFormat("int-or-percent", json(3)), "");
  EXPECT_EQ(checkFormat("int-or-percent", "100%"), "");
  EXPECT_NE(checkFormat("int-or-percent", json(-1)), "");
  EXPECT_NE(checkFormat("int-or-percent", "5"), "");
  EXPECT_TRUE(isDnsLabel("a-1"));
  EXPECT_FALSE(isDnsLabel("-a"));
  EXPECT_FALSE(isDnsLabel(std::string(64, 'a')));
}

}  // namespace
}  // namespace skiff
