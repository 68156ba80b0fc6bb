// End-to-end test of the kubernetes backend against a real control plane (kube_cluster.h):
// `skiff cluster add` from a kubeconfig, an application with spec.cluster deployed through
// the real skiff server, checked through the API server itself (objects, fields, labels, the
// tenant's quota and isolation policy, the Deployment rolled out onto kwok's nodes), status
// flowing back, a spec change rolling out and `rollout undo` rolling it back, deletion pruning
// everything, and clear conditions for an object the API server rejects and for a cluster
// whose credentials are refused.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "e2e/harness.h"
#include "e2e/kube_cluster.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/acme/applications";

json shop(const std::string& image, int replicas, const std::string& cluster = "test") {
  return {{"metadata", {{"name", "shop"}}},
          {"spec",
           {{"cluster", cluster},
            {"components",
             {{{"name", "web"},
               {"image", image},
               {"replicas", replicas},
               {"ports", {{{"name", "http"}, {"port", 8080}}}},
               {"env",
                {{{"name", "GREETING"},
                  {"valueFrom", {{"config", {{"name", "settings"}, {"key", "greeting"}}}}}}}},
               {"resources", {{"cpu", "100m"}, {"memory", "64Mi"}}},
               {"routes", {{{"host", "shop.example.com"}, {"port", "http"}}}}}}}}}};
}

json condition(const json& app, const std::string& type) {
  for (const auto& c : app.value("status", json::object()).value("conditions", json::array()))
    if (c.value("type", "") == type) return c;
  return json::object();
}

class KubeBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!KubeControlPlane::available())
      GTEST_SKIP() << "no Kubernetes control plane: run scripts/kube-control-plane build";
    cluster_ = std::make_unique<KubeControlPlane>(dir_.path());
    ASSERT_FALSE(cluster_->url().empty());
    server_dir_ = dir_.path() + "/skiff";
    std::filesystem::create_directories(server_dir_);
    server_ = std::make_unique<ServerProcess>(server_dir_);
    server_->start();
    url_ = server_->url();
  }

  json get(const std::string& path) {
    HttpResult r = httpRequest(url_, "GET", path);
    return r.status == 200 ? json::parse(r.body) : json();
  }
  json kube(const std::string& path) {
    auto r = cluster_->api("GET", path);
    return r.status == 200 ? json::parse(r.body) : json();
  }

  TempDir dir_;
  std::string server_dir_;
  std::unique_ptr<KubeControlPlane> cluster_;
  std::unique_ptr<ServerProcess> server_;  // destroyed before the cluster
  std::string url_;
};

