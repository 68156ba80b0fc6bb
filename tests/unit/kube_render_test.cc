// Rendering Skiff applications and tenants to Kubernetes objects (kube/render.h): each model
// field lands where Kubernetes expects it, with Skiff's labels, and what Kubernetes cannot
// express is refused naming the field.
#include <gtest/gtest.h>

#include "kube/render.h"
#include "model/codec.h"

namespace skiff::kube {
namespace {

json spec(const char* yaml) { return *decodeDocument(yaml, "application/yaml"); }

const json* find(const std::vector<json>& objects, const std::string& kind,
                 const std::string& name) {
  for (const auto& o : objects)
    if (o["kind"] == kind && o["metadata"]["name"] == name) return &o;
  return nullptr;
}

RenderInput shop() {
  RenderInput in;
  in.tenant = "acme";
  in.ns = "skiff-acme";
  in.application = "shop";
  in.revision = 3;
  in.spec = spec(R"(
components:
  - name: web
    image: registry.example/web:1
    replicas: 3
    ports: [{name: http, port: 8080}]
    env:
      - {name: MODE, value: prod}
      - name: DB_PASSWORD
        valueFrom: {secret: {name: db, key: password}}
    envFrom: [{config: settings}]
    resources: {cpu: 500m, memory: 256Mi}
    health:
      readiness: {http: {path: /ready, port: http}, periodSeconds: 2.5}
      liveness: {tcp: {port: 8080}}
    rollout: {maxSurge: 1, maxUnavailable: "10%"}
    routes: [{host: shop.example.com, port: http, path: /}]
    user: "1000:1000"
    readOnlyRoot: true
    terminationGracePeriodSeconds: 45
  - name: db
    type: stateful
    image: postgres:16
    replicas: 1
    ports: [{name: pg, port: 5432}]
    volumes: [{name: data, path: /var/lib/postgresql, size: 1Gi}]
  - name: report
    type: cronjob
    image: registry.example/report:1
    schedule: "0 * * * *"
)");
  in.data["secret/db"] = {{"type", "opaque"}, {"data", {{"password", "hunter2"}}}};
  in.data["config/settings"] = {{"data", {{"LOG", "info"}}}};
  return in;
}

TEST(KubeRenderTest, ServiceComponentBecomesDeploymentServiceAndIngress) {
  auto objects = renderApplication(shop());
  ASSERT_TRUE(objects.ok()) << objects.status().toString();
  const json* d = find(*objects, "Deployment", "shop-web");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ((*d)["metadata"]["namespace"], "skiff-acme");
  EXPECT_EQ((*d)["metadata"]["labels"]["app.kubernetes.io/managed-by"], "skiff");
  EXPECT_EQ((*d)["metadata"]["labels"]["skiff.dev/application"], "shop");
  EXPECT_EQ((*d)["metadata"]["annotations"]["skiff.dev/revision"], "3");
  EXPECT_EQ((*d)["spec"]["replicas"], 3);
  EXPECT_EQ((*d)["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 1);
  EXPECT_EQ((*d)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], "10%");
  const json& pod = (*d)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["terminationGracePeriodSeconds"], 45);
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "registry.example/web:1");
  EXPECT_EQ(c["resources"]["requests"]["cpu"], "500m");
  EXPECT_EQ(c["resources"]["limits"]["memory"], std::to_string(256 << 20));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"], "http");
  EXPECT_EQ(c["readinessProbe"]["periodSeconds"], 3);  // rounded up, never sooner
  EXPECT_EQ(c["livenessProbe"]["tcpSocket"]["port"], 8080);
  EXPECT_EQ(c["securityContext"]["runAsUser"], 1000);
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["env"][2]["valueFrom"]["secretKeyRef"]["name"], "shop-secret-db");
  EXPECT_EQ(c["envFrom"][0]["configMapRef"]["name"], "shop-config-settings");
  // The selector is stable across revisions: only the template changes on a release. The
  // track keeps a canary set's pods out of the stable Deployment.
  EXPECT_EQ((*d)["spec"]["selector"]["matchLabels"], json({{"app.kubernetes.io/instance", "shop"},
                                                           {"app.kubernetes.io/component", "web"},
                                                           {kTrackLabel, "stable"}}));
  EXPECT_EQ((*d)["spec"]["template"]["metadata"]["labels"][kTrackLabel], "stable");

  const json* svc = find(*objects, "Service", "shop-web");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ((*svc)["spec"]["ports"][0]["port"], 8080);
  EXPECT_FALSE((*svc)["spec"].contains("clusterIP"));
  const json* ing = find(*objects, "Ingress", "shop-web-0");
  ASSERT_NE(ing, nullptr);
  EXPECT_EQ((*ing)["spec"]["rules"][0]["host"], "shop.example.com");
  EXPECT_EQ((*ing)["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"],
            "http");
  const json* secret = find(*objects, "Secret", "shop-secret-db");
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ((*secret)["stringData"]["password"], "hunter2");
}

