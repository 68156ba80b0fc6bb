// The control plane the Kubernetes backend is tested against is a real one: a Deployment
// created through the API server is rolled out by the real controllers (a ReplicaSet, then
// pods), the real scheduler binds the pods to kwok's nodes, kwok makes them Ready, and the
// Deployment's status says so.
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/kube_cluster.h"

namespace skiff::test {
namespace {

using nlohmann::json;

// The body of a successful GET, or null.
json get(const KubeControlPlane& cluster, const std::string& path) {
  auto response = cluster.api("GET", path);
  if (response.status != 200) return nullptr;
  return json::parse(response.body, nullptr, false);
}

TEST(KubeControlPlaneTest, RollsOutADeploymentOntoKwokNodes) {
  if (!KubeControlPlane::available()) {
    GTEST_SKIP() << "no Kubernetes binaries: run scripts/kube-control-plane build";
  }
  TempDir dir;
  KubeControlPlane cluster(dir.path());
  ASSERT_FALSE(cluster.url().empty());

  json openapi = get(cluster, "/openapi/v3");
  ASSERT_TRUE(openapi.is_object());
  EXPECT_TRUE(openapi["paths"].contains("apis/apps/v1"));

  auto created = cluster.api("POST", "/api/v1/namespaces",
                             R"({"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": "shop"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  created = cluster.api("POST", "/apis/apps/v1/namespaces/shop/deployments", R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
      "replicas": 2,
      "selector": {"matchLabels": {"app": "web"}},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}}}})");
  ASSERT_EQ(created.status, 201) << created.body;

  json deployment;
  bool rolled_out = eventually(
      [&] {
        deployment = get(cluster, "/apis/apps/v1/namespaces/shop/deployments/web");
        if (!deployment.is_object()) return false;
        const json& status = deployment["status"];
        return status.value("readyReplicas", 0) == 2 && status.value("availableReplicas", 0) == 2;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(rolled_out) << deployment.dump(2);

  json replica_sets =
      get(cluster, "/apis/apps/v1/namespaces/shop/replicasets?labelSelector=app%3Dweb");
  ASSERT_TRUE(replica_sets.is_object());
  ASSERT_EQ(replica_sets["items"].size(), 1u);
  EXPECT_EQ(replica_sets["items"][0]["metadata"]["ownerReferences"][0]["name"], "web");

  json pods = get(cluster, "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb");
  ASSERT_TRUE(pods.is_object());
  ASSERT_EQ(pods["items"].size(), 2u);
  for (const json& pod : pods["items"]) {
    std::string node = pod["spec"].value("nodeName", "");
    EXPECT_TRUE(node == "kwok-node-0" || node == "kwok-node-1") << node;
    EXPECT_EQ(pod["status"]["phase"], "Running");
  }
}

}  // namespace
}  // namespace skiff::test