TEST_F(KubeBackendTest, DeploysRollsOutRollsBackAndPrunesOnARealCluster) {
  // The cluster, from the control plane's kubeconfig.
  CommandResult added =
      runSkiff({"cluster", "add", "test", "--kubeconfig", cluster_->kubeconfig()}, url_);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ASSERT_TRUE(
      eventually([&] { return get("/api/v1/clusters/test")["status"].value("reachable", false); },
                 std::chrono::seconds(40)))
      << get("/api/v1/clusters/test").dump();
  EXPECT_EQ(get("/api/v1/clusters/test")["status"].value("version", "").rfind("v1.", 0), 0u);

  json tenant = {{"metadata", {{"name", "acme"}}},
                 {"spec", {{"quota", {{"cpu", 4}, {"memory", "8Gi"}, {"instances", 20}}}}}};
  ASSERT_EQ(httpRequest(url_, "POST", "/api/v1/tenants", tenant.dump()).status, 201);
  json settings = {{"metadata", {{"name", "settings"}}},
                   {"spec", {{"data", {{"greeting", "hi"}}}}}};
  ASSERT_EQ(httpRequest(url_, "POST", "/api/v1/tenants/acme/configs", settings.dump()).status, 201);
  ASSERT_EQ(httpRequest(url_, "POST", kApps, shop("registry.example/web:1", 2).dump()).status, 201);

  // The objects, as the API server has them.
  const std::string ns = "/namespaces/skiff-acme";
  json deployment;
  ASSERT_TRUE(eventually(
      [&] {
        deployment = kube("/apis/apps/v1" + ns + "/deployments/shop-web");
        return !deployment.is_null();
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"], "skiff");
  EXPECT_EQ(deployment["spec"]["replicas"], 2);
  const json container = deployment["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["image"], "registry.example/web:1");
  EXPECT_EQ(container["resources"]["limits"]["cpu"], "100m");
  EXPECT_EQ(container["env"][1]["valueFrom"]["configMapKeyRef"]["name"], "shop-config-settings");
  EXPECT_EQ(kube("/api/v1" + ns + "/configmaps/shop-config-settings")["data"]["greeting"], "hi");
  EXPECT_EQ(kube("/api/v1" + ns + "/services/shop-web")["spec"]["ports"][0]["port"], 8080);
  EXPECT_EQ(
      kube("/apis/networking.k8s.io/v1" + ns + "/ingresses/shop-web-0")["spec"]["rules"][0]["host"],
      "shop.example.com");
  // The tenant's namespace carries its quota and isolation.
  EXPECT_EQ(kube("/api/v1" + ns + "/resourcequotas/skiff-quota")["spec"]["hard"]["pods"], "20");
  EXPECT_FALSE(
      kube("/apis/networking.k8s.io/v1" + ns + "/networkpolicies/skiff-isolation").is_null());

  // Rolled out onto kwok's nodes, and the status flows back.
  ASSERT_TRUE(eventually(
      [&] { return condition(get(kApps + "/shop"), "Ready").value("status", "") == "True"; },
      std::chrono::seconds(60)))
      << get(kApps + "/shop")["status"].dump();
  json app = get(kApps + "/shop");
  EXPECT_EQ(app["status"]["components"]["web"]["ready"], 2);
  EXPECT_EQ(app["status"]["cluster"], "test");
  json pods = kube("/api/v1" + ns + "/pods?labelSelector=app.kubernetes.io%2Finstance%3Dshop");
  ASSERT_EQ(pods["items"].size(), 2u);
  EXPECT_FALSE(pods["items"][0]["spec"].value("nodeName", "").empty());

  // A spec change rolls out as a new ReplicaSet; rollout undo brings the first template back.
  ASSERT_EQ(httpRequest(url_, "PUT", kApps + "/shop",
                        [&] {
                          json update = shop("registry.example/web:2", 2);
                          update["metadata"]["resourceVersion"] =
                              app["metadata"]["resourceVersion"];
                          return update.dump();
                        }())
                .status,
            200);
  auto image_now = [&] {
    return kube("/apis/apps/v1" + ns +
                "/deployments/shop-web")["spec"]["template"]["spec"]["containers"][0]
        .value("image", "");
  };
  ASSERT_TRUE(eventually([&] { return image_now() == "registry.example/web:2"; },
                         std::chrono::seconds(30)));
  EXPECT_TRUE(eventually(
      [&] {
        return kube("/apis/apps/v1" + ns +
                    "/replicasets?labelSelector=app.kubernetes.io%2Finstance%3Dshop")["items"]
                   .size() == 2;
      },
      std::chrono::seconds(30)));
  CommandResult undo = runSkiff({"rollout", "undo", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_TRUE(eventually([&] { return image_now() == "registry.example/web:1"; },
                         std::chrono::seconds(30)));

  // `skiff render` prints what was applied.
  CommandResult rendered = runSkiff({"render", "shop", "-n", "acme"}, url_);
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  EXPECT_NE(rendered.out.find("kind: Deployment"), std::string::npos);
  EXPECT_NE(rendered.out.find("name: shop-web"), std::string::npos);

  // What the API server rejects becomes a condition naming its reason: a Service name is a
  // DNS label of at most 63 characters, and "<application>-<component>" here is 71.
  json long_names = shop("registry.example/web:1", 1);
  long_names["metadata"]["name"] = "a-rather-long-application-name";
  long_names["spec"]["components"][0]["name"] = std::string(40, 'c');
  long_names["spec"]["components"][0].erase("env");
  ASSERT_EQ(httpRequest(url_, "POST", kApps, long_names.dump()).status, 201);
  const std::string long_path = kApps + "/a-rather-long-application-name";
  ASSERT_TRUE(eventually(
      [&] { return condition(get(long_path), "Deployed").value("status", "") == "False"; },
      std::chrono::seconds(30)));
  json rejected = condition(get(long_path), "Deployed");
  EXPECT_EQ(rejected["reason"], "ApplyRejected") << rejected.dump();
  EXPECT_NE(rejected.value("message", "").find("63"), std::string::npos) << rejected.dump();
  ASSERT_EQ(httpRequest(url_, "DELETE", long_path).status, 200);

  // Deleting the application prunes everything it made, and nothing else.
  ASSERT_EQ(httpRequest(url_, "DELETE", kApps + "/shop").status, 200);
  // The ConfigMap is pruned last.
  EXPECT_TRUE(eventually(
      [&] { return kube("/api/v1" + ns + "/configmaps/shop-config-settings").is_null(); },
      std::chrono::seconds(30)));
  EXPECT_TRUE(kube("/apis/apps/v1" + ns + "/deployments/shop-web").is_null());
  EXPECT_TRUE(kube("/api/v1" + ns + "/services/shop-web").is_null());
  EXPECT_TRUE(kube("/apis/networking.k8s.io/v1" + ns + "/ingresses/shop-web-0").is_null());
  EXPECT_FALSE(kube("/api/v1" + ns + "/resourcequotas/skiff-quota").is_null());
}

TEST_F(KubeBackendTest, RefusedCredentialsAndUnknownClustersAreConditions) {
  // A token the API server does not know.
  json bad = {
      {"metadata", {{"name", "wrong"}}},
      {"spec",
       {{"server", cluster_->url()}, {"caData", cluster_->caPem()}, {"token", "not-a-token"}}}};
  ASSERT_EQ(httpRequest(url_, "POST", "/api/v1/clusters", bad.dump()).status, 201);
  ASSERT_TRUE(
      eventually([&] { return get("/api/v1/clusters/wrong")["status"].contains("lastError"); },
                 std::chrono::seconds(30)));
  json status = get("/api/v1/clusters/wrong")["status"];
  EXPECT_EQ(status["reachable"], false);
  EXPECT_NE(status.value("lastError", "").find("Unauthorized"), std::string::npos) << status.dump();

  ASSERT_EQ(
      httpRequest(url_, "POST", "/api/v1/tenants", json{{"metadata", {{"name", "acme"}}}}.dump())
          .status,
      201);
  json on_wrong = shop("registry.example/web:1", 1, "wrong");
  on_wrong["spec"]["components"][0].erase("env");
  ASSERT_EQ(httpRequest(url_, "POST", kApps, on_wrong.dump()).status, 201);
  ASSERT_TRUE(eventually(
      [&] { return condition(get(kApps + "/shop"), "Deployed").value("status", "") == "False"; },
      std::chrono::seconds(30)));
  json deployed = condition(get(kApps + "/shop"), "Deployed");
  EXPECT_EQ(deployed["reason"], "ClusterUnreachable") << deployed.dump();

  json nowhere = on_wrong;
  nowhere["metadata"]["name"] = "lost";
  nowhere["spec"]["cluster"] = "nowhere";
  ASSERT_EQ(httpRequest(url_, "POST", kApps, nowhere.dump()).status, 201);
  ASSERT_TRUE(eventually(
      [&] {
        return condition(get(kApps + "/lost"), "Deployed").value("reason", "") == "ClusterNotFound";
      },
      std::chrono::seconds(30)));
}

}  // namespace
}  // namespace skiff::test