TEST(KubeRenderTest, StatefulAndCronComponents) {
  auto objects = renderApplication(shop());
  ASSERT_TRUE(objects.ok()) << objects.status().toString();
  const json* s = find(*objects, "StatefulSet", "shop-db");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ((*s)["spec"]["serviceName"], "shop-db");
  EXPECT_EQ((*s)["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
  EXPECT_EQ((*s)["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
            std::to_string(1 << 30));
  EXPECT_EQ(find(*objects, "Service", "shop-db")->at("spec")["clusterIP"], "None");
  const json* cron = find(*objects, "CronJob", "shop-report");
  ASSERT_NE(cron, nullptr);
  EXPECT_EQ((*cron)["spec"]["schedule"], "0 * * * *");
  EXPECT_EQ((*cron)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
            "OnFailure");
  EXPECT_EQ(find(*objects, "Service", "shop-report"), nullptr);
}

TEST(KubeRenderTest, AutoscaledWorkloadsLeaveReplicasToTheAutoscaler) {
  RenderInput in = shop();
  in.spec["components"][0]["autoscale"] = {{"min", 2}, {"max", 10}, {"targetCPU", 70}};
  auto objects = renderApplication(in);
  ASSERT_TRUE(objects.ok());
  EXPECT_FALSE(find(*objects, "Deployment", "shop-web")->at("spec").contains("replicas"));
  const json* hpa = find(*objects, "HorizontalPodAutoscaler", "shop-web");
  ASSERT_NE(hpa, nullptr);
  EXPECT_EQ((*hpa)["spec"]["maxReplicas"], 10);
  EXPECT_EQ((*hpa)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
}

TEST(KubeRenderTest, GatewayApiRoutesNameThePortByNumber) {
  RenderInput in = shop();
  in.gateway_api = true;
  auto objects = renderApplication(in);
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(find(*objects, "Ingress", "shop-web-0"), nullptr);
  const json* route = find(*objects, "HTTPRoute", "shop-web-0");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ((*route)["spec"]["rules"][0]["backendRefs"][0]["port"], 8080);
}

// A canary release: the stable Deployment keeps the stable revision's template and full size,
// a second Deployment runs the new one, and routed traffic splits by weight.
TEST(KubeRenderTest, CanaryReleaseRendersTwoSetsAndSplitsTraffic) {
  RenderInput in = shop();
  json stable = in.spec["components"][0];
  stable["image"] = "registry.example/web:0";
  in.releases["web"] = {stable, 2, 1, 10, false};
  auto objects = renderApplication(in);
  ASSERT_TRUE(objects.ok()) << objects.status().message();

  const json* d = find(*objects, "Deployment", "shop-web");
  const json* canary = find(*objects, "Deployment", "shop-web-canary");
  ASSERT_NE(d, nullptr);
  ASSERT_NE(canary, nullptr);
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/web:0");
  EXPECT_EQ((*d)["spec"]["replicas"], 3);
  EXPECT_EQ((*d)["metadata"]["annotations"][kRevisionAnnotation], "2");
  EXPECT_EQ((*canary)["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.example/web:1");
  EXPECT_EQ((*canary)["spec"]["replicas"], 1);
  EXPECT_EQ((*canary)["metadata"]["annotations"][kRevisionAnnotation], "3");
  EXPECT_EQ((*canary)["spec"]["selector"]["matchLabels"][kTrackLabel], "canary");
  EXPECT_EQ((*canary)["spec"]["template"]["metadata"]["labels"][kTrackLabel], "canary");

  // In-cluster traffic spreads over both sets; each set also has a Service of its own.
  EXPECT_FALSE(find(*objects, "Service", "shop-web")->at("spec")["selector"].contains(kTrackLabel));
  EXPECT_EQ(find(*objects, "Service", "shop-web-stable")->at("spec")["selector"][kTrackLabel],
            "stable");
  EXPECT_EQ(find(*objects, "Service", "shop-web-canary")->at("spec")["selector"][kTrackLabel],
            "canary");

  // ingress-nginx: the main Ingress serves the stable set, a canary Ingress takes 10%.
  const json* ing = find(*objects, "Ingress", "shop-web-0");
  const json* ing_canary = find(*objects, "Ingress", "shop-web-0-canary");
  ASSERT_NE(ing, nullptr);
  ASSERT_NE(ing_canary, nullptr);
  auto backend = [](const json* i) {
    return (*i)["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"];
  };
  EXPECT_EQ(backend(ing), "shop-web-stable");
  EXPECT_EQ(backend(ing_canary), "shop-web-canary");
  EXPECT_FALSE((*ing)["metadata"]["annotations"].contains("nginx.ingress.kubernetes.io/canary"));
  EXPECT_EQ((*ing_canary)["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"], "true");
  EXPECT_EQ((*ing_canary)["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
            "10");
  EXPECT_EQ((*ing_canary)["spec"]["rules"][0]["host"], "shop.example.com");

  // Gateway API: one HTTPRoute with weighted backends.
  in.gateway_api = true;
  objects = renderApplication(in);
  ASSERT_TRUE(objects.ok());
  const json* route = find(*objects, "HTTPRoute", "shop-web-0");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ((*route)["spec"]["rules"][0]["backendRefs"],
            json::parse(R"([{"name":"shop-web-stable","port":8080,"weight":90},
                            {"name":"shop-web-canary","port":8080,"weight":10}])"));
}

// Blue-green: in-cluster traffic follows the set that has all the routed traffic.
TEST(KubeRenderTest, BlueGreenServiceFollowsTheSetWithTheTraffic) {
  RenderInput in = shop();
  json stable = in.spec["components"][0];
  stable["image"] = "registry.example/web:0";
  in.releases["web"] = {stable, 2, 3, 0, true};
  auto objects = renderApplication(in);
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(find(*objects, "Deployment", "shop-web-canary")->at("spec")["replicas"], 3);
  EXPECT_EQ(find(*objects, "Service", "shop-web")->at("spec")["selector"][kTrackLabel], "stable");
  in.releases["web"].weight = 100;
  objects = renderApplication(in);
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(find(*objects, "Service", "shop-web")->at("spec")["selector"][kTrackLabel], "canary");
}

// New Config or Secret data means new pods (they read it when they start), as on the embedded
// runtime; components that read none keep their template.
TEST(KubeRenderTest, ConfigDataChangesRollThePodsThatReadIt) {
  auto annotation = [](const RenderInput& in, const std::string& workload) {
    auto objects = renderApplication(in);
    EXPECT_TRUE(objects.ok());
    for (const auto& o : *objects)
      if (o["metadata"]["name"] == workload && o["kind"] != "Service")
        return o["spec"]["template"]["metadata"]
            .value("annotations", json::object())
            .value(kConfigDigestAnnotation, "");
    return std::string("no workload");
  };
  RenderInput in = shop();
  const std::string before = annotation(in, "shop-web");
  EXPECT_EQ(before.size(), 64u);
  EXPECT_EQ(annotation(in, "shop-web"), before) << "the digest is stable";
  in.data["config/settings"]["data"]["LOG"] = "debug";
  EXPECT_NE(annotation(in, "shop-web"), before);
  EXPECT_EQ(annotation(in, "shop-db"), "") << "db reads no Config";
}

TEST(KubeRenderTest, PausedDeploymentsHoldTheirRollout) {
  RenderInput in = shop();
  in.paused = true;
  auto objects = renderApplication(in);
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(find(*objects, "Deployment", "shop-web")->at("spec")["paused"], true);
}

TEST(KubeRenderTest, RefusesWhatKubernetesCannotExpress) {
  RenderInput in = shop();
  in.spec["components"][0].erase("image");
  in.spec["components"][0]["run"] = {{"command", "/bin/web"}};
  auto r = renderApplication(in);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalid);
  EXPECT_NE(r.status().message().find("spec.components[0].image"), std::string::npos);

  in = shop();
  in.spec["components"][0]["user"] = "www-data";
  r = renderApplication(in);
  EXPECT_NE(r.status().message().find("spec.components[0].user"), std::string::npos);

  in = shop();
  in.data.erase("secret/db");
  r = renderApplication(in);
  EXPECT_NE(r.status().message().find("spec.components[0].env[1].valueFrom"), std::string::npos);
  EXPECT_NE(r.status().message().find("secret \"db\" does not exist"), std::string::npos);
}

TEST(KubeRenderTest, TenantGetsNamespaceQuotaLimitsAndIsolation) {
  auto objects = renderTenant("skiff-acme", "acme", spec(R"(
quota: {cpu: 4, memory: 8Gi, instances: 20}
limits: {defaultRequest: {cpu: 100m}, max: {memory: 2Gi}}
networkIsolation: true
)"));
  const json* ns = find(objects, "Namespace", "skiff-acme");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ((*ns)["metadata"]["labels"]["skiff.dev/tenant"], "acme");
  const json* quota = find(objects, "ResourceQuota", "skiff-quota");
  ASSERT_NE(quota, nullptr);
  EXPECT_EQ((*quota)["spec"]["hard"]["requests.cpu"], "4000m");
  EXPECT_EQ((*quota)["spec"]["hard"]["pods"], "20");
  const json* limits = find(objects, "LimitRange", "skiff-limits");
  ASSERT_NE(limits, nullptr);
  EXPECT_EQ((*limits)["spec"]["limits"][0]["defaultRequest"]["cpu"], "100m");
  const json* policy = find(objects, "NetworkPolicy", "skiff-isolation");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ((*policy)["spec"]["ingress"][0]["from"][1]["namespaceSelector"]["matchExpressions"][0]
                     ["operator"],
            "DoesNotExist");

  auto open = renderTenant("skiff-acme", "acme", spec("networkIsolation: false"));
  EXPECT_EQ(find(open, "NetworkPolicy", "skiff-isolation"), nullptr);
  EXPECT_EQ(find(open, "ResourceQuota", "skiff-quota"), nullptr);
}

}  // namespace
}  // namespace skiff::kube
